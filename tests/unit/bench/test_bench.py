"""Bench report shape, target evaluation (pure) and the floor copy on a tiny generated lake."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ecomlake.generate import generate
from ecomlake.ingest import land_tree
from ecomlake.local.bench import (
    DAILY,
    DASHBOARD,
    DQ,
    ETL,
    FLOOR,
    GENERATE,
    INGEST,
    QUERY,
    READ,
    RENDER,
    RUN,
    STARTUP,
    BenchReport,
    StageResult,
    evaluate_targets,
    scaled_sizes,
)
from ecomlake.local.floors import floor_copy, floor_copy_all, floor_scan

MACHINE = {"cpus": 2, "cpu_model": "test", "memory_gib": 1.0}


def _report(transactions: int, stages: list[StageResult], engine: str = "both") -> BenchReport:
    return BenchReport(transactions, engine, MACHINE, stages)


def _seed_stages(query_seconds: float = 0.05, etl_seconds: float = 10.0) -> list[StageResult]:
    return [
        StageResult("generate", 150_000, 100.0, 100.0, GENERATE),  # not part of the demo pipeline target
        StageResult("ingest (copy + validate)", 150_000, 2.0, 100.0, INGEST),
        StageResult("floor", 100_000, 50.0, 100.0, FLOOR, "duckdb"),  # comparison only
        StageResult("etl: transaction_etl", 100_000, etl_seconds, 300.0, ETL, "duckdb"),
        StageResult("etl: transaction_etl", 100_000, 500.0, 300.0, ETL, "spark", 1500.0),  # comparison only
        StageResult("data quality (30 dates)", 30, 5.0, 300.0, DQ),
        StageResult("query: top_products", 90, query_seconds, 300.0, QUERY),
        StageResult("query: daily_kpis", 30, 0.03, 300.0, QUERY),
        StageResult("dashboard build", 1, 1.0, 300.0, DASHBOARD),
    ]


def test_report_json_shape() -> None:
    report = _report(100_000, _seed_stages())
    payload = json.loads(json.dumps(report.to_dict()))
    assert set(payload) == {"transactions", "days", "engine", "machine", "total_seconds", "stages", "targets"}
    assert payload["total_seconds"] == pytest.approx(668.08)
    etl = payload["stages"][3]
    assert etl == {
        "stage": "etl: transaction_etl",
        "rows": 100_000,
        "seconds": 10.0,
        "peak_rss_mb": 300.0,
        "kind": ETL,
        "engine": "duckdb",
        "child_peak_rss_mb": None,
        "part_of": None,
        "cost": None,
        "rows_per_second": 10_000,
    }
    # A query's figure is its time: no rows/s.
    assert payload["stages"][6]["rows_per_second"] is None
    assert {t["verdict"] for t in payload["targets"]} == {"PASS"}


def test_seed_targets_count_only_the_pipeline_stages() -> None:
    targets = {t.name: t for t in evaluate_targets(_report(100_000, _seed_stages()))}
    assert set(targets) == {"demo pipeline part (seed scale)", "query top_products", "query daily_kpis"}
    # ingest 2 + duckdb ETL 10 + DQ 5 + queries 0.08 + dashboard 1: generate, floor and Spark excluded.
    assert targets["demo pipeline part (seed scale)"].measured == "18.1 s"
    assert targets["query top_products"].measured == "50 ms"


def test_seed_targets_miss() -> None:
    targets = {t.name: t for t in evaluate_targets(_report(100_000, _seed_stages(0.25, 85.0)))}
    assert targets["demo pipeline part (seed scale)"].verdict == "MISS"
    assert targets["query top_products"].verdict == "MISS"
    assert targets["query daily_kpis"].verdict == "PASS"


def test_ten_million_targets() -> None:
    stages = [
        StageResult("generate", 10_000_000, 30.0, 2000.0, GENERATE),
        StageResult("ingest (copy + validate)", 15_000_000, 25.0, 400.0, INGEST),
        StageResult("run --all", 15_000_000, 60.0, 6000.0, RUN, "duckdb"),
        # A step of the run: already in the run's 60 s and peak, never added again.
        StageResult("etl: transaction_etl", 10_000_000, 30.0, 9000.0, ETL, "duckdb", part_of="run --all"),
        StageResult("etl: transaction_etl", 10_000_000, 900.0, 500.0, ETL, "spark", 20000.0),
        StageResult("query: top_products", 90, 0.5, 1000.0, QUERY),  # not part of end to end
    ]
    targets = {t.name: t for t in evaluate_targets(_report(10_000_000, stages))}
    assert {n for n in targets if "10M" in n} == {
        "end to end (10M transactions)",
        "peak memory (10M transactions)",
        "ingest rate (10M transactions)",  # named for the scale that ran, not the 1M it is stated at
    }
    assert targets["ingest rate (10M transactions)"].measured == "600,000 rows/s"
    assert targets["end to end (10M transactions)"].measured == "115 s"
    assert targets["end to end (10M transactions)"].target == "< 120 s"
    assert targets["end to end (10M transactions)"].passed
    assert targets["peak memory (10M transactions)"].measured == "5.86 GiB"
    assert targets["peak memory (10M transactions)"].target == "< 6 GiB"
    assert targets["peak memory (10M transactions)"].passed
    slower = [*stages[:2], StageResult("run --all", 15_000_000, 66.0, 6200.0, RUN, "duckdb")]
    missed = {t.name: t for t in evaluate_targets(_report(10_000_000, slower))}
    assert missed["end to end (10M transactions)"].measured == "121 s"
    assert not missed["end to end (10M transactions)"].passed
    assert not missed["peak memory (10M transactions)"].passed


def test_steps_of_a_run_count_once_in_the_total_and_the_demo_target() -> None:
    stages = [
        StageResult("ingest (copy + validate)", 150_000, 2.0, 100.0, INGEST),
        StageResult("run --all", 150_000, 10.0, 300.0, RUN, "duckdb"),
        StageResult("etl: transaction_etl", 100_000, 4.0, 300.0, ETL, "duckdb", part_of="run --all"),
        StageResult("dashboard build", 1, 1.0, 300.0, DASHBOARD, "duckdb", part_of="run --all"),
        StageResult("query: top_products", 90, 0.1, 300.0, QUERY),
    ]
    report = _report(100_000, stages)
    assert report.total_seconds == pytest.approx(12.1)
    targets = {t.name: t for t in evaluate_targets(report)}
    assert targets["demo pipeline part (seed scale)"].measured == "12.1 s"


def test_rendering_the_rules_counts_in_the_pipeline_and_end_to_end_figures() -> None:
    # A user's first process renders the rules (or reads them from the SQL cache): its time
    # is part of what the demo and the end-to-end targets add up; the JVM's start is not.
    small = [
        StageResult("render the SQL (kept per code version)", 0, 0.7, 200.0, RENDER),
        StageResult("ingest (copy + validate)", 150_000, 2.0, 100.0, INGEST),
        StageResult("run --all", 150_000, 10.0, 300.0, RUN, "duckdb"),
    ]
    targets = {t.name: t for t in evaluate_targets(_report(100_000, small))}
    assert targets["demo pipeline part (seed scale)"].measured == "12.7 s"
    big = [
        StageResult("generate", 10_000_000, 30.0, 2000.0, GENERATE),
        StageResult("render the SQL (kept per code version)", 0, 0.9, 200.0, RENDER),
        StageResult("spark session start (JVM)", 0, 5.0, 200.0, STARTUP, "spark"),
        StageResult("ingest (copy + validate)", 15_000_000, 25.0, 400.0, INGEST),
        StageResult("run --all", 15_000_000, 63.5, 6000.0, RUN, "duckdb"),
    ]
    targets = {t.name: t for t in evaluate_targets(_report(10_000_000, big))}
    assert targets["end to end (10M transactions)"].measured == "119 s"
    assert targets["end to end (10M transactions)"].detail == "generate + SQL + ingest + run --all"


def test_a_size_is_called_seed_scale_or_10m_only_when_it_is() -> None:
    small = {t.name for t in evaluate_targets(_report(2_000, _seed_stages()))}
    assert "demo pipeline part (2,000 transactions)" in small
    big = {t.name for t in evaluate_targets(_report(20_000_000, [StageResult("generate", 1, 1.0, 10.0, GENERATE)]))}
    assert big == {"end to end (20,000,000 transactions)", "peak memory (20,000,000 transactions)"}


def test_no_target_between_the_scales() -> None:
    assert evaluate_targets(_report(500_000, _seed_stages())) == []


def test_ratio_targets_at_one_million_transactions() -> None:
    stages = [
        StageResult("ingest (copy + validate)", 1_500_000, 3.0, 300.0, INGEST),  # 500,000 rows/s
        StageResult("floor: transactions CSV -> Parquet", 1_000_000, 0.5, 300.0, FLOOR, "duckdb"),
        StageResult("floor: every raw dataset -> Parquet", 1_500_000, 2.0, 300.0, FLOOR, "duckdb"),
        StageResult("floor: DuckDB scan of every raw file", 1_500_000, 1.5, 300.0, FLOOR, "duckdb"),
        StageResult("read + classify: transactions", 1_000_000, 0.75, 300.0, READ, "duckdb"),
        StageResult("run --all", 1_500_000, 15.0, 900.0, RUN, "duckdb"),
        StageResult("etl: transaction_etl", 1_000_000, 1.5, 300.0, ETL, "duckdb", part_of="run --all"),
        StageResult("floor: transactions CSV -> Parquet", 1_000_000, 4.0, 300.0, FLOOR, "spark"),
        StageResult("etl: transaction_etl", 1_000_000, 20.0, 300.0, ETL, "spark", part_of="run --all"),
    ]
    got = {t.name: (t.target, t.measured, t.verdict) for t in evaluate_targets(_report(1_000_000, stages))}
    assert got == {
        "ingest rate (1M transactions)": (">= 600,000 rows/s", "500,000 rows/s", "MISS"),
        "transaction_etl / duckdb CSV -> Parquet copy": ("<= 2.5x", "3.00x", "MISS"),
        "read + classify / duckdb CSV -> Parquet copy": ("<= 2.5x", "1.50x", "PASS"),
        "transaction_etl / spark CSV -> Parquet copy": ("<= 4x", "5.00x", "MISS"),
        "run --all / duckdb copy of every raw dataset": ("<= 8x", "7.50x", "PASS"),
    }


def test_daily_target_compares_each_history_with_the_next_shorter() -> None:
    def daily(history: int, seconds: float) -> list[StageResult]:
        name = f"daily run after {history} days"
        return [
            StageResult(name, 50_000, seconds, 400.0, DAILY, "duckdb"),
            StageResult("etl: master_data_merge", 1, seconds / 2, 400.0, ETL, "duckdb", part_of=name),
        ]

    got = evaluate_targets(_report(20_000, [*daily(90, 6.0), *daily(30, 4.0)], engine="duckdb"))
    (target,) = [t for t in got if t.name.startswith("daily run")]
    assert (target.name, target.target, target.measured, target.verdict) == (
        "daily run after 90 / after 30 days",
        "<= 1.5x",
        "1.50x",
        "PASS",
    )
    (missed,) = [
        t
        for t in evaluate_targets(_report(20_000, [*daily(30, 4.0), *daily(90, 6.1)], engine="duckdb"))
        if t.name.startswith("daily run")
    ]
    assert (missed.measured, missed.verdict) == ("1.52x", "MISS")
    # Three histories: each against the next shorter one, so a cost that keeps growing shows.
    three = evaluate_targets(_report(20_000, [*daily(30, 4.0), *daily(180, 6.6), *daily(90, 6.0)], engine="duckdb"))
    assert [(t.name, t.measured, t.verdict) for t in three if t.name.startswith("daily run")] == [
        ("daily run after 90 / after 30 days", "1.50x", "PASS"),
        ("daily run after 180 / after 90 days", "1.10x", "PASS"),
    ]
    # One history alone is no comparison.
    assert not [t for t in evaluate_targets(_report(20_000, daily(30, 4.0))) if t.name.startswith("daily")]


def test_spark_only_report_counts_the_spark_etl() -> None:
    stages = [
        StageResult("etl: transaction_etl", 100_000, 95.0, 300.0, ETL, "spark", 1500.0),
        StageResult("dashboard build", 1, 1.0, 300.0, DASHBOARD),
    ]
    (pipeline,) = evaluate_targets(_report(100_000, stages, engine="spark"))
    assert pipeline.measured == "96.0 s"
    assert pipeline.verdict == "MISS"


def test_scaled_sizes_keep_the_seed_proportions() -> None:
    assert scaled_sizes(100_000) == {"transactions": 100_000, "clickstream": 50_000, "reviews": 2_000, "products": 500}
    assert scaled_sizes(1_000_000)["products"] == 2_000


def test_floor_copies_raw_transactions_to_date_partitions(tmp_path: Path) -> None:
    manifest = generate(
        tmp_path / "gen", days=2, transactions=300, products=20, clickstream=50, reviews=10, seed=3, bad_rate=0.0
    )
    land_tree(tmp_path / "lake", tmp_path / "gen")
    out = tmp_path / "floor"
    copied = floor_copy(tmp_path / "lake", out)
    assert copied == manifest["counts"]["transactions"]
    assert sorted(p.name for p in out.iterdir()) == ["date=2025-01-01", "date=2025-01-02"]
    per_date = duckdb.sql(
        f"select date, count(*), count(distinct transaction_id) from read_parquet('{out}/*/*.parquet', "
        "hive_partitioning=true) group by date order by date"
    ).fetchall()
    assert sum(n for _, n, _ in per_date) == copied
    assert all(n == distinct for _, n, distinct in per_date)
    # A second copy replaces the first rather than adding to it.
    assert floor_copy(tmp_path / "lake", out) == copied


def test_floor_of_every_dataset_copies_each_to_date_partitions(tmp_path: Path) -> None:
    manifest = generate(
        tmp_path / "gen", days=2, transactions=300, products=20, clickstream=50, reviews=10, seed=3, bad_rate=0.0
    )
    land_tree(tmp_path / "lake", tmp_path / "gen")
    out = tmp_path / "floor"
    copied = floor_copy_all(tmp_path / "lake", out)
    assert copied == sum(manifest["counts"].values())
    assert sorted(p.name for p in out.iterdir()) == ["clickstream", "products", "reviews", "transactions"]
    for dataset in ("clickstream", "products", "reviews", "transactions"):
        rows = duckdb.sql(
            f"select date, count(*) from read_parquet('{out / dataset}/*/*.parquet', hive_partitioning=true) "
            "group by date order by date"
        ).fetchall()
        assert [str(d) for d, _ in rows] == ["2025-01-01", "2025-01-02"]
        assert sum(n for _, n in rows) == manifest["counts"][dataset]
    assert floor_copy_all(tmp_path / "lake", out) == copied


def test_floor_of_every_dataset_skips_a_malformed_first_json_line(tmp_path: Path) -> None:
    # The generator's faults include a Python-repr line; first in a file, it made DuckDB's
    # layout detection give up on the whole file ("Parse errors cannot be ignored").
    day = tmp_path / "lake" / "raw" / "clickstream" / "date=2025-01-14"
    day.mkdir(parents=True)
    good = '{"session_id": "S1", "event_type": "page_view", "timestamp": "2025-01-14T00:04:27Z"}'
    (day / "clickstream.json").write_text(
        "{'session_id': 'S0', 'event_type': 'page_view'}\n" + good + "\n" + good + "\n"
    )
    # DuckDB keeps the malformed line as a row of NULLs: the floor counts what DuckDB's reader gives.
    assert floor_copy_all(tmp_path / "lake", tmp_path / "floor") == 3
    assert floor_scan(tmp_path / "lake") == 3


def test_daily_runs_time_one_new_date_on_lakes_that_differ_only_in_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecomlake.generate as generator
    from ecomlake.local.bench import daily_runs

    asked: list[dict[str, object]] = []
    real = generator.generate

    def recording(out: Path, **params: object) -> dict[str, object]:
        asked.append(params)
        return real(out, **params)

    monkeypatch.setattr(generator, "generate", recording)
    report = _report(1_000, [], engine="duckdb")
    daily_runs(report, tmp_path, 150, histories=(2, 4), repeats=2)

    # Both lakes: the same customers and catalog (the 2-day lake's), so only the history differs,
    # and the same last calendar date, so the timed dates are the same weekdays.
    assert [(p["days"], p["customers"], p["products"], p["start"]) for p in asked] == [
        (4, 150, 500, "2025-01-03"),
        (6, 150, 500, "2025-01-01"),
    ]
    runs = [s for s in report.stages if s.kind == DAILY]
    assert [s.stage for s in runs] == ["daily run after 2 days", "daily run after 4 days"]
    for run in runs:
        parts = [s.stage for s in report.stages if s.part_of == run.stage]
        # A small date takes the small-date branch, then the gate, the publication and the refresh.
        assert "step: small_date" in parts
        assert "publish (snapshot switch + cleanup)" in parts
        assert run.cost is not None
    # The lakes are scratch: nothing is left behind.
    assert list(tmp_path.iterdir()) == []
    (target,) = [t for t in evaluate_targets(report) if t.name.startswith("daily run")]
    assert target.name == "daily run after 4 / after 2 days"
