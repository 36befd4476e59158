"""The first step of a run: what it will compute, against which published snapshot.

A run is asked for some dates. Before any job starts, the plan

* loads the published snapshot (rolling forward a publication interrupted after its commit,
  or recovering ``current.json`` from the history) -- the run's *base*; every job checks it
  is still the published one, and publication fails if another run got there first;
* checks that every version the base names is really there (a folder deleted by hand, a
  disk restored from an old backup) and adds what is missing to the run: a lost processed or
  curated partition adds its date, a lost dimension makes the merge rebuild the dimensions;
* estimates what a small-date run would stage (``staged_bytes``: the raw files of its dates and
  the published partitions it reads, ``ecomlake.runs.small_date``), which the state machine's
  Choice compares with the stack's ``smallDateMaxBytes``: one Lambda on DuckDB, or Glue;
* records all of it at ``_runs/<run_id>/plan.json`` for the jobs, the audit and the record.

Nothing here reads table data: the plan is a few object listings, cheap enough for a Lambda.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ecomlake.contract import Dataset, parse_run_id, raw_key, run_prefix, version_prefix
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.ingest.validator import object_size
from ecomlake.snapshots import UNITS, Snapshot
from ecomlake.snapshots import store as snapshot_store
from ecomlake.snapshots.gc import version_of
from ecomlake.storage import Storage


@dataclass
class RunPlan:
    """What one run computes. ``dates`` drive every job; the rest explains where they come from."""

    run_id: str
    base_seq: int
    requested: list[str]
    dates: list[str]
    repair: dict[str, list[str]] = field(default_factory=dict)  # unit -> dates (or ["*"]) found missing
    full_merge: bool = False  # a dimension was lost: rebuild the dimensions from every date
    raw_bytes: int = 0  # raw files landed for the run's dates
    # What a small-date run would stage: raw files of its first date on and the published
    # partitions it reads (ecomlake.runs.small_date); the Choice compares it with the threshold.
    staged_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def dates_csv(self) -> str:
        return ",".join(self.dates)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dates_csv": self.dates_csv, "date_count": len(self.dates)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunPlan:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def plan_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}plan.json"


def list_units(storage: Storage) -> dict[str, list[str]]:
    """Every key of every table unit (one listing each), for the checks that scan them."""
    return {unit: storage.list(f"{unit}/") for unit in sorted(UNITS)}


def missing_versions(
    storage: Storage, snapshot: Snapshot, listing: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[str]]:
    """Versions ``snapshot`` names whose folder holds no file: unit -> dates (``["*"]`` for a whole unit)."""
    present: set[str] = set()
    for unit in sorted(UNITS):
        for key in listing[unit] if listing is not None else storage.list(f"{unit}/"):
            parsed = version_of(key)
            if parsed is not None:
                present.add(parsed[0])
    missing: dict[str, list[str]] = {}
    for unit, day, run in snapshot.iter_versions():
        if version_prefix(unit, run, day) not in present:
            missing.setdefault(unit, []).append(day or "*")
    return missing


def raw_bytes(storage: Storage, dates: Iterable[str]) -> int:
    """Bytes of raw files landed for ``dates`` (every dataset), when the store can tell sizes."""
    total = 0
    for day in dates:
        for dataset in Dataset:
            for key in storage.list(raw_key(dataset, day, "")):
                total += object_size(storage, key) or 0
    return total


def plan_run(storage: Storage, run_id: str, requested: Iterable[str]) -> RunPlan:
    """Plan run ``run_id`` for ``requested`` dates and write the plan (see the module docstring)."""
    from ecomlake.contract import parse_date

    run = parse_run_id(run_id)
    asked = sorted({parse_date(d) for d in requested})
    if not asked:
        raise InvalidArgumentError("a run needs at least one date")
    notes: list[str] = []
    root = getattr(storage, "root", None)
    if root is not None:  # a local lake written before versions existed upgrades itself
        from ecomlake.snapshots.adopt import adopt_unversioned

        adopted = adopt_unversioned(root)
        if adopted is not None:
            notes.append(f"adopted unversioned table files as snapshot {adopted.seq} ({adopted.run_id})")
    loaded = snapshot_store.load(storage)
    base = loaded.snapshot
    notes += [loaded.note] if loaded.note else []
    if loaded.source == "history":
        snapshot_store.restore_current(storage, base)
    from ecomlake.runs.publish import finish_publication, publication_unfinished

    if publication_unfinished(storage, base):
        finish_publication(storage, base)
        notes.append(f"finished the publication of snapshot {base.seq} (its run stopped after the commit)")
    listing = list_units(storage)
    missing = missing_versions(storage, base, listing)
    extra: set[str] = set()
    full = False
    for unit, days in missing.items():
        if "*" in days:
            full = True
            notes.append(f"{unit}: its published version is missing; the merge rebuilds the dimensions")
        else:
            extra.update(days)
            notes.append(f"{unit}: published partitions missing for {', '.join(days)}; recomputed by this run")
    dates = sorted(set(asked) | extra)
    plan = RunPlan(
        run_id=run,
        base_seq=base.seq,
        requested=asked,
        dates=dates,
        repair=missing,
        full_merge=full,
        raw_bytes=raw_bytes(storage, dates),
        staged_bytes=staged_bytes(storage, base, run, dates, listing=listing),
        notes=notes,
    )
    storage.write_bytes(plan_key(run), (json.dumps(plan.to_dict(), indent=1) + "\n").encode())
    return plan


def staged_bytes(
    storage: Storage, base: Snapshot, run_id: str, dates: Sequence[str], *, listing: Mapping[str, Sequence[str]]
) -> int:
    from ecomlake.runs.small_date import staged_bytes as estimate

    return estimate(storage, base, run_id, dates, listing=listing)


def read_plan(storage: Storage, run_id: str) -> RunPlan | None:
    key = plan_key(run_id)
    data = storage.read_optional(key)
    return None if data is None else RunPlan.from_dict(json.loads(data))
