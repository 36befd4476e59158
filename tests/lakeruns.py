"""Helpers that drive the jobs of a run directly and read a lake through its published snapshot.

Tests that exercise one job, or several, without the whole pipeline use :func:`run_jobs`:
it plans a run, runs the jobs, and (by default) publishes what they wrote without an audit,
so the jobs' output is what readers see. :func:`table_rows` reads a table the way every
reader does, through the published snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ecomlake.catalog import connect
from ecomlake.contract import Job, Table
from ecomlake.etl import run_job
from ecomlake.etl.summary import RunSummary
from ecomlake.runs.plan import plan_run
from ecomlake.snapshots import load_published, store
from ecomlake.snapshots.journal import run_changes
from ecomlake.storage import LocalStorage

_runs = iter(range(1, 1_000_000))


def run_jobs(
    lake: Path,
    dates: Sequence[str],
    jobs: Iterable[Job | str] = tuple(Job),
    *,
    run_id: str | None = None,
    engine: str = "duckdb",
    session: Any = None,
    publish: bool = True,
) -> dict[Job, list[RunSummary]]:
    """Plan run ``run_id``, run ``jobs`` over ``dates``, publish what they wrote (no audit); summaries per job."""
    run = run_id or f"test-run-{next(_runs)}"
    storage = LocalStorage(Path(lake))
    plan = plan_run(storage, run, dates)
    summaries = {
        Job(job): run_job(job, plan.dates, lake, engine, run_id=run, session=session, base_seq=plan.base_seq)
        for job in jobs
    }
    if publish:
        base = load_published(storage)
        store.publish(storage, base, run_changes(storage, run), run)
    return summaries


def table_rows(lake: Path, table: Table | str, columns: str = "*") -> list[tuple[Any, ...]]:
    """Every row of a catalog table as readers see it (the published snapshot), sorted."""
    con = connect(Path(lake))
    try:
        return sorted(con.execute(f'select {columns} from "{Table(table)}"').fetchall(), key=repr)
    finally:
        con.close()


def quarantine_files(lake: Path, dataset: str) -> list[Path]:
    """The Parquet files of a dataset's quarantined rows in the published snapshot."""
    from ecomlake.snapshots import quarantine_unit

    snapshot = load_published(LocalStorage(Path(lake)))
    return sorted(
        p
        for _day, prefix in snapshot.prefixes(quarantine_unit(dataset))
        for p in (Path(lake) / prefix).glob("*.parquet")
    )
