"""Adopting an unversioned local lake: table files written before versions existed.

Lakes written by ecomlake 0.1 kept each table partition's files directly in
``<zone>/<table>/date=D/`` (``<zone>/<table>/`` for the dimensions, ``rows.parquet`` for
quarantined rows), with no snapshot. :func:`adopt_unversioned` moves every such file into a
version folder of one adoption "run" and publishes a snapshot naming them, so readers keep
seeing the same rows and the next run starts from them. The plan step calls it when it
finds such files, so an old lake upgrades itself on its first run; it is also how tests
build a published lake from hand-written Parquet files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ecomlake.contract import PARTITION_KEY, RUN_KEY
from ecomlake.snapshots import store
from ecomlake.snapshots.model import UNITS, Changes, Snapshot, is_partitioned
from ecomlake.storage import LocalStorage


def unversioned_files(lake: Path) -> dict[tuple[str, str | None], list[Path]]:
    """(unit, date or None) -> Parquet files sitting outside any version folder."""
    found: dict[tuple[str, str | None], list[Path]] = {}
    for unit in sorted(UNITS):
        root = Path(lake) / unit
        if not root.is_dir():
            continue
        if is_partitioned(unit):
            for part in sorted(root.glob(f"{PARTITION_KEY}=*")):
                files = sorted(p for p in part.glob("*.parquet") if p.is_file())
                if files:
                    found[(unit, part.name.split("=", 1)[1])] = files
        else:
            files = sorted(p for p in root.glob("*.parquet") if p.is_file())
            if files:
                found[(unit, None)] = files
    return found


def adopt_unversioned(lake: Path, run_id: str | None = None, *, now: datetime | None = None) -> Snapshot | None:
    """Move unversioned table files into versions of ``run_id`` and publish them; None when there were none.

    A partition the published snapshot already names keeps its published version: the loose
    files of it are left where they are (no reader sees them) rather than overriding data
    a run wrote.
    """
    storage = LocalStorage(Path(lake))
    found = unversioned_files(lake)
    if not found:
        return None
    moment = now or datetime.now(UTC)
    run = run_id or f"adopted-{moment:%Y%m%dT%H%M%SZ}"
    base = store.load_published(storage)
    changes = Changes()
    for (unit, day), files in found.items():
        if base.version(unit, day) is not None:
            continue
        target = Path(lake) / unit / (f"{PARTITION_KEY}={day}/" if day else "") / f"{RUN_KEY}={run}"
        target.mkdir(parents=True, exist_ok=True)
        for index, file in enumerate(files):
            file.rename(target / f"part-{index}.parquet")
        if day is None:
            changes.set_whole(unit, run)
        else:
            changes.set_partition(unit, day, run)
    if not (changes.partitions or changes.whole):
        return None
    return store.publish(storage, base, changes, run, now=moment)
