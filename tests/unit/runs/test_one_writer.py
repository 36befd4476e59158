"""Two runs on one lake at the same time: real processes, one lock.

Without ``--wait`` the second run stops at once with one line naming the run that holds the
lake; with ``--wait`` it queues behind it, and the lake ends exactly as after the two runs
one after the other.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runs_helpers import assert_same_lake, generated_source, start_cli

from ecomlake.ingest import land_tree
from ecomlake.local.lock import LakeLock, LakeLockedError, read_holder
from ecomlake.local.runner import run_pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("writers")
    lake = root / "landed"
    land_tree(lake, generated_source(root))
    return lake


def wait_for_holder(lake: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (lake / "_runs" / ".lock").is_file() and read_holder(lake):
            return
        time.sleep(0.05)
    pytest.fail("the first run never took the lock")


def test_a_second_run_stops_at_once_naming_the_holder(landed: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(landed, lake)
    first = start_cli("run", "--all", "--lake", str(lake))
    wait_for_holder(lake)
    second = start_cli("run", "--all", "--lake", str(lake))
    _out, err = second.communicate(timeout=120)
    first.communicate(timeout=600)
    assert first.returncode == 0
    assert second.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1
    assert re.match(rf"error: the lake is locked by run \S+ \(pid {first.pid} on ", lines[0]), lines[0]
    assert "--wait" in lines[0]


def test_with_wait_the_second_run_queues_and_the_lake_ends_as_two_runs_in_a_row(landed: Path, tmp_path: Path) -> None:
    lake, oracle = tmp_path / "lake", tmp_path / "oracle"
    shutil.copytree(landed, lake)
    shutil.copytree(landed, oracle)
    for _ in range(2):
        assert run_pipeline(oracle, ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]).succeeded

    first = start_cli("run", "--all", "--lake", str(lake))
    wait_for_holder(lake)
    second = start_cli("run", "--all", "--lake", str(lake), "--wait", "600")
    for proc in (first, second):
        _out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode()
    snapshot = json.loads((lake / "_catalog" / "current.json").read_text())
    assert snapshot["seq"] == 2
    assert_same_lake(lake, oracle)


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ecomlake.local.lock import LakeLock; "
            f"LakeLock(__import__('pathlib').Path({str(lake)!r}), 'doomed').acquire(); "
            "print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"held"
    with pytest.raises(LakeLockedError, match=r"locked by run doomed \(pid"):
        LakeLock(lake, "me").acquire()
    holder.kill()
    holder.wait()
    with LakeLock(lake, "me", wait=5):
        assert read_holder(lake).run_id == "me"


def test_status_shows_the_running_run_and_never_gets_in_its_way(landed: Path, tmp_path: Path) -> None:
    """Polled all through a real run, ``status`` names it with its pid, and the run still succeeds."""
    from ecomlake.local.status import lake_status

    lake = tmp_path / "lake"
    shutil.copytree(landed, lake)
    first = start_cli("run", "--all", "--lake", str(lake))
    seen = set()
    while first.poll() is None:
        running = lake_status(lake).running
        if running is not None:
            seen.add((running.pid, running.run_id))
        time.sleep(0.02)
    _out, err = first.communicate()
    assert first.returncode == 0, err.decode()
    state = lake_status(lake)
    assert state.running is None
    (last,) = state.runs
    assert seen == {(first.pid, last.run_id)}
    assert last.status == "SUCCEEDED"
    assert last.published == 1
