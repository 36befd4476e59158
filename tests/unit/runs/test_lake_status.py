"""`ecomlake status`: a lake followed from empty to published, changed, refused and interrupted.

The rows it reports are checked against the generator's manifest (an independent count of
every row and fault written), the pending dates against what was landed after the run, and
the running/interrupted state against real processes.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecomlake.cli import run
from ecomlake.generate import generate
from ecomlake.ingest import land_tree
from ecomlake.local.runner import run_pipeline
from ecomlake.local.status import lake_status

DATES = ["2025-01-01", "2025-01-02", "2025-01-03"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("status") / "source"
    generate(out, days=3, start=DATES[0], transactions=900, products=30, clickstream=900, reviews=90, seed=11)
    return out


@pytest.fixture(scope="module")
def published(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source landed and run once (snapshot 1)."""
    lake = tmp_path_factory.mktemp("status") / "lake"
    land_tree(lake, source)
    assert run_pipeline(lake, DATES).succeeded
    return lake


def status_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert run(["status", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_empty_lake_says_to_land_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lake").mkdir()
    state = status_json(capsys, "--lake", str(tmp_path / "lake"))
    assert state["snapshot"] == 0
    assert state["landed_dates"] == []
    assert state["pending"] == {}
    assert state["runs"] == []
    assert state["next"] == "ecomlake ingest PATH"


def test_landed_dates_are_pending_until_a_run_publishes_them(
    source: Path, published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    land_tree(lake, source)
    before = status_json(capsys, "--lake", str(lake))
    assert before["pending"] == dict.fromkeys(DATES, "not published yet")
    assert before["next"] == "ecomlake run --pending"
    assert before["published_dates"] == []
    assert before["datasets"] == []

    after = status_json(capsys, "--lake", str(published))
    assert after["pending"] == {}
    assert after["next"] is None
    assert after["snapshot"] == 1
    assert after["published_dates"] == DATES
    (only,) = after["runs"]
    assert only["status"] == "SUCCEEDED"
    assert only["published"] == 1
    assert only["dates"] == DATES
    assert after["published_run"] == only["run_id"]
    assert after["running"] is None


def test_published_rows_match_the_generators_manifest(
    source: Path, published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((source / "manifest.json").read_text())
    state = status_json(capsys, "--lake", str(published))
    got = {d["dataset"]: (d["dates"], d["rows_in"], d["rows_out"], d["rows_quarantined"]) for d in state["datasets"]}
    expected = {
        dataset: (3, manifest["counts"][dataset], manifest["valid_counts"][dataset], sum(faults.values()))
        for dataset, faults in manifest["faults"].items()
    }
    assert got == expected
    assert list(got) == ["transactions", "products", "clickstream", "reviews"]


def test_a_changed_file_makes_its_date_pending_and_a_refused_file_is_listed(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(published, lake)
    changed = tmp_path / "changed" / "transactions" / "date=2025-01-02" / "transactions.csv"
    changed.parent.mkdir(parents=True)
    original = (lake / "raw" / "transactions" / "date=2025-01-02" / "transactions.csv").read_text()
    changed.write_text("\n".join(original.splitlines()[:-1]) + "\n")  # the last row withdrawn
    binary = tmp_path / "changed" / "reviews" / "date=2025-01-03" / "extra.csv"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x00\x01 not text")
    # exit 1: a file was rejected; the changed one is landed all the same
    assert run(["ingest", str(tmp_path / "changed"), "--replace", "--lake", str(lake)]) == 1
    capsys.readouterr()

    state = status_json(capsys, "--lake", str(lake))
    assert state["pending"] == {"2025-01-02": "landed files changed since it was published"}
    assert [(f["dataset"], f["date"], f["file"], f["rule"]) for f in state["rejected"]] == [
        ("reviews", "2025-01-03", "extra.csv", "binary_content")
    ]
    assert state["next"] == "ecomlake run --pending"

    assert run(["status", "--lake", str(lake)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "landed: 3 dates, 2025-01-01 to 2025-01-03; 1 pending" in lines
    assert "running: no run" in lines
    assert f"next: ecomlake run --pending --lake {lake}" in lines
    assert any(line.startswith("published: snapshot 1 by run ") for line in lines)
    assert any("extra.csv" in line and "binary_content" in line for line in lines)

    # A corrected copy under the same name needs --replace (raw files are never overwritten
    # silently); once it is accepted, the file is no longer listed as refused.
    binary.write_text((lake / "raw" / "reviews" / "date=2025-01-03" / "reviews.csv").read_text())
    assert run(["ingest", str(binary), "--dataset", "reviews", "--date", "2025-01-03", "--lake", str(lake)]) == 2
    assert "pass --replace" in capsys.readouterr().err
    assert (
        run(["ingest", str(binary), "--dataset", "reviews", "--date", "2025-01-03", "--replace", "--lake", str(lake)])
        == 0
    )
    capsys.readouterr()
    state = status_json(capsys, "--lake", str(lake))
    assert state["rejected"] == []
    assert state["pending"] == dict.fromkeys(
        ["2025-01-02", "2025-01-03"], "landed files changed since it was published"
    )


def test_a_run_whose_process_died_is_shown_interrupted(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock file names a run that is RUNNING in its record, but its process is gone."""
    lake = tmp_path / "lake"
    shutil.copytree(published, lake)
    doomed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pathlib; from ecomlake.local.lock import LakeLock; "
            f"LakeLock(pathlib.Path({str(lake)!r}), '20991231T000000Z-deadbeef').acquire()",
        ],
        check=True,
    )
    assert doomed.returncode == 0  # it took the lock and exited without releasing it: the kernel did
    record = {"run_id": "20991231T000000Z-deadbeef", "status": "RUNNING", "dates": ["2025-01-02"], "engine": "duckdb"}
    (lake / "_runs" / "20991231T000000Z-deadbeef.json").write_text(json.dumps(record))

    state = status_json(capsys, "--lake", str(lake), "--runs", "1")
    assert state["running"] is None
    (newest,) = state["runs"]
    assert (newest["run_id"], newest["status"]) == ("20991231T000000Z-deadbeef", "INTERRUPTED")
    # The next run marks it ABORTED, as it always did.
    assert run_pipeline(lake, ["2025-01-02"]).succeeded
    stored = json.loads((lake / "_runs" / "20991231T000000Z-deadbeef.json").read_text())
    assert stored["status"] == "ABORTED"
    assert lake_status(lake, runs=5).runs[0].status == "ABORTED"  # its id sorts newest


def test_status_never_touches_the_lock(published: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a shared lock taken to look would make a run starting at that moment fail as busy."""

    def no_lock(*_args: Any) -> None:
        raise AssertionError("status took a lock")

    monkeypatch.setattr(fcntl, "flock", no_lock)
    state = lake_status(published)
    assert state.snapshot == 1


def test_bad_arguments_exit_2(published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status", "--lake", str(published), "--format", "yaml"]) == 2
    assert run(["status", "--lake", str(published), "--runs", "0"]) == 2
    assert run(["status", "--lake", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "--format must be table or json" in err
    assert "--runs must be a positive integer" in err


def test_unreadable_records_and_a_junk_lock_file_are_passed_over(published: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(published, lake)
    (lake / "_runs" / "zzz-garbage.json").write_text("{not json")
    (lake / "_runs" / "zzy-number.json").write_text('{"run_id": 5, "status": "RUNNING"}')
    (lake / "_runs" / "zzx-list.json").write_text('["run_id"]')
    (lake / "_runs" / ".lock").write_text('{"run_id": "x", "pid": "not a pid"}')
    state = lake_status(lake, runs=5)
    assert [r.status for r in state.runs] == ["SUCCEEDED"]
    assert state.running is None
