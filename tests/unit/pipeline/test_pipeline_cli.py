"""`ecomlake run` and `ecomlake asl`: arguments, exit codes, output."""

from __future__ import annotations

import json
import re

import pytest
from pipeline_fakes import Recorder, ServiceError

from ecomlake.asl import PipelineResources, definition, mermaid
from ecomlake.cli import run
from ecomlake.commands import common
from ecomlake.local import runner

DAY = "2025-01-01"


@pytest.fixture
def fake_steps(monkeypatch, recorder: Recorder) -> Recorder:
    """Every step of `ecomlake run` is a recording fake (no ETL), with no retry waits."""
    monkeypatch.setattr(runner, "default_registry", lambda pipeline=None: recorder.registry())
    monkeypatch.setattr(runner.time, "sleep", lambda _s: None)
    monkeypatch.setattr(common.console, "width", 200)
    return recorder


def land(lake, dataset: str, day: str) -> None:
    folder = lake / "raw" / dataset / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "file").write_text("x")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --date YYYY-MM-DD, --all or --pending"),
        (["--date", DAY, "--all"], "give exactly one of --date YYYY-MM-DD, --all or --pending"),
        (["--date", "2025-13-01"], "invalid date '2025-13-01'"),
        (["--date", DAY, "--engine", "pandas"], "--engine must be one of duckdb, spark"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(lake, capsys, args, message):
    code = run(["run", *args, "--lake", str(lake)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert message in err


def test_missing_lake_exits_2(tmp_path, capsys):
    code = run(["run", "--date", DAY, "--lake", str(tmp_path / "nowhere")])
    assert code == 2
    assert "no lake at" in capsys.readouterr().err


def test_all_on_a_lake_without_raw_data_exits_2(lake, capsys):
    code = run(["run", "--all", "--lake", str(lake)])
    assert code == 2
    assert "no raw partitions" in capsys.readouterr().err


def test_successful_run_prints_steps_and_exits_0(lake, capsys, fake_steps):
    code = run(["run", "--date", DAY, "--lake", str(lake)])
    out = capsys.readouterr().out
    assert code == 0
    assert "SUCCEEDED" in out
    for step in ("transaction_etl", "master_data_merge", "audit", "publish", "dashboard_refresh", "notify_success"):
        assert step in out
    assert "in 10, out 9, quarantined 1" in out
    (record,) = (lake / "_runs").glob("*.json")
    assert json.loads(record.read_text())["dates"] == [DAY]
    assert str(record) in out.replace("\n", "")


def test_all_is_one_backfill_run_over_every_raw_date(lake, capsys, fake_steps):
    land(lake, "transactions", "2025-01-02")
    land(lake, "products", "2025-01-01")
    code = run(["run", "--all", "--lake", str(lake)])
    assert code == 0
    assert "2 dates (2025-01-01 .. 2025-01-02)" in capsys.readouterr().out
    (record,) = (lake / "_runs").glob("*.json")
    assert json.loads(record.read_text())["dates"] == ["2025-01-01", "2025-01-02"]
    assert fake_steps.names().count("transaction_etl") == 1


def test_failed_run_exits_1_and_names_the_step(lake, capsys, fake_steps):
    fake_steps.fail["master_data_merge"] = [ServiceError("Glue.EntityNotFoundException")] * 2
    code = run(["run", "--date", DAY, "--lake", str(lake)])
    captured = capsys.readouterr()
    assert code == 1
    assert "FAILED" in captured.out
    assert "retry master_data_merge attempt 2" in captured.out
    assert re.fullmatch(
        r"error: run failed at master_data_merge: Glue\.EntityNotFoundException: "
        r"ServiceError: simulated Glue\.EntityNotFoundException \(at pipeline_fakes\.py:\d+ in call\)\n",
        captured.err,
    )
    assert "notification" in captured.out


def test_asl_prints_the_generated_definition(capsys):
    code = run(["asl"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == definition(PipelineResources.placeholders("dev"))


def test_asl_for_a_stage_to_a_file(tmp_path, capsys):
    target = tmp_path / "out" / "prod.asl.json"
    code = run(["asl", "--stage", "prod", "--output", str(target)])
    assert code == 0
    document = json.loads(target.read_text())
    assert document == definition(PipelineResources.placeholders("prod"))
    assert document["States"]["master_data_merge"]["Parameters"]["JobName"] == "ecomlake-prod-master-data-merge"
    assert "wrote" in capsys.readouterr().out


def test_asl_mermaid(capsys):
    assert run(["asl", "--mermaid"]) == 0
    assert capsys.readouterr().out == mermaid(definition(PipelineResources.placeholders("dev")))


def test_asl_bad_stage_exits_2(capsys):
    assert run(["asl", "--stage", "Prod!"]) == 2
    assert "stage must be lowercase" in capsys.readouterr().err
