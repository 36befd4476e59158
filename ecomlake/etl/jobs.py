"""The four ETL jobs: read -> transform -> write a new version -> record what was written.

``run_job`` is the local entry point (a lake directory, either engine); ``execute`` is
what it and the Glue scripts share, given a session and a :class:`~ecomlake.etl.io.LakeIO`
whose :class:`~ecomlake.etl.io.RunScope` names the run. A job writes only versions of the
run (invisible to readers until the run publishes) and ends by recording them, with its
row-conservation summaries, in the run's journal (``ecomlake.snapshots.journal``).

A per-dataset job over several dates reads them all at once and writes each date's
partitions. For a dataset keyed across the whole lake it may also recompute later dates
whose duplicates the run's dates change (``ecomlake.etl.dedupe``); the summaries and the
journal list every date it wrote.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecomlake.contract import (
    JOB_INPUTS,
    PARTITION_KEY,
    Dataset,
    Job,
    Table,
    parse_date,
    parse_run_id,
    validation_report_key,
)
from ecomlake.etl import cleaning, dedupe, io
from ecomlake.etl.duckdb_pool import job_session
from ecomlake.etl.engines import api, check_engine, engine_of, is_sqlframe, new_session
from ecomlake.etl.summary import RunSummary
from ecomlake.etl.transforms import processed, sessions
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.schemas import PROCESSED_CLICKSTREAM, PROCESSED_SESSIONS, RAW_SCHEMAS, Reason, TableSchema
from ecomlake.snapshots import PublishConflictError, load_published, quarantine_unit, table_unit
from ecomlake.snapshots.journal import JobOutput, run_changes, write_output
from ecomlake.storage import LocalStorage, Storage


def parse_job(job: Job | str) -> Job:
    try:
        return Job(str(job).strip().lower())
    except ValueError:
        known = ", ".join(Job)
        raise InvalidArgumentError(f"unknown job {job!r}; expected one of: {known}") from None


def normalize_dates(dates: Sequence[str]) -> list[str]:
    """Sorted, unique, validated dates; at least one."""
    days = sorted({parse_date(d) for d in dates})
    if not days:
        raise InvalidArgumentError("no dates to run; give at least one YYYY-MM-DD")
    return days


def open_scope(storage: Storage, run_id: str, job: Job | str, *, base_seq: int | None = None) -> io.RunScope:
    """The scope of ``job`` in run ``run_id``: the published snapshot plus the run's other jobs' writes.

    ``base_seq`` is the snapshot the run planned against; if another run has published since,
    the job stops before writing anything (the run must be planned again).
    """
    run = parse_run_id(run_id)
    base = load_published(storage)
    if base_seq is not None and base.seq != base_seq:
        raise PublishConflictError(
            f"run {run} was planned on snapshot {base_seq} but snapshot {base.seq} is published now; run it again"
        )
    others = [str(j) for j in Job if j != parse_job(job)]
    return io.RunScope(run, base, prior=run_changes(storage, run, others))


def run_job(
    job: Job | str,
    dates: Sequence[str],
    lake: Path,
    engine: str = "duckdb",
    *,
    run_id: str,
    session: Any = None,
    base_seq: int | None = None,
) -> list[RunSummary]:
    """Run one job of run ``run_id`` over ``dates`` on the local lake ``lake``; one summary per dataset/table and date.

    ``engine`` is "duckdb" (sqlframe, the default) or "spark" (local[*]). A ``session`` of
    the matching engine may be passed to reuse it (a Spark session is costly to start).
    Nothing becomes visible to readers until the run is published.
    """
    chosen = check_engine(engine)
    name, days = parse_job(job), normalize_dates(dates)
    storage = LocalStorage(Path(lake))
    lake_io = io.LakeIO(storage, open_scope(storage, run_id, name, base_seq=base_seq))
    if session is not None:
        if engine_of(session) != chosen:
            raise InvalidArgumentError(f"the session given is a {engine_of(session)} session, not {chosen}")
        return execute(session, name, days, lake_io)
    if chosen == "duckdb":
        # A connection of the job's own to an emptied database the process keeps (``duckdb_pool``).
        with job_session() as own:
            return execute(own, name, days, lake_io)
    # The Spark session is kept, so the next job in this process reuses the running JVM.
    return execute(new_session(chosen, app_name=f"ecomlake-{name}"), name, days, lake_io)


def execute(session: Any, job: Job, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """Run ``job`` for ``dates`` with ``session``, then record what it wrote in the run's journal."""
    from ecomlake.etl import merge

    started = time.perf_counter()
    scope = lake.run
    if job is Job.MASTER_DATA_MERGE:
        from ecomlake.runs.plan import read_plan

        plan = read_plan(lake.storage, scope.run_id)
        summaries = merge.master_data_merge(session, dates, lake, force_full=bool(plan and plan.full_merge))
    else:
        summaries = []
        for dataset in JOB_INPUTS[job]:
            summaries.extend(clean_dataset(session, job, dataset, dates, lake))
        if job is Job.CLICKSTREAM_AGGREGATION:
            written = sorted({s.date for s in summaries if s.dataset_or_table == Dataset.CLICKSTREAM})
            summaries.extend(build_sessions(session, job, written, lake))
    output = JobOutput(
        job=str(job),
        run_id=scope.run_id,
        changes=scope.changes,
        summaries=[s.to_dict() for s in summaries],
        seconds=round(time.perf_counter() - started, 3),
    )
    write_output(lake.storage, output)
    return summaries


# --------------------------------------------------------------------------- per-dataset jobs


def clean_dataset(session: Any, job: Job, dataset: Dataset, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """Raw -> processed + quarantine for one dataset; a summary per date written.

    On DuckDB the same expressions run as SQL rendered once (``ecomlake.etl.clean_duckdb``);
    on Spark as DataFrames.
    """
    started = time.perf_counter()
    if is_sqlframe(session):
        days, counts, files = _clean_duckdb(session, dataset, dates, lake)
    else:
        days, counts, files = _clean_spark(session, dataset, dates, lake)
    for day in days:
        lake.run.changes.set_input(
            dataset, day, input_fingerprint(lake.storage, [f for f in files if f.date == day]), lake.run.run_id
        )
    seconds = round(time.perf_counter() - started, 3)
    return _dataset_summaries(job, dataset, days, counts, engine_of(session), seconds)


Counts = list[Any]  # (date, reason or None, rows) per date and reason


def _clean_duckdb(
    session: Any, dataset: Dataset, dates: list[str], lake: io.LakeIO
) -> tuple[list[str], Counts, list[io.RawFile]]:
    from ecomlake.etl import clean_duckdb
    from ecomlake.etl.io.raw_duckdb import release_read

    days = list(dates)
    try:
        while True:
            files = io.raw_files(lake, dataset, days)
            earlier, later = _history(lake, dataset, days)
            marked = clean_duckdb.classify_and_mark(session, dataset, files, lake, earlier)
            extra = _later_dates(session, marked, dataset, days, lake, later)
            if not extra:
                break
            days = sorted(set(days) | set(extra))
        counts = clean_duckdb.counts(session, dataset)
        good, bad = clean_duckdb.outputs(session, dataset)
        # The quarantine first: its rows' text comes from the raw read, let go before the larger
        # processed write (from the classified table), which then reuses that memory.
        io.write_quarantine(bad, lake, dataset, days)
        release_read(session, dataset)
        io.write_partitioned(good, lake, processed.PROCESSED_SCHEMAS[dataset].name, days)
    finally:
        clean_duckdb.release(session, dataset)
    return days, counts, files


def _clean_spark(
    session: Any, dataset: Dataset, dates: list[str], lake: io.LakeIO
) -> tuple[list[str], Counts, list[io.RawFile]]:
    from ecomlake.etl import clean_spark

    schema = processed.PROCESSED_SCHEMAS[dataset]
    days = list(dates)
    while True:
        files = io.raw_files(lake, dataset, days)
        earlier, later = _history(lake, dataset, days)
        claims = (
            dedupe.processed_claims(io.read_table(session, lake, schema, dates=earlier), dataset) if earlier else None
        )
        marked = clean_spark.classify_and_mark(io.read_raw(session, lake, dataset, files), dataset, claims)
        extra = _later_dates(session, marked.rows, dataset, days, lake, later)
        if not extra:
            break
        marked.release()
        days = sorted(set(days) | set(extra))
    try:
        counts = marked.counts()
        bad_rows = sum(int(row[2]) for row in counts if row[1] is not None)
        io.write_partitioned(marked.processed(), lake, schema.name, days)
        io.write_quarantine(marked.quarantine(bad_rows), lake, dataset, days)
    finally:
        marked.release()
    return days, counts, files


def _history(lake: io.LakeIO, dataset: Dataset, days: list[str]) -> tuple[list[str], list[str]]:
    """(published dates outside the run that may precede its dates, later ones its keys may change)."""
    if not dedupe.is_lake_keyed(dataset):
        return [], []
    view = lake.view()
    published = view.dates(table_unit(processed.PROCESSED_SCHEMAS[dataset].name))
    earlier = [d for d in published if d not in days and d < days[-1]]
    later = sorted({d for d in (*published, *view.dates(quarantine_unit(dataset))) if d not in days and d > days[0]})
    return earlier, later


def _later_dates(
    session: Any, marked: Any, dataset: Dataset, days: list[str], lake: io.LakeIO, later: list[str]
) -> list[str]:
    """Later published dates whose rows the run's keys change (``dedupe.later_dates_to_rerun``)."""
    if not later:
        return []
    schema = processed.PROCESSED_SCHEMAS[dataset]
    later_processed = dedupe.processed_claims(io.read_table(session, lake, schema, dates=later), dataset)
    quarantined = io.read_quarantine(session, lake, dataset, dates=later)
    later_dups = dedupe.quarantined_duplicates(quarantined, dataset) if quarantined is not None else None
    return dedupe.later_dates_to_rerun(marked, dataset, days, later_processed, later_dups)


def quarantine_output(F: Any, dataset: Dataset) -> list[Any]:
    """The quarantine file's select-list over bad rows with their facts, ``_reason``, ``_first_date`` and ``date``.

    A duplicate of a key that first landed on an earlier date says which date.
    """
    key = ", ".join(RAW_SCHEMAS[dataset].primary_key)
    schema = RAW_SCHEMAS[dataset]
    across = (F.col(cleaning.REASON) == F.lit(Reason.DUPLICATE_KEY.value)) & (
        F.col(dedupe.FIRST_DATE) < F.col(PARTITION_KEY)
    )
    # The detail written once, behind a prefix that is empty but for those duplicates: the rules'
    # wording is the largest expression of the job, and each copy of it is planned again.
    landed = F.concat(F.lit(f"({key}) first landed on "), F.col(dedupe.FIRST_DATE), F.lit(": "))
    detail = F.concat(F.when(across, landed).otherwise(F.lit("")), cleaning.detail_column(F, schema))
    columns = cleaning.quarantine_select(F, dataset, detail=detail)
    return [*columns, F.col(dedupe.FIRST_DATE), F.col(PARTITION_KEY)]


def input_fingerprint(storage: Storage, files: Sequence[io.RawFile]) -> str:
    """Which accepted raw files (and which landing of each) a date was computed from."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.key):
        report_key = validation_report_key(file.dataset, file.date, file.name)
        report = storage.read_optional(report_key) or b""
        digest.update(file.key.encode() + b"\0" + hashlib.sha256(report).digest())
    return digest.hexdigest()[:32]


def _dataset_summaries(
    job: Job, dataset: Dataset, dates: list[str], counts: list[Any], engine: str, seconds: float
) -> list[RunSummary]:
    by_date: dict[str, dict[str | None, int]] = {d: {} for d in dates}
    for row in counts:
        by_date.setdefault(row[0], {})[row[1]] = int(row[2])
    out = []
    for day in dates:
        found = by_date.get(day, {})
        good = found.get(None, 0)
        bad = {reason: n for reason, n in found.items() if reason is not None}
        quarantined = sum(bad.values())
        out.append(
            RunSummary(
                job=str(job),
                dataset_or_table=str(dataset),
                date=day,
                rows_in=good + quarantined,
                rows_out=good,
                rows_quarantined=quarantined,
                duplicates_dropped=bad.get(Reason.DUPLICATE_KEY.value, 0),
                quarantined_by_reason=bad,
                engine=engine,
                seconds=seconds,
            )
        )
    return out


def built_summaries(
    job: Job, table: Table | str, dates: list[str], df: Any, engine: str, seconds: float
) -> list[RunSummary]:
    """Summaries of a derived table: rows built per date (nothing is quarantined there)."""
    F = api(df).F
    if PARTITION_KEY in df.columns:
        counts = {r[0]: int(r[1]) for r in df.groupBy(PARTITION_KEY).agg(F.count(F.lit(1))).collect()}
    else:
        counts = dict.fromkeys(dates, df.count())
    return _built(job, table, dates, counts, engine, seconds)


def _built(
    job: Job, table: Table | str, dates: list[str], counts: dict[str, int], engine: str, seconds: float
) -> list[RunSummary]:
    return [
        RunSummary(
            job=str(job),
            dataset_or_table=str(table),
            date=day,
            rows_in=counts.get(day, 0),
            rows_out=counts.get(day, 0),
            rows_quarantined=0,
            engine=engine,
            seconds=seconds,
        )
        for day in dates
    ]


def write_built(
    job: Job, schema: TableSchema, df: Any, dates: list[str], lake: io.LakeIO, started: float
) -> list[RunSummary]:
    """Write a derived table as the run's version, and summarise it.

    On DuckDB the rows are written straight from the query and counted by the write; on
    Spark the frame is cached first (unless the caller keeps it cached), so counting and
    writing do not compute it twice.
    """
    if is_sqlframe(df):
        counted = io.write_counted(df, lake, table_unit(schema.name), dates if schema.partition_key else None)
        counts = counted if schema.partition_key else dict.fromkeys(dates, counted.get("", 0))
        return _built(job, schema.name, dates, counts, "duckdb", round(time.perf_counter() - started, 3))
    # A frame the caller keeps (the merge's activity state, read again by dim_products) stays kept.
    ours = not df.is_cached
    kept = io.materialize(df, f"out_{schema.name}") if ours else df
    try:
        io.write_partitioned(kept, lake, schema.name, dates if schema.partition_key else None)
        seconds = round(time.perf_counter() - started, 3)
        return built_summaries(job, schema.name, dates, kept, engine_of(df), seconds)
    finally:
        if ours:
            io.release(kept)


def build_sessions(session: Any, job: Job, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """processed/clickstream (the dates just written) -> processed/sessions."""
    started = time.perf_counter()
    if not dates:
        return []
    clicks = io.read_table(session, lake, PROCESSED_CLICKSTREAM, dates=dates)
    return write_built(job, PROCESSED_SESSIONS, sessions.sessions(clicks), dates, lake, started)
