"""The four ETL jobs: read -> transform -> write -> run summary, over one or many dates.

``run_job`` is the local entry point (a lake directory, either engine); ``execute`` is
what it and the Glue scripts share, given a session and a :class:`~ecomlake.etl.io.LakeIO`.
A run over several dates (a backfill) reads them all at once and writes each date's
partitions, so each job runs once however many dates are pending.
"""

# ruff: noqa: N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecomlake.contract import JOB_INPUTS, PARTITION_KEY, Dataset, Job, Table, parse_date
from ecomlake.etl import io
from ecomlake.etl.cleaning import REASON
from ecomlake.etl.engines import api, check_engine, engine_of, new_session
from ecomlake.etl.summary import RunSummary, write_summaries
from ecomlake.etl.transforms import curated, processed, sessions
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.schemas import (
    DAILY_KPIS,
    DIM_CUSTOMERS,
    DIM_PRODUCTS,
    FACT_SALES,
    FCT_SESSIONS,
    PROCESSED_CLICKSTREAM,
    PROCESSED_PRODUCTS,
    PROCESSED_REVIEWS,
    PROCESSED_SESSIONS,
    PROCESSED_TRANSACTIONS,
    Reason,
    TableSchema,
)


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


def run_job(
    job: Job | str, dates: Sequence[str], lake: Path, engine: str = "duckdb", *, session: Any = None
) -> list[RunSummary]:
    """Run one job over ``dates`` on the local lake ``lake``; returns one summary per dataset and date.

    ``engine`` is "duckdb" (sqlframe, the default) or "spark" (local[*]). A ``session`` of
    the matching engine may be passed to reuse it (a Spark session is costly to start).
    """
    chosen = check_engine(engine)
    name, days = parse_job(job), normalize_dates(dates)
    if session is not None:
        if engine_of(session) != chosen:
            raise InvalidArgumentError(f"the session given is a {engine_of(session)} session, not {chosen}")
        return execute(session, name, days, io.LakeIO.local(lake))
    own = new_session(chosen, app_name=f"ecomlake-{name}")
    try:
        return execute(own, name, days, io.LakeIO.local(lake))
    finally:
        # A DuckDB session is cheap and holds the run's tables in memory: drop it. The Spark
        # session is kept, so the next job in this process reuses the running JVM.
        if chosen == "duckdb":
            own._conn.close()


def execute(session: Any, job: Job, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """Run ``job`` for ``dates`` with ``session`` and persist its summaries."""
    if job is Job.MASTER_DATA_MERGE:
        summaries = master_data_merge(session, dates, lake)
    else:
        summaries = []
        for dataset in JOB_INPUTS[job]:
            summaries.extend(clean_dataset(session, job, dataset, dates, lake))
        if job is Job.CLICKSTREAM_AGGREGATION:
            summaries.extend(build_sessions(session, job, dates, lake))
    write_summaries(lake.storage, summaries)
    return summaries


# --------------------------------------------------------------------------- per-dataset jobs


def clean_dataset(session: Any, job: Job, dataset: Dataset, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """Raw -> processed + quarantine for one dataset; a summary per date."""
    started = time.perf_counter()
    F = api(session).F
    files = io.raw_files(lake, dataset, dates)
    raw = io.read_raw(session, lake, dataset, files)
    classified = io.materialize(processed.classify(raw, dataset), f"classified_{dataset}")
    try:
        counts = classified.groupBy(PARTITION_KEY, REASON).agg(F.count(F.lit(1)).alias("n")).collect()
        schema = processed.PROCESSED_SCHEMAS[dataset]
        io.write_partitioned(
            processed.processed(processed.good_rows(classified), dataset),
            lake.table_uri(schema.name),
            dates,
            order_by=_sort_keys(schema),
        )
        io.write_quarantine(processed.bad_rows(classified, dataset), lake, dataset, dates)
    finally:
        io.release(classified)
    seconds = round(time.perf_counter() - started, 3)
    return _dataset_summaries(job, dataset, dates, counts, engine_of(session), seconds)


def _sort_keys(schema: TableSchema) -> tuple[str, ...]:
    keys = tuple(k for k in schema.primary_key if k != PARTITION_KEY)
    return keys or tuple(schema.column_names[:1])


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


def _built_summaries(
    job: Job, table: Table | str, dates: list[str], df: Any, engine: str, seconds: float
) -> list[RunSummary]:
    """Summaries of a derived table: rows built per date (nothing is quarantined there)."""
    F = api(df).F
    if PARTITION_KEY in df.columns:
        counts = {r[0]: int(r[1]) for r in df.groupBy(PARTITION_KEY).agg(F.count(F.lit(1))).collect()}
    else:
        total = df.count()
        counts = dict.fromkeys(dates, total)
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


def _write_built(
    job: Job, schema: TableSchema, df: Any, dates: list[str], lake: io.LakeIO, started: float
) -> list[RunSummary]:
    """Materialise a derived table, write it, and summarise it."""
    kept = io.materialize(df, f"out_{schema.name}")
    try:
        io.write_partitioned(
            kept, lake.table_uri(schema.name), dates if schema.partition_key else None, order_by=_sort_keys(schema)
        )
        seconds = round(time.perf_counter() - started, 3)
        return _built_summaries(job, schema.name, dates, kept, engine_of(df), seconds)
    finally:
        io.release(kept)


def build_sessions(session: Any, job: Job, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """processed/clickstream (the dates just written) -> processed/sessions."""
    started = time.perf_counter()
    F = api(session).F
    clicks = io.read_table(session, lake, PROCESSED_CLICKSTREAM).where(F.col(PARTITION_KEY).isin(*dates))
    return _write_built(job, PROCESSED_SESSIONS, sessions.sessions(clicks), dates, lake, started)


# --------------------------------------------------------------------------- master merge


def master_data_merge(session: Any, dates: list[str], lake: io.LakeIO) -> list[RunSummary]:
    """Processed -> curated: facts for ``dates``, dimensions rebuilt from every partition."""
    job = Job.MASTER_DATA_MERGE
    F, T, _ = api(session)
    transactions = io.materialize(io.read_table(session, lake, PROCESSED_TRANSACTIONS), "m_transactions")
    products = io.read_table(session, lake, PROCESSED_PRODUCTS)
    reviews = io.read_table(session, lake, PROCESSED_REVIEWS)
    sessions_all = io.read_table(session, lake, PROCESSED_SESSIONS)
    clicks = io.read_table(session, lake, PROCESSED_CLICKSTREAM).where(F.col(PARTITION_KEY).isin(*dates))
    dates_frame = session.createDataFrame(
        [(d,) for d in dates], T.StructType([T.StructField(PARTITION_KEY, T.StringType(), False)])
    )
    builds = (
        (FACT_SALES, lambda: curated.fact_sales(transactions, products, dates)),
        (DIM_PRODUCTS, lambda: curated.dim_products(products, reviews, transactions)),
        (DIM_CUSTOMERS, lambda: curated.dim_customers(transactions)),
        (FCT_SESSIONS, lambda: curated.fct_sessions(sessions_all, clicks, transactions, dates)),
        (DAILY_KPIS, lambda: curated.daily_kpis(dates_frame, transactions, sessions_all, reviews, dates)),
    )
    summaries: list[RunSummary] = []
    try:
        for schema, build in builds:
            started = time.perf_counter()
            summaries.extend(_write_built(job, schema, build(), dates, lake, started))
    finally:
        io.release(transactions)
    return summaries
