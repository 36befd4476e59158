"""What a local run would have cost on AWS: its record turned into usage, priced by ``ecomlake.cost``.

A local run executes the same steps the state machine runs, so its record says how many of
each there were and how long each took. The estimate maps them onto the AWS services:

- each Glue job step (``etl`` branches, the merge, the audit job) -> one Glue job run of the
  local step's duration on ``GLUE_WORKERS`` (the dev stack's G.1X x 2, see Pulumi.dev.yaml;
  ``$ECOMLAKE_GLUE_WORKERS`` as ``TYPE:COUNT`` to price another stack), with Glue's 1-minute
  minimum; Spark on Glue is not DuckDB on a laptop, so this is the order of magnitude, not a quote;
- each Lambda step -> one invocation of its local duration at ``LAMBDA_MEMORY_MB`` (the
  small-date path, which does a whole run's work in one function, at ``SMALL_DATE_MEMORY_MB``,
  the dev stack's sizing);
- Step Functions -> one transition per state entered (the dates prelude included);
- Athena -> the dashboard refresh's queries: each reads, at most, the published files of its
  tables in the dashboard's window (column pruning makes Athena read less), 10 MB minimum each;
- S3 -> a PUT per file the run wrote (its versions, journal, reports) and a GET per raw file
  and per file it wrote (each is read again by a later step).

Prices are ``ecomlake.cost.load_prices()``: us-east-1 list prices unless ``$ECOMLAKE_PRICES``
or ``$ECOMLAKE_PRICES_FILE`` say otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import EnvVar, Zone, run_prefix
from ecomlake.cost import GlueRun, RunUsage, estimate, lambda_gb_seconds, load_prices
from ecomlake.exceptions import InvalidArgumentError

GLUE_WORKERS: Final = ("G.1X", 2)
LAMBDA_MEMORY_MB: Final = 1024
SMALL_DATE_MEMORY_MB: Final = 2048
SMALL_DATE_STEP: Final = "small_date"
GLUE_KINDS: Final = frozenset({"glue"})
LAMBDA_KINDS: Final = frozenset({"lambda"})


def glue_workers(environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """``$ECOMLAKE_GLUE_WORKERS`` (``G.2X:10``), else the dev stack's G.1X x 2."""
    text = (os.environ if environ is None else environ).get(EnvVar.GLUE_WORKERS, "").strip()
    if not text:
        return GLUE_WORKERS
    kind, _, count = text.partition(":")
    if not count.isdigit() or int(count) < 1:
        raise InvalidArgumentError(f"{EnvVar.GLUE_WORKERS} must be TYPE:COUNT, e.g. G.1X:2; got {text!r}")
    return kind.strip(), int(count)


def transitions(record: Mapping[str, Any]) -> int:
    """States a state machine would have entered: every step that ran, plus the dates prelude."""
    ran = sum(1 for s in record.get("steps", []) if s.get("status") not in ("SKIPPED", None))
    dates = len(record.get("dates") or [])
    return ran + 1 + 2 * max(dates - 1, 0)


def _files_written(lake: Path, run_id: str) -> int:
    own = lake / run_prefix(run_id)
    count = sum(1 for p in own.rglob("*") if p.is_file()) if own.is_dir() else 0
    for zone in (Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE):
        root = lake / zone
        if root.is_dir():
            count += sum(1 for p in root.rglob(f"run={run_id}/*") if p.is_file())
    return count


def _raw_files(lake: Path, dates: list[str]) -> int:
    root = lake / Zone.RAW
    return sum(1 for day in dates for p in root.glob(f"*/date={day}/*") if p.is_file())


def _athena_bytes(lake: Path) -> tuple[int, ...]:
    """Per dashboard query, the published bytes its tables hold in the dashboard's window."""
    from ecomlake.catalog import partition_files, table_files
    from ecomlake.dashboard import DATED_TABLES, dashboard_window
    from ecomlake.queries import list_queries

    days = sorted({f.date for table in DATED_TABLES for f in table_files(lake, table) if f.date})
    window = dashboard_window(days[0], days[-1]) if days else None
    start, end = window if window else (None, None)
    out = []
    for spec in list_queries():
        out.append(sum(f.bytes for table in spec.tables for f in partition_files(lake, table, start, end)))
    return tuple(out)


def _memory(step: Mapping[str, Any]) -> int:
    return SMALL_DATE_MEMORY_MB if step.get("name") == SMALL_DATE_STEP else LAMBDA_MEMORY_MB


def _milliseconds(step: Mapping[str, Any]) -> float:
    """A step's billed duration: its time, over every attempt it made."""
    return float(step.get("seconds") or 0) * 1000 * max(int(step.get("attempts") or 1), 1)


def run_usage(lake: Path, record: Mapping[str, Any]) -> RunUsage:
    """The AWS usage a local run's record stands for (see the module docstring)."""
    kind, workers = glue_workers()
    steps = [s for s in record.get("steps", []) if s.get("status") not in ("SKIPPED", None)]
    glue = tuple(
        GlueRun.of_workers(float(s.get("seconds") or 0), kind, workers) for s in steps if s["kind"] in GLUE_KINDS
    )
    lambdas = [s for s in steps if s["kind"] in LAMBDA_KINDS]
    refreshed = any(s["name"] == "dashboard_refresh" and s["status"] == "SUCCEEDED" for s in steps)
    written = _files_written(lake, str(record["run_id"]))
    return RunUsage(
        athena_query_bytes=_athena_bytes(lake) if refreshed else (),
        glue_runs=glue,
        lambda_gb_seconds=sum(lambda_gb_seconds(_milliseconds(s), _memory(s)) for s in lambdas),
        lambda_invocations=sum(max(int(s.get("attempts") or 1), 1) for s in lambdas),
        state_transitions=transitions(record),
        s3_put_requests=written,
        s3_get_requests=written + _raw_files(lake, list(record.get("dates") or [])),
    )


def estimate_run(lake: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """The estimate as the run record keeps it: dollars per service, usage, prices, the assumptions."""
    kind, workers = glue_workers()
    out = estimate(run_usage(lake, record), load_prices()).to_dict()
    out["assumed"] = {
        "glue_workers": f"{kind} x {workers}",
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
        "small_date_memory_mb": SMALL_DATE_MEMORY_MB,
    }
    return out


def describe(cost: Mapping[str, Any]) -> str:
    """One line: total and the services that cost something."""
    parts = [f"{name} ${value:.4f}" for name, value in cost["services"].items() if value]
    return f"${cost['total']:.4f} ({', '.join(parts) or 'nothing billable'})"
