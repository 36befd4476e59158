"""ecomlake.dashboard.build: the static site, its data files and what they hold."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ecomlake import dashboard
from ecomlake.dashboard_api import QUERY_NAMES, jsonable, query_payload
from ecomlake.exceptions import InvalidArgumentError, LakeNotFoundError
from ecomlake.local import server as local_server
from tests.unit.dashboard.dashboard_fakes import (
    COLUMNS,
    DATES,
    LTV_BAND_CUSTOMERS,
    FakeAthena,
    daily_kpis,
    top_products,
    write_dq_reports,
    write_partitions,
)


def _build(lake: Path, runner: FakeAthena | None = None, **kwargs) -> Path:
    return dashboard.build(lake, runner=runner or FakeAthena(), **kwargs)


def _read(site: Path, name: str) -> dict:
    return json.loads((site / "data" / f"{name}.json").read_text(encoding="utf-8"))


def test_build_writes_static_files_and_one_json_per_query(lake: Path) -> None:
    site = _build(lake)

    assert site == lake / "_site"
    static = ("index.html", "js/core.js", "js/panels-sales.js", "js/panels-customers.js", "app.js", "styles.css")
    for name in (*static, "config.js", "vendor/chart-4.6.1.umd.min.js"):
        assert (site / name).read_bytes() == (dashboard.STATIC_DIR / name).read_bytes(), name
    written = sorted(p.name for p in (site / "data").glob("*.json"))
    assert written == sorted([*(f"{q}.json" for q in QUERY_NAMES), "dq_status.json", "manifest.json"])
    assert (site / "data" / "bundle.js").is_file()


def test_the_page_loads_every_script_of_the_dashboard_in_order() -> None:
    """A script added to dashboard/js/ but not to the page (or not copied by the build) fails here."""
    page = (dashboard.STATIC_DIR / "index.html").read_text(encoding="utf-8")
    loaded = re.findall(r'<script src="([^"]+)"></script>', page)
    assert loaded == [
        "config.js",
        "vendor/chart-4.6.1.umd.min.js",
        "js/core.js",
        "js/panels-sales.js",
        "js/panels-customers.js",
        "app.js",
    ]
    on_disk = sorted(p.relative_to(dashboard.STATIC_DIR).as_posix() for p in (dashboard.STATIC_DIR / "js").glob("*.js"))
    assert on_disk == sorted(s for s in loaded if s.startswith("js/"))
    assert set(loaded[2:]) <= set(dashboard.STATIC_FILES)


def test_the_page_charts_the_queries_the_api_allows() -> None:
    """The page's list of queries (js/core.js) is a copy of the API's allowlist: a query added to one
    and not the other would be built and never shown, or asked for and refused."""
    core = (dashboard.STATIC_DIR / "js" / "core.js").read_text(encoding="utf-8")
    listed = re.search(r"var QUERIES = \[(.*?)\];", core, re.S)
    assert listed is not None
    assert tuple(re.findall(r'"([a-z_]+)"', listed.group(1))) == QUERY_NAMES


def test_each_data_file_holds_the_query_result_as_records(lake: Path) -> None:
    site = _build(lake)

    kpis = _read(site, "daily_kpis")
    assert kpis["query"] == "daily_kpis"
    assert kpis["columns"] == COLUMNS["daily_kpis"]
    expected = daily_kpis()
    assert len(kpis["rows"]) == len(expected) == 30
    first = kpis["rows"][0]
    assert first["date"] == "2025-01-01"
    assert first["revenue"] == float(expected[0][1])  # decimals become JSON numbers
    assert first["orders"] == expected[0][2]

    products = _read(site, "top_products")
    assert [r["product_name"] for r in products["rows"][:2]] == [top_products()[0][3], top_products()[1][3]]
    recs = _read(site, "product_recommendations")
    assert {r["kind"] for r in recs["rows"]} == {"bought_together", "viewed_not_bought"}
    assert recs["rows"][-1]["related_product_id"] is None  # nulls survive


def test_queries_cover_the_latest_window_and_the_page_settings(lake: Path) -> None:
    runner = FakeAthena()

    site = _build(lake, runner)

    given = {name: _read(site, name)["params"] for name in QUERY_NAMES}
    window = {"start_date": "2025-01-01", "end_date": "2025-01-30"}
    assert given["top_products"] == {**window, "top_n": 10, "category": None}
    assert given["revenue_trends"] == {**window, "grain": "day"}
    assert given["revenue_by_category"] == {**window, "grain": "day", "category": None}
    assert given["conversion_funnel"] == {**window, "by": "day"}
    # The KPIs reach one window further back so the tiles can compare periods.
    assert given["daily_kpis"] == {"start_date": "2024-12-02", "end_date": "2025-01-30"}
    assert given["customer_ltv"] == {"top_n": 100}
    # Distributions over every customer, binned in SQL: no date range, no top-N cut.
    assert given["ltv_distribution"] == {"band_width": None, "bands": 10}
    assert given["customer_segments"] == {"min_orders": 0}
    assert "date '2025-01-01'" in runner.sql_of("top_products")
    assert "date '" not in runner.sql_of("ltv_distribution")

    manifest = json.loads((site / "data" / "manifest.json").read_text())
    assert manifest["date_range"] == {"start": "2025-01-01", "end": "2025-01-30"}
    assert manifest["lake_dates"] == {"first": "2025-01-01", "last": "2025-01-30", "count": 30}


def test_window_is_the_latest_days_with_data() -> None:
    assert dashboard.dashboard_window("2024-01-01", "2024-12-15", 90) == ("2024-09-17", "2024-12-15")
    assert dashboard.dashboard_window("2025-01-01", "2025-01-03", 90) == ("2025-01-01", "2025-01-03")
    assert dashboard.dashboard_window(None, None, 90) is None


def test_plan_params_only_sets_what_a_query_declares() -> None:
    declared = {"a": ["start_date", "end_date", "grain"], "revenue_trends": ["start_date"], "b": []}

    plan = dashboard.plan_params(["a", "revenue_trends", "b"], ("2025-01-01", "2025-01-10"), declared.__getitem__)

    assert plan == {"a": {"start_date": "2025-01-01", "end_date": "2025-01-10"}, "revenue_trends": {}, "b": {}}


def test_explicit_params_override_the_plan(lake: Path) -> None:
    runner = FakeAthena()

    site = _build(lake, runner, params={"top_products": {"top_n": "3", "start_date": "2025-01-20"}})

    assert _read(site, "top_products")["params"] == {
        "start_date": "2025-01-20",
        "end_date": "2025-01-30",
        "top_n": 3,
        "category": None,
    }
    assert "date '2025-01-20'" in runner.sql_of("top_products")


def test_build_is_deterministic_apart_from_the_manifest_timestamp(lake: Path, tmp_path: Path) -> None:
    write_partitions(lake)
    first = _build(lake, out_dir=tmp_path / "a", now=lambda: datetime(2025, 2, 1, 8, 0, tzinfo=UTC))
    second = _build(lake, out_dir=tmp_path / "b", now=lambda: datetime(2025, 2, 2, 9, 30, tzinfo=UTC))

    data_a = {p.name: p.read_bytes() for p in (first / "data").iterdir() if p.is_file()}
    data_b = {p.name: p.read_bytes() for p in (second / "data").iterdir() if p.is_file()}
    assert data_a.keys() == data_b.keys()
    for name in data_a:
        if name != "manifest.json":
            assert data_a[name] == data_b[name], name
    manifest_a = json.loads(data_a["manifest.json"])
    manifest_b = json.loads(data_b["manifest.json"])
    assert manifest_a["generated_at"] == "2025-02-01T08:00:00+00:00"
    assert manifest_b["generated_at"] == "2025-02-02T09:30:00+00:00"
    assert {k: v for k, v in manifest_a.items() if k != "generated_at"} == {
        k: v for k, v in manifest_b.items() if k != "generated_at"
    }
    assert manifest_a["source"] == {"kind": "local", "generator": "ecomlake dashboard", "lake": str(lake.resolve())}
    assert "generated_at" not in data_a["bundle.js"].decode()
    assert str(lake.resolve()) not in data_a["bundle.js"].decode()  # where it came from is the manifest's alone


def test_manifest_lists_every_file_with_its_rows_and_hash(lake: Path) -> None:
    import hashlib

    site = _build(lake)
    manifest = json.loads((site / "data" / "manifest.json").read_text())

    assert set(manifest["queries"]) == {*QUERY_NAMES, "dq_status"}
    for _name, info in manifest["queries"].items():
        raw = (site / info["file"]).read_bytes()
        assert info["sha256"] == hashlib.sha256(raw).hexdigest()
        assert info["rows"] == len(json.loads(raw)["rows"])
    assert manifest["queries"]["conversion_funnel"]["rows"] == 30 * 4 * 5


def test_bundle_holds_the_same_datasets_as_the_json_files(lake: Path) -> None:
    site = _build(lake)
    text = (site / "data" / "bundle.js").read_text(encoding="utf-8")
    prefix = "window.ECOMLAKE_DATA = "
    body = text[text.index(prefix) + len(prefix) :].rstrip().rstrip(";")
    bundle = json.loads(body)

    for name in (*QUERY_NAMES, "dq_status"):
        assert bundle["datasets"][name] == _read(site, name), name
    assert bundle["manifest"]["date_range"] == json.loads((site / "data" / "manifest.json").read_text())["date_range"]


def test_rebuild_removes_files_of_queries_no_longer_built(lake: Path) -> None:
    site = _build(lake)
    assert (site / "data" / "return_rates.json").is_file()

    _build(lake, queries=[q for q in QUERY_NAMES if q != "return_rates"])

    assert not (site / "data" / "return_rates.json").exists()
    assert (site / "data" / "daily_kpis.json").is_file()


def test_empty_results_are_written_as_empty_datasets(lake: Path) -> None:
    site = _build(lake, FakeAthena(empty=frozenset({"top_products"})))

    products = _read(site, "top_products")
    assert products["rows"] == []
    assert products["columns"] == COLUMNS["top_products"]


def test_dq_status_summarises_reports_and_copies_them(lake: Path) -> None:
    write_dq_reports(lake)

    site = _build(lake)

    rows = _read(site, "dq_status")["rows"]
    assert [(r["date"], r["passed"], r["checks_failed"], r["critical_failures"]) for r in rows] == [
        (DATES[-2].isoformat(), True, 0, 0),
        (DATES[-1].isoformat(), False, 2, 1),
    ]
    link = rows[1]["report"]
    assert link == f"data/dq/date={DATES[-1].isoformat()}.html"
    assert "DQ report" in (site / link).read_text()


def test_dq_reports_outside_the_window_are_left_out(lake: Path) -> None:
    """A lake keeps every date's report; the page shows the window's, so only those are read and copied."""
    write_dq_reports(lake)
    old = lake / "_reports" / "dq"
    (old / "date=2020-01-01.json").write_text(json.dumps({"date": "2020-01-01", "passed": False}), encoding="utf-8")
    (old / "date=2020-01-01.html").write_text("<!doctype html><title>old</title>", encoding="utf-8")
    # A window of one day: the earlier of the two recent reports is outside it too.
    site = _build(lake, window_days=1)

    rows = _read(site, "dq_status")["rows"]
    assert [r["date"] for r in rows] == [DATES[-1].isoformat()]
    assert sorted(p.name for p in (site / "data" / "dq").iterdir()) == [f"date={DATES[-1].isoformat()}.html"]


def test_unreadable_dq_report_is_flagged_not_fatal(lake: Path) -> None:
    reports = lake / "_reports" / "dq"
    reports.mkdir(parents=True)
    (reports / "date=2025-01-05.json").write_text("{not json")

    rows = _read(_build(lake), "dq_status")["rows"]

    assert rows == [
        {
            "date": "2025-01-05",
            "passed": None,
            "checks_failed": None,
            "critical_failures": None,
            "report": None,
            "error": "report is not valid JSON",
        }
    ]


def test_missing_lake_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LakeNotFoundError, match="no lake at"):
        dashboard.build(tmp_path / "nope", runner=FakeAthena())


def test_fake_columns_match_the_real_sql_outputs(lake: Path) -> None:
    """The fakes the page is tested with have exactly the columns sql/*.sql returns."""
    from ecomlake.queries import run_query

    for name in QUERY_NAMES:
        assert run_query(name, lake).columns == COLUMNS[name], name


def test_the_histogram_data_counts_every_customer(lake: Path) -> None:
    bands = _read(_build(lake), "ltv_distribution")["rows"]
    assert [b["customers"] for b in bands] == list(LTV_BAND_CUSTOMERS)
    assert sum(b["customers"] for b in bands) == bands[0]["customers_total"] == 6400
    assert bands[-1]["band_end"] is None


def test_real_queries_on_an_empty_lake_build_an_empty_dashboard(lake: Path) -> None:
    site = dashboard.build(lake)

    for name in QUERY_NAMES:
        payload = _read(site, name)
        assert payload["columns"] == COLUMNS[name]
        # Segments list all eight with zero customers; everything else is empty.
        if name == "customer_segments":
            assert [r["customers"] for r in payload["rows"]] == [0] * 8
        else:
            assert payload["rows"] == [], name


# --------------------------------------------------------------------------- JSON helpers


def test_jsonable_converts_engine_values() -> None:
    import numpy as np
    import pandas as pd

    assert jsonable(Decimal("12.30")) == 12.3
    assert jsonable(date(2025, 1, 2)) == "2025-01-02"
    assert jsonable(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05"
    assert jsonable(float("nan")) is None
    assert jsonable(np.int64(7)) == 7
    assert type(jsonable(np.int64(7))) is int
    assert jsonable(np.float64(1.5)) == 1.5
    assert jsonable(pd.NA) is None
    assert jsonable(pd.Timestamp("2025-01-02")) == "2025-01-02T00:00:00"
    assert jsonable(True) is True


def test_query_payload_pairs_columns_with_values() -> None:
    payload = query_payload(
        "q", ["a", "b"], [(1, Decimal("2.50")), (None, date(2025, 1, 1))], params={"z": date(2025, 1, 1)}
    )

    assert payload == {
        "query": "q",
        "columns": ["a", "b"],
        "rows": [{"a": 1, "b": 2.5}, {"a": None, "b": "2025-01-01"}],
        "params": {"z": "2025-01-01"},
    }


# --------------------------------------------------------------------------- serve


@pytest.fixture
def served(lake: Path):
    site = _build(lake)
    server = local_server.make_server(site, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield local_server.server_url(server)
    server.shutdown()
    server.server_close()


def test_server_binds_loopback_and_serves_the_site(served: str) -> None:
    assert served.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(served + "index.html", timeout=5) as res:
        assert res.status == 200
        assert "default-src 'self'" in res.headers["Content-Security-Policy"]
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert b"<canvas" in res.read()
    with urllib.request.urlopen(served + "data/daily_kpis.json", timeout=5) as res:
        assert len(json.loads(res.read())["rows"]) == 30


def test_server_does_not_serve_outside_the_site(served: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(served + "../../etc/passwd", timeout=5)
    assert err.value.code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_server_refuses_non_loopback_hosts(lake: Path, host: str) -> None:
    site = _build(lake)
    with pytest.raises(InvalidArgumentError, match="loopback"):
        local_server.make_server(site, port=0, host=host)


def test_server_needs_a_built_site(tmp_path: Path) -> None:
    with pytest.raises(LakeNotFoundError, match="ecomlake dashboard"):
        local_server.make_server(tmp_path, port=0)


# --------------------------------------------------------------------------- cloud refresh


def test_cloud_data_files_run_the_window_on_athena(lake: Path) -> None:
    from ecomlake.storage import LocalStorage

    write_dq_reports(lake)
    athena = FakeAthena()

    files = dashboard.cloud_data_files(athena, reports=LocalStorage(lake), now=lambda: datetime(2025, 2, 1, tzinfo=UTC))

    last = f"data/dq/date={DATES[-1].isoformat()}.html"
    assert sorted(files) == sorted(
        [
            *(f"data/{q}.json" for q in QUERY_NAMES),
            "data/dq_status.json",
            "data/bundle.js",
            "data/manifest.json",
            f"data/dq/date={DATES[-2].isoformat()}.html",
            last,
        ]
    )
    assert athena.sqls[0] == dashboard.LAKE_DATES_SQL
    assert len(athena.query_sqls) == len(QUERY_NAMES)
    kpis = json.loads(files["data/daily_kpis.json"])
    assert kpis["params"] == {"start_date": "2024-12-02", "end_date": "2025-01-30"}
    assert len(kpis["rows"]) == 30
    trends = json.loads(files["data/revenue_trends.json"])
    assert trends["params"] == {"start_date": "2025-01-01", "end_date": "2025-01-30", "grain": "day"}
    assert "date '2025-01-01'" in athena.sql_of("top_products")
    dq = json.loads(files["data/dq_status.json"])["rows"]
    assert [(r["date"], r["passed"], r["critical_failures"], r["report"]) for r in dq] == [
        (DATES[-2].isoformat(), True, 0, f"data/dq/date={DATES[-2].isoformat()}.html"),
        (DATES[-1].isoformat(), False, 1, last),
    ]
    assert "DQ report" in files[last]
    manifest = json.loads(files["data/manifest.json"])
    assert manifest["source"] == {"kind": "athena", "generator": "ecomlake dashboard refresh"}
    assert manifest["date_range"] == {"start": "2025-01-01", "end": "2025-01-30"}
    assert manifest["generated_at"] == "2025-02-01T00:00:00+00:00"
    assert "generated_at" not in files["data/bundle.js"]


def test_cloud_data_files_on_an_empty_catalog_leave_dates_to_the_query_defaults() -> None:
    calls: list[str] = []

    def athena(sql: str):
        calls.append(sql)
        if sql.startswith("select"):
            return ["a", "b", "c"], [(None, None, 0)]
        return ["x"], []

    files = dashboard.cloud_data_files(athena, now=lambda: datetime(2025, 2, 1, tzinfo=UTC))

    manifest = json.loads(files["data/manifest.json"])
    assert manifest["date_range"] == {"start": None, "end": None}
    assert manifest["lake_dates"] == {"first": None, "last": None, "count": 0}
    assert json.loads(files["data/top_products.json"])["rows"] == []
    assert json.loads(files["data/dq_status.json"])["rows"] == []
    # Defaults were resolved on "Athena" (latest partition) since the plan gave no dates.
    assert 'select max("date") from fact_sales' in calls


def test_the_lake_dates_query_is_athena_sql_over_both_daily_tables() -> None:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(dashboard.LAKE_DATES_SQL, read="athena")
    assert sorted(t.name for t in tree.find_all(exp.Table)) == ["daily_kpis", "fact_sales"]
    assert isinstance(tree.find(exp.Union), exp.Union)
