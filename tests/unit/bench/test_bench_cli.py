"""`ecomlake bench` on a tiny lake: the stages it times and the JSON it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlake.cli import run
from ecomlake.queries import list_queries


def test_bench_duckdb_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = tmp_path / "lake"
    args = ["bench", "--transactions", "2000", "--days", "2", "--engine", "duckdb", "--lake", str(lake)]
    assert run([*args, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = lake / "_reports" / "bench" / "transactions=2000-engine=duckdb.json"
    assert printed["report_path"] == str(saved)
    written = json.loads(saved.read_text())
    assert written["stages"] == printed["stages"]
    stages = [s["stage"] for s in written["stages"]]
    assert stages[:5] == [
        "generate",
        "render the SQL (kept per code version)",
        "ingest (copy + validate)",
        "floor: transactions CSV -> Parquet",
        "floor: every raw dataset -> Parquet",
    ]
    assert [s for s in stages if s.startswith("query: ")] == [f"query: {q.name}" for q in list_queries()]
    assert not any(s["engine"] == "spark" for s in written["stages"])
    # The test process has its own SQL cache (tests/conftest.py), warmed by earlier tests or not.
    assert written["machine"]["sql_cache"] in ("cold", "warm")
    floor = next(s for s in written["stages"] if s["kind"] == "floor")
    assert 0 < floor["rows"] <= 2000
    # The real pipeline run over both dates, and its steps as parts of it, in the order they ran.
    (whole,) = [s for s in written["stages"] if s["stage"] == "run --all"]
    parts = [s for s in written["stages"] if s["part_of"] == "run --all"]
    jobs = ["etl: transaction_etl", "etl: product_enrichment", "etl: clickstream_aggregation"]
    after = ["etl: master_data_merge", "data quality audit", "step: audit", "publish (snapshot switch + cleanup)"]
    named = [s["stage"] for s in parts]
    assert set(jobs) <= set(named)
    assert named.index("etl: master_data_merge") > max(named.index(j) for j in jobs)
    assert [n for n in named if n in after] == after
    assert "dashboard build" in named
    # The job's own first part, timed alone, classifies every row the job reads.
    (classified,) = [s for s in written["stages"] if s["stage"] == "read + classify: transactions"]
    (etl,) = [s for s in parts if s["stage"] == "etl: transaction_etl"]
    assert classified["rows"] == etl["rows"] > 2000
    # The run's AWS estimate rides along (issue 16): Glue for the jobs, Lambda for the steps, S3 for the files.
    cost = whole["cost"]
    assert cost["total"] > 0
    assert cost["services"]["glue"] > 0
    assert cost["services"]["s3"] > 0
    assert cost["assumed"]["glue_workers"] == "G.1X x 2"
    assert sum(s["seconds"] for s in parts) <= whole["seconds"]
    # rows of the run: what the jobs read from raw, = every row landed (bad ones included).
    (ingest,) = [s for s in written["stages"] if s["kind"] == "ingest"]
    assert whole["rows"] == ingest["rows"]
    assert written["total_seconds"] == pytest.approx(
        sum(s["seconds"] for s in written["stages"] if s["part_of"] is None), abs=0.02
    )
    assert all(s["peak_rss_mb"] and s["peak_rss_mb"] > 0 for s in written["stages"])
    # 2,000 transactions is below the seed scale: the seed targets apply, named for the size that ran.
    names = {t["name"] for t in written["targets"]}
    assert "demo pipeline part (2,000 transactions)" in names
    assert not any("seed scale" in name for name in names)


def test_bench_rejects_unknown_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["bench", "--transactions", "10", "--engine", "polars"]) == 2
    assert "--engine" in capsys.readouterr().err


def test_bench_table_fits_80_columns_and_leaves_the_working_directory_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from ecomlake.commands import common

    work, temp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(common.console, "width", 80)
    assert run(["bench", "--transactions", "2000", "--days", "2", "--engine", "duckdb"]) == 0
    out = capsys.readouterr().out
    table = out[: out.index("total ")]  # the stage and target tables; the machine line after is prose
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "seed scale" not in out
    assert "demo pipeline part" in out
    assert "(2,000 transactions)" in out  # the name's cell folds after "part" at 80 columns
    # Without --lake nothing lands in ./.lake: the report is kept with the temporary files.
    assert list(work.iterdir()) == []
    saved = temp / "ecomlake-bench" / "transactions=2000-engine=duckdb.json"
    assert json.loads(saved.read_text())["transactions"] == 2000
    assert f"report: {saved}" in out
    assert "estimated AWS cost of run --all (duckdb): $" in out
