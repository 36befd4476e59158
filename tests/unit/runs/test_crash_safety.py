"""A run killed at any moment, a full disk, a deleted folder: the next run reaches the clean-run state.

Real processes: ``ecomlake run`` is started as a subprocess and killed with SIGKILL after a
random delay (seeded), somewhere between its start and the time a clean run takes; then a
second ``ecomlake run`` must leave exactly the lake a clean run leaves -- same rows in every
table and quarantine -- with the dead run's record marked ABORTED, the lock free, and none
of its versions left behind once the next publication has collected them.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from runs_helpers import assert_same_lake, generated_source, start_cli, unreferenced_versions

from ecomlake.ingest import land_tree
from ecomlake.local.runner import Status, run_pipeline
from ecomlake.snapshots import load_published
from ecomlake.storage import LocalStorage

pytestmark = pytest.mark.integration

FIRST = ["2025-01-01", "2025-01-02"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with every file landed and the first two dates published."""
    root = tmp_path_factory.mktemp("crash")
    lake = root / "base"
    land_tree(lake, generated_source(root))
    assert run_pipeline(lake, FIRST, sleep=lambda _s: None).succeeded
    return lake


@pytest.fixture(scope="module")
def clean(base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The oracle: the base lake after one uninterrupted ``run --all``, and how long that took."""
    lake = tmp_path_factory.mktemp("clean") / "lake"
    shutil.copytree(base, lake)
    started = time.monotonic()
    done = start_cli("run", "--all", "--lake", str(lake))
    _out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err.decode()
    return lake, time.monotonic() - started


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_killed_at_a_random_moment_is_finished_by_the_next(
    base: Path, clean: tuple[Path, float], tmp_path: Path, seed: int
) -> None:
    oracle, duration = clean
    lake = tmp_path / "lake"
    shutil.copytree(base, lake)
    delay = random.Random(seed).uniform(0.3, duration)
    victim = start_cli("run", "--all", "--lake", str(lake))
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)

    again = start_cli("run", "--all", "--lake", str(lake))
    _out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err.decode()

    assert_same_lake(lake, oracle)
    records = [json.loads(p.read_text()) for p in (lake / "_runs").glob("*.json")]
    assert not [r for r in records if r["status"] == Status.RUNNING]
    if victim.returncode == -signal.SIGKILL and len([r for r in records if r["status"] == Status.SUCCEEDED]) == 2:
        # The victim died before it finished: its record says so.
        assert [r["status"] for r in records].count(Status.ABORTED) in (0, 1)
    assert unreferenced_versions(lake) == []


def test_a_full_disk_fails_the_run_and_publishes_nothing(
    base: Path, clean: tuple[Path, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecomlake.etl.io.writer as writer

    lake = tmp_path / "lake"
    shutil.copytree(base, lake)
    before = load_published(LocalStorage(lake))
    real = writer._duckdb_write

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "_duckdb_write", full)
    record = run_pipeline(lake, ["2025-01-03", "2025-01-04"], sleep=lambda _s: None)
    assert record.status == Status.FAILED
    assert "No space left on device" in record.error["Cause"]
    assert load_published(LocalStorage(lake)) == before  # readers see what they saw

    monkeypatch.setattr(writer, "_duckdb_write", real)
    record = run_pipeline(lake, ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"], sleep=lambda _s: None)
    assert record.succeeded, record.error
    assert_same_lake(lake, clean[0])


@pytest.mark.parametrize(
    "lost",
    [
        "curated/dim_customers",  # a whole dimension: rebuilt from every date
        "processed/transactions/date=2025-01-02",  # a processed partition: recomputed from raw
        "curated/fact_sales/date=2025-01-01",  # a curated partition: recomputed
    ],
)
def test_a_published_folder_deleted_by_hand_is_repaired_by_the_next_run(
    base: Path, clean: tuple[Path, float], tmp_path: Path, lost: str
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(clean[0], lake)
    shutil.rmtree(lake / lost)
    record = run_pipeline(lake, ["2025-01-04"], sleep=lambda _s: None)
    assert record.succeeded, record.error
    assert record.plan["repair"]
    assert_same_lake(lake, clean[0])


def test_a_publication_interrupted_after_its_commit_is_rolled_forward(
    clean: tuple[Path, float], tmp_path: Path
) -> None:
    """The history entry is the commit: a current.json left behind is caught up by the next load."""
    lake = tmp_path / "lake"
    shutil.copytree(clean[0], lake)
    current = lake / "_catalog" / "current.json"
    published = json.loads(current.read_text())
    stale = dict(published, seq=published["seq"] - 1)
    current.write_text(json.dumps(stale))  # as if the process died between the two writes
    assert load_published(LocalStorage(lake)).seq == published["seq"]
    current.write_text("{ not json")  # a corrupt current.json is recovered from the history
    assert load_published(LocalStorage(lake)).seq == published["seq"]
    record = run_pipeline(lake, ["2025-01-04"], sleep=lambda _s: None)
    assert record.succeeded, record.error
    assert json.loads(current.read_text())["seq"] == published["seq"] + 1
    assert_same_lake(lake, clean[0])


def test_a_read_only_lake_is_one_clear_line(base: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root")
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        shutil.copytree(base, mount / "lake")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        proc = start_cli("run", "--all", "--lake", str(mount / "lake"))
        out, err = proc.communicate(timeout=120)
        lines = err.decode().strip().splitlines()
        assert proc.returncode in (1, 2)
        assert len(lines) == 1, err.decode()
        assert "read-only" in lines[0]
        assert "Traceback" not in out.decode() + err.decode()
    finally:
        subprocess.run(["umount", str(mount)], check=False)
