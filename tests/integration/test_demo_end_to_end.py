"""The whole local pipeline, as `ecomlake demo` runs it: generate -> ingest -> run -> queries -> dashboard.

Asserts the project's invariants on real generated data rather than on hand-made rows:
every raw row ends in exactly one of processed or quarantine, the quarantine holds exactly
the faults the generator injected, re-running gives the same rows, raw is untouched.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from ecomlake.cli import run
from ecomlake.contract import DATASETS, PARALLEL_ETL_JOBS, Table, Zone
from ecomlake.local.demo import GENERATED_DIR, DemoConfig, run_demo
from ecomlake.queries import list_queries

pytestmark = pytest.mark.integration

CONFIG = DemoConfig(days=3, transactions=3_000, products=80, clickstream=4_000, reviews=150, seed=11, bad_rate=0.03)


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _published_files(lake: Path, zone: str, table: str) -> list[Path]:
    """The files of a table's published versions, read from the snapshot document itself."""
    document = json.loads((lake / "_catalog" / "current.json").read_text())
    unit = f"{zone}/{table}"
    if unit in document["whole"]:
        folders = [lake / unit / f"run={document['whole'][unit]}"]
    else:
        folders = [lake / unit / f"date={d}" / f"run={r}" for d, r in document["partitions"].get(unit, {}).items()]
    return sorted(f for folder in folders for f in folder.glob("*.parquet"))


def _table_fingerprint(lake: Path, zone: str, table: str) -> tuple[int, str]:
    """Row count and an order-independent hash of a table's published rows (file names and order ignored)."""
    files = _published_files(lake, zone, table)
    assert files, f"{zone}/{table} has no parquet files"
    con = duckdb.connect()
    rows = con.execute(
        "select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
        "from (select * exclude (run) from read_parquet(?, hive_partitioning=true)) t",
        [[str(f) for f in files]],
    ).fetchone()
    return int(rows[0]), str(rows[1])


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory):
    lake = tmp_path_factory.mktemp("demo") / "lake"
    result = run_demo(lake, CONFIG)
    return lake, result


def _summaries(lake: Path) -> list[dict]:
    """Every published ETL summary: the snapshot names the run that computed each dataset and date."""
    document = json.loads((lake / "_catalog" / "current.json").read_text())
    out = []
    for dataset, days in document["computed"].items():
        for day, run_id in days.items():
            for job in PARALLEL_ETL_JOBS:
                path = lake / "_runs" / run_id / "outputs" / f"{job}.json"
                if path.is_file():
                    out += [
                        s
                        for s in json.loads(path.read_text())["summaries"]
                        if (s["dataset_or_table"], s["date"]) == (dataset, day)
                    ]
    return out


def test_demo_succeeds_and_every_query_answers(demo_lake) -> None:
    _lake, result = demo_lake
    assert result.run["status"] == "SUCCEEDED"
    assert result.files_rejected == 0
    assert set(result.queries) == {q.name for q in list_queries()}
    empty = [name for name, rows in result.queries.items() if rows == 0]
    assert not empty, f"queries with no rows on demo data: {empty}"
    assert (result.site / "index.html").is_file()
    assert json.loads((result.site / "data" / "daily_kpis.json").read_text())["rows"]


def test_every_row_in_is_counted_out_and_quarantine_matches_the_injected_faults(demo_lake) -> None:
    lake, result = demo_lake
    manifest = result.manifest
    summaries = _summaries(lake)
    by_dataset: dict[str, dict[str, int]] = {}
    for s in summaries:
        assert s["rows_in"] == s["rows_out"] + s["rows_quarantined"], s
        counts = by_dataset.setdefault(s["dataset_or_table"], {"rows_in": 0})
        counts["rows_in"] += s["rows_in"]
        for reason, n in s["quarantined_by_reason"].items():
            counts[reason] = counts.get(reason, 0) + n

    for dataset in DATASETS:
        got = by_dataset[str(dataset)]
        assert got["rows_in"] == manifest["counts"][dataset], dataset
        faults = {k: v for k, v in got.items() if k != "rows_in" and v}
        assert faults == manifest["faults"].get(dataset, {}), dataset


def test_processed_rows_match_the_valid_rows_generated(demo_lake) -> None:
    lake, result = demo_lake
    valid = result.manifest["valid_counts"]
    for dataset in DATASETS:
        count, _ = _table_fingerprint(lake, Zone.PROCESSED, dataset)
        assert count == valid[dataset], dataset


def test_rerunning_the_demo_gives_the_same_rows_and_leaves_raw_untouched(demo_lake) -> None:
    lake, _ = demo_lake
    tables = [(Zone.PROCESSED, t) for t in DATASETS] + [
        (Zone.CURATED, t) for t in (Table.FACT_SALES, Table.DIM_PRODUCTS, Table.DIM_CUSTOMERS, Table.DAILY_KPIS)
    ]
    before = {t: _table_fingerprint(lake, z, t) for z, t in tables}
    raw_before = _tree_digest(lake / Zone.RAW)

    again = run_demo(lake, CONFIG)

    assert again.run["status"] == "SUCCEEDED"
    assert {t: _table_fingerprint(lake, z, t) for z, t in tables} == before
    assert _tree_digest(lake / Zone.RAW) == raw_before
    # Source files the generator wrote are byte-identical too (same seed).
    assert (lake / GENERATED_DIR / "manifest.json").is_file()


def test_run_summaries_exist_for_every_dataset_and_date(demo_lake) -> None:
    lake, result = demo_lake
    dates = result.run["dates"]
    got = {(s["dataset_or_table"], s["date"]) for s in _summaries(lake)}
    assert got == {(str(d), day) for d in DATASETS for day in dates}


def test_demo_command_rejects_bad_options_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = run(["demo", "--lake", str(tmp_path / "lake"), "--transactions", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["error: --transactions must be a positive integer, got 0"]
    assert not (tmp_path / "lake").exists()
