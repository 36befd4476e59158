"""The small-date path: a run whose input is small runs whole in one Lambda, on DuckDB.

Glue bills every job run for at least a minute and takes a while to start each one; a day of a
few megabytes pays that five times over (three ETL jobs, the merge, the audit) for seconds of
work. The state machine's Choice (``ecomlake.pipeline``, ``small_enough``) sends such a run to
one Lambda instead, which runs the *same* code the laptop runs by default: every ETL job and the
merge through ``ecomlake.etl.run_job`` on the DuckDB engine, then the audit
(``ecomlake.runs.audit.audit_storage``) with the DuckDB engine. Same run id, same versions,
same journal, reports and verdict -- the audit gate and the publication that follow cannot tell
which path a run took.

DuckDB in Lambda cannot read S3 (its ``httpfs`` extension would be downloaded at run time,
which this project never does), so the function **stages** what the run reads into its ``/tmp``
as a lake directory with the buckets' key layout (``ecomlake.storage``), runs there, and
uploads what the run wrote. What a run reads -- :func:`read_set` -- is derived from the jobs'
reads, conservatively:

========================================  ============================================================
published versions                        why
========================================  ============================================================
processed transactions, clickstream,      every date: keys are unique across the whole lake, so the
reviews                                   ETL reads every published date's keys (``etl.dedupe``)
processed products                        every date: catalog snapshots "as of" each date (merge, audit)
processed sessions, every quarantine      from the run's first date on: later dates a restatement
                                          recomputes (dedupe, merge), and what the audit counts
curated fact_sales, fct_sessions,         from the audit window (7 days) before the first date on:
daily_kpis                                recomputed dates and the anomaly/volume baselines
dim_customers, dim_products,              the current version (the merge folds the day into them)
product_activity
========================================  ============================================================

plus the raw files and validation reports of the first date and every later one (a
restatement re-reads the later dates whose duplicates it changes), the journals of the runs
that computed those dates (the audit's row conservation), the run's plan and the published
snapshot. The plan step sums the same objects' sizes (:func:`staged_bytes`) and the Choice
compares that sum with the stack's ``smallDateMaxBytes``, so a small day in a lake whose
history or dimensions are big still goes to Glue.

The audit runs on the DuckDB engine over the run's view *restricted to the partitions its rules
read* (``ecomlake.dq.reads``, the same restriction the Spark engine of the Glue audit gets):
the DuckDB engine would otherwise open every version the snapshot names, and the mirror holds
only what the run reads. The parity test of the two engines (DuckDB over every version, Spark
over these) is what makes the restriction safe.

A read outside the staged set fails loudly rather than reading less: DuckDB refuses a version
folder with no file, a missing summary fails the audit's conservation check.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import (
    CURATED_TABLES,
    PARALLEL_ETL_JOBS,
    RAW_KEY_RE,
    SNAPSHOT_KEY,
    VALIDATION_PREFIX,
    Dataset,
    Job,
    Table,
    Zone,
    parse_date,
    parse_run_id,
    run_prefix,
    to_date,
    version_prefix,
)
from ecomlake.exceptions import EcomlakeError
from ecomlake.ingest.validator import object_size
from ecomlake.runs.plan import plan_key, read_plan
from ecomlake.schemas import TABLES
from ecomlake.snapshots import Snapshot, load_published, table_unit
from ecomlake.snapshots.gc import version_of
from ecomlake.storage import LocalStorage, Storage

ENGINE: Final = "duckdb"
# The jobs the small path runs, in the order the local runner runs the Glue branch.
JOBS: Final = (*PARALLEL_ETL_JOBS, Job.MASTER_DATA_MERGE)
# Published partitions read whatever the run's dates (cross-date keys, catalog snapshots).
EVERY_DATE_UNITS: Final = frozenset(
    table_unit(t) for t in (Table.TRANSACTIONS, Table.CLICKSTREAM, Table.REVIEWS, Table.PRODUCTS)
)
# Curated partitions: read from the audit's baseline window before the run's first date.
WINDOWED_UNITS: Final = frozenset(table_unit(t) for t in CURATED_TABLES if TABLES[t].partition_key)
# Free space the function needs beyond what it stages: the run's outputs are at most about
# the size of its inputs (Parquet from raw, recomputed partitions from published ones).
SPACE_FACTOR: Final = 2
WORKERS: Final = 16  # concurrent S3 transfers while staging and uploading


class SmallDateError(EcomlakeError):
    """The small path cannot run this run here (not planned, no room in /tmp)."""


# --------------------------------------------------------------------------- what a run reads


def audit_window_days() -> int:
    """The longest baseline the anomaly and volume rules look back over (7 days)."""
    from ecomlake.dq.rules import RULES, Kind

    windows = [int(r.params["window_days"]) for r in RULES if r.kind in (Kind.ANOMALY, Kind.VOLUME)]
    return max(windows, default=0)


@dataclass(frozen=True)
class ReadSet:
    """The published objects a run over ``dates`` may read (see the module docstring)."""

    versions: frozenset[str]  # version prefixes: <unit>/date=D/run=R/ or <unit>/run=R/
    first_date: str  # raw files and validation reports of this date and later
    journals: frozenset[str]  # runs whose journals hold the summaries of those dates


def read_set(base: Snapshot, dates: Iterable[str], *, window_days: int | None = None) -> ReadSet:
    """What a run over ``dates`` reads of the published snapshot ``base`` (pure)."""
    days = sorted({parse_date(d) for d in dates})
    if not days:
        raise SmallDateError("a run needs at least one date")
    first = days[0]
    window = audit_window_days() if window_days is None else window_days
    window_start = (to_date(first) - timedelta(days=window)).isoformat()
    versions = set()
    for unit, day, run in base.iter_versions():
        if day is None or unit in EVERY_DATE_UNITS:
            wanted = True
        elif unit in WINDOWED_UNITS:
            wanted = day >= window_start
        else:
            wanted = day >= first
        if wanted:
            versions.add(version_prefix(unit, run, day))
    journals = {run for per_day in base.computed.values() for day, run in per_day.items() if day >= first}
    return ReadSet(frozenset(versions), first, frozenset(journals))


def _size(storage: Storage, key: str) -> int:
    known = object_size(storage, key)
    return known if known is not None else len(storage.read_bytes(key))


def _dated_keys(keys: Iterable[str], first: str, date_of: Any) -> list[str]:
    return [k for k in keys if (day := date_of(k)) is not None and day >= first]


def _raw_date(key: str) -> str | None:
    match = RAW_KEY_RE.match(key)
    return match.group("date") if match else None


def _validation_date(key: str) -> str | None:
    # _reports/validation/<dataset>/date=D/<file>.json
    parts = key.split("/")
    return parts[3].removeprefix("date=") if len(parts) >= 5 and parts[3].startswith("date=") else None


def staged_objects(
    storage: Storage,
    base: Snapshot,
    run_id: str,
    dates: Iterable[str],
    *,
    listing: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, int]:
    """Every published object a small-date run of ``dates`` stages: key -> bytes (the run's plan aside).

    ``listing`` (unit -> its keys) reuses a listing the caller already made (the plan lists
    every unit to find missing versions).
    """
    wanted = read_set(base, dates)
    found: list[str] = []
    for unit in sorted({v.split("/date=")[0].split("/run=")[0] for v in wanted.versions}):
        keys = listing[unit] if listing is not None and unit in listing else storage.list(f"{unit}/")
        for key in keys:
            parsed = version_of(key)
            if parsed is not None and parsed[0] in wanted.versions:
                found.append(key)
    for dataset in Dataset:
        found += _dated_keys(storage.list(f"{Zone.RAW}/{dataset}/"), wanted.first_date, _raw_date)
        found += _dated_keys(storage.list(f"{VALIDATION_PREFIX}{dataset}/"), wanted.first_date, _validation_date)
    for run in sorted(wanted.journals):
        found += storage.list(f"{run_prefix(run)}outputs/")
    if storage.exists(SNAPSHOT_KEY):
        found.append(SNAPSHOT_KEY)
    return {key: _size(storage, key) for key in sorted(set(found))}


def staged_bytes(
    storage: Storage,
    base: Snapshot,
    run_id: str,
    dates: Iterable[str],
    *,
    listing: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """What the plan tells the Choice: the bytes a small-date run of ``dates`` would stage."""
    return sum(staged_objects(storage, base, run_id, dates, listing=listing).values())


# --------------------------------------------------------------------------- the run, on a lake directory


def restricted(view: Snapshot, reads: Mapping[str, set[str] | None]) -> Snapshot:
    """``view`` naming only the table partitions in ``reads`` (table -> dates, ``None``: whole).

    Units that are not tables (the quarantine) are kept as they are: the audit's facts read
    them through the full view, not through the engine.
    """
    from dataclasses import replace

    units = {table_unit(t): dates for t, dates in reads.items()}
    tables = {table_unit(t) for t in Table}

    def kept(unit: str, day: str) -> bool:
        if unit not in tables:
            return True
        if unit not in units:
            return False
        wanted = units[unit]
        return wanted is None or day in wanted

    partitions = {unit: {d: r for d, r in days.items() if kept(unit, d)} for unit, days in view.partitions.items()}
    whole = {unit: r for unit, r in view.whole.items() if unit not in tables or unit in units}
    return replace(view, partitions=partitions, whole=whole)


def duckdb_audit_engine(lake: Path, run_id: str) -> Any:
    """How the small path opens its audit engine: DuckDB over the view the rules read (see above)."""

    def open_engine(view: Snapshot, dates: Sequence[str], rules: Sequence[Any]) -> Any:
        from ecomlake.dq.engine_duckdb import DuckDBEngine
        from ecomlake.dq.reads import partitions_read

        return DuckDBEngine(lake, restricted(view, partitions_read(rules, dates, view)), verify_run=run_id)

    return open_engine


def totals(summaries: Sequence[Any]) -> dict[str, int]:
    """Rows read, kept, quarantined and built over every job's summaries (``RunSummary`` or dicts)."""
    out = {"rows_in": 0, "rows_out": 0, "rows_quarantined": 0, "rows_built": 0}
    for summary in summaries:
        data = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)
        if str(data.get("dataset_or_table")) in set(Dataset):
            for key in ("rows_in", "rows_out", "rows_quarantined"):
                out[key] += int(data.get(key) or 0)
        else:
            out["rows_built"] += int(data.get("rows_out") or 0)
    return out


def run_small_date(lake: Path, run_id: str) -> dict[str, Any]:
    """Every ETL job, the merge and the audit of run ``run_id`` on DuckDB, over the lake directory ``lake``.

    The run's plan (``_runs/<run_id>/plan.json``) names its dates and base snapshot. Like the
    Glue audit job, the audit writes its reports and verdict and does not raise on a failed
    check: the audit gate after this step turns a failing verdict into the run's failure.
    """
    from ecomlake.etl import run_job
    from ecomlake.runs.audit import audit_storage

    run = parse_run_id(run_id)
    storage = LocalStorage(lake)
    plan = read_plan(storage, run)
    if plan is None:
        raise SmallDateError(f"run {run} has no plan ({plan_key(run)}); the plan step must run first")
    jobs: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    every: list[Any] = []
    for job in JOBS:
        started = time.perf_counter()
        summaries = run_job(job, plan.dates, lake, ENGINE, run_id=run, base_seq=plan.base_seq)
        seconds[str(job)] = round(time.perf_counter() - started, 3)
        jobs[str(job)] = totals(summaries)
        every += summaries
    started = time.perf_counter()
    audit = audit_storage(storage, run, duckdb_audit_engine(lake, run), source=str(lake))
    seconds["audit"] = round(time.perf_counter() - started, 3)
    return {
        "run_id": run,
        "dates": list(plan.dates),
        "engine": ENGINE,
        **totals(every),
        "jobs": jobs,
        "audit": audit.summary(),
        "seconds": seconds,
    }


# --------------------------------------------------------------------------- staging and uploading (the Lambda)


@dataclass
class Transfer:
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    keys: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"objects": self.objects, "bytes": self.bytes, "seconds": self.seconds}


def _download(source: Storage, mirror: LocalStorage, key: str) -> None:
    target = mirror.path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    client, bucket = getattr(source, "client", None), getattr(source, "bucket", None)
    if client is not None and callable(bucket):
        client.download_file(bucket(key), key, str(target))  # managed transfer: ranged GETs for big files
    else:
        target.write_bytes(source.read_bytes(key))


def _upload(target: Storage, mirror: LocalStorage, key: str) -> None:
    client, bucket = getattr(target, "client", None), getattr(target, "bucket", None)
    if client is not None and callable(bucket):
        client.upload_file(str(mirror.path(key)), bucket(key), key)  # multipart beyond the threshold
    else:
        target.write_bytes(key, mirror.read_bytes(key))


def stage(source: Storage, mirror: LocalStorage, run_id: str, *, free_bytes: int | None = None) -> Transfer:
    """Copy what run ``run_id`` reads (:func:`staged_objects`) into the lake directory ``mirror``."""
    run = parse_run_id(run_id)
    plan = read_plan(source, run)
    if plan is None:
        raise SmallDateError(f"run {run} has no plan ({plan_key(run)}); the plan step must run first")
    started = time.perf_counter()
    objects = staged_objects(source, load_published(source), run, plan.dates)
    needed = sum(objects.values())  # what the plan estimated, unless a run published since
    if free_bytes is not None and needed * SPACE_FACTOR > free_bytes:
        raise SmallDateError(
            f"run {run} stages {needed:,} bytes and needs about {needed * SPACE_FACTOR:,} free, but the function's "
            f"working directory has {free_bytes:,}: lower smallDateMaxBytes or give the function more ephemeral storage"
        )
    keys = [*objects, plan_key(run)]
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda key: _download(source, mirror, key), keys))
    return Transfer(len(objects), needed, round(time.perf_counter() - started, 3), sorted(keys))


def _upload_order(key: str, run: str) -> int:
    """Data first, then records of what was written, the journal, the reports, the verdict last."""
    runs = run_prefix(run)
    if key == f"{runs}audit.json":
        return 4
    if key.startswith(f"{runs}dq/"):
        return 3
    if key.startswith(runs):
        return 2
    if key.startswith(f"{Zone.REPORTS}/"):
        return 1
    return 0


def written_keys(mirror: LocalStorage, staged: Iterable[str]) -> list[str]:
    """Files the run wrote into the mirror: everything that was not staged."""
    before = set(staged)
    return sorted(k for k in mirror.list("") if k not in before)


def upload(target: Storage, mirror: LocalStorage, run_id: str, staged: Iterable[str]) -> Transfer:
    """Put what the run wrote where the Glue path would have: versions, journal, reports, verdict last.

    A retried invocation may find its own version folders from an earlier attempt; each folder
    the run writes is made exactly the new one (files the new attempt did not write are
    deleted), so a reader never sees a part file of two attempts.
    """
    run = parse_run_id(run_id)
    started = time.perf_counter()
    keys = written_keys(mirror, staged)
    folders = {parsed[0] for k in keys if (parsed := version_of(k)) is not None}
    new = set(keys)
    stale = sorted(k for folder in folders for k in target.list(folder) if k not in new)
    for key in stale:
        target.delete_prefix(key)
    size = sum(mirror.path(k).stat().st_size for k in keys)
    for order in range(5):
        batch = [k for k in keys if _upload_order(k, run) == order]
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda key: _upload(target, mirror, key), batch))
    return Transfer(len(keys), size, round(time.perf_counter() - started, 3), keys)


def small_date_step(storage: Storage, run_id: str, workdir: Path) -> dict[str, Any]:
    """The Lambda's work: stage into ``workdir``, run on DuckDB, upload; the run's summary.

    ``workdir`` is emptied before and after (a warm function keeps its /tmp between runs).
    """
    run = parse_run_id(run_id)
    root = Path(workdir)
    shutil.rmtree(root, ignore_errors=True)
    lake = root / "lake"
    lake.mkdir(parents=True)
    try:
        mirror = LocalStorage(lake)
        staged = stage(storage, mirror, run, free_bytes=shutil.disk_usage(root).free)
        previous = os.getcwd()
        os.chdir(root)  # DuckDB spills to ./.tmp unless told otherwise: keep it in /tmp
        try:
            result = run_small_date(lake, run)
        finally:
            os.chdir(previous)
        uploaded = upload(storage, mirror, run, staged.keys)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {**result, "staged": staged.to_dict(), "uploaded": uploaded.to_dict()}
