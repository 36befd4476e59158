"""The ETL: raw -> processed (+ quarantine) -> curated, on Spark (Glue) or DuckDB (sqlframe).

``run_job(job, dates, lake, engine="duckdb")`` runs one of ``contract.Job`` over one or
many dates of a local lake and returns a :class:`RunSummary` per dataset (or table) and
date. The Glue scripts in ``glue_jobs/`` call :func:`ecomlake.etl.jobs.execute` with
the session Glue provides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecomlake.etl.summary import RunSummary

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["RunSummary", "run_job"]


def run_job(job: Any, dates: Any, lake: Path, engine: str = "duckdb", **kwargs: Any) -> list[RunSummary]:
    """See :func:`ecomlake.etl.jobs.run_job` (imported lazily: it pulls in sqlframe)."""
    from ecomlake.etl.jobs import run_job as _run_job

    return _run_job(job, dates, lake, engine, **kwargs)
