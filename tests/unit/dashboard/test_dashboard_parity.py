"""The cloud refresh and the local build write the same dashboard data from the same tables.

One lake, built by the real pipeline. Locally: ``ecomlake.dashboard.build``. In the cloud:
the ``dashboard_refresh`` handler's ``refresh`` with the real ``athena_runner`` (Athena played
by DuckDB over the same tables, its answer coming back through awswrangler's own CSV typing),
the lake's reports uploaded to a moto reports bucket and the files written to a moto site
bucket. Every file must be byte-identical; ``manifest.json`` may differ only in where the
data came from and when.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import duckdb
import pytest
from moto import mock_aws

from ecomlake import dashboard
from ecomlake.contract import EnvVar
from ecomlake.dashboard_api import athena_runner
from tests.unit.dashboard.athena_standin import read_sql_query_on

SITE_BUCKET = "ecomlake-dev-dashboard"
REPORTS_BUCKET = "ecomlake-dev-reports"
DAYS = 4


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ecomlake.local.demo import DemoConfig, run_demo

    lake = tmp_path_factory.mktemp("parity") / "lake"
    config = DemoConfig(days=DAYS, transactions=2000, products=60, clickstream=2000, reviews=120, bad_rate=0.02)
    run_demo(lake, config)
    return lake


def _data_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in (site / "data").rglob("*") if p.is_file()}


@pytest.fixture
def cloud_files(real_lake: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    import awswrangler as wr

    from handlers.dashboard_refresh import refresh

    monkeypatch.setenv(EnvVar.REPORTS_BUCKET, REPORTS_BUCKET)
    monkeypatch.setattr(wr.athena, "read_sql_query", read_sql_query_on(real_lake))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=SITE_BUCKET)
        s3.create_bucket(Bucket=REPORTS_BUCKET)
        # The reports bucket holds what the pipeline wrote under _reports/, at the same keys.
        for path in (real_lake / "_reports").rglob("*"):
            if path.is_file():
                s3.put_object(Bucket=REPORTS_BUCKET, Key=path.relative_to(real_lake).as_posix(), Body=path.read_bytes())
        refresh(athena_runner(database="ecomlake_dev", workgroup="ecomlake-dev"), s3.put_object, SITE_BUCKET)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=SITE_BUCKET)["Contents"]]
        return {key: s3.get_object(Bucket=SITE_BUCKET, Key=key)["Body"].read() for key in keys}


def test_cloud_refresh_writes_the_local_builds_files(real_lake: Path, cloud_files: dict[str, bytes], tmp_path: Path):
    local = _data_files(dashboard.build(real_lake, tmp_path / "site"))

    assert sorted(cloud_files) == sorted(local)
    for key in sorted(local):
        if key != "data/manifest.json":
            assert cloud_files[key] == local[key], key
    local_manifest = json.loads(local["data/manifest.json"])
    cloud_manifest = json.loads(cloud_files["data/manifest.json"])
    assert local_manifest["source"]["kind"] == "local"
    assert cloud_manifest["source"] == {"kind": "athena", "generator": "ecomlake dashboard refresh"}
    for manifest in (local_manifest, cloud_manifest):
        del manifest["source"], manifest["generated_at"]
    assert cloud_manifest == local_manifest


def test_the_cloud_data_quality_panel_is_full(real_lake: Path, cloud_files: dict[str, bytes]):
    rows = json.loads(cloud_files["data/dq_status.json"])["rows"]
    reports = sorted(p.name for p in (real_lake / "_reports" / "dq").glob("date=*.json"))
    assert len(reports) == DAYS
    assert [f"date={r['date']}.json" for r in rows] == reports
    for row in rows:
        assert row["passed"] is not None
        assert row["checks_failed"] is not None
        html = cloud_files[row["report"]].decode()
        assert html == (real_lake / "_reports" / "dq" / f"date={row['date']}.html").read_text()


def test_the_histogram_counts_every_customer_in_both(real_lake: Path, cloud_files: dict[str, bytes]):
    bands = json.loads(cloud_files["data/ltv_distribution.json"])["rows"]
    con = duckdb.connect()
    customers = con.execute(
        f"select count(*) from read_parquet('{(real_lake / 'curated' / 'dim_customers').as_posix()}/**/*.parquet')"
    ).fetchone()[0]
    assert customers > 100
    assert sum(b["customers"] for b in bands) == customers


def test_lake_dates_read_both_daily_tables(real_lake: Path):
    with dashboard.local_runner(real_lake) as run:
        dates = dashboard.lake_dates(run)
    assert dates == dashboard.LakeDates("2025-01-01", f"2025-01-{DAYS:02d}", DAYS)
