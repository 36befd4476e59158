"""The audit: every data-quality check, on what a run wrote, before anyone can read it.

The audit reads the run's *view* -- the published snapshot with the run's unpublished
versions on top, processed and curated alike -- for every date the run wrote, and writes
each date's report under the run (``_runs/<run_id>/dq/``) and its verdict
(``_runs/<run_id>/audit.json``). Publication refuses a run without a passing verdict, and
copies the reports where report readers look.

One rule set, two engines (``ecomlake.dq.engine``): locally the audit runs on DuckDB over
the lake directory (:func:`audit_run`, which raises :class:`DataQualityError` naming the
failed checks, the dates and what was found); in AWS it is the Glue job ``data_quality``
(``ecomlake.dq.glue_job``), on Spark over the S3 buckets, which only writes the verdict --
the pipeline's next step (``handlers/data_quality.py``, or :func:`check_verdict` locally)
turns a failing verdict into the error the failure notification carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ecomlake.dq.engine import Engine
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import Rule, configured_rules
from ecomlake.dq.runner import audit_dates, write_report
from ecomlake.exceptions import DataQualityError, EcomlakeError, InvalidArgumentError
from ecomlake.runs.publish import audit_report_key, verdict_key
from ecomlake.snapshots import PARTITIONED_UNITS, Changes, Snapshot, load_published
from ecomlake.snapshots.journal import run_changes
from ecomlake.storage import LocalStorage, Storage

SHOWN_FAILURES = 5
ENGINES = ("duckdb", "spark")

# (view, dates, rules) -> an engine open on that view
EngineOpener = Callable[[Snapshot, Sequence[str], Sequence[Rule]], Engine]
Finding = tuple[str, str, str]  # (date, check id, detail)


class NothingToAuditError(EcomlakeError):
    """The run recorded no output: there is nothing to audit."""


@dataclass
class Audit:
    run_id: str
    reports: list[DQReport]
    engine: str = "duckdb"

    @property
    def dates(self) -> list[str]:
        return [r.day for r in self.reports]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports)

    def failures(self) -> list[Finding]:
        """(date, check id, detail) of every critical failure."""
        return [(r.day, c.rule_id, c.detail) for r in self.reports for c in r.critical_failures]

    def warnings(self) -> list[Finding]:
        """(date, check id, detail) of every failed warning."""
        return [(r.day, c.rule_id, c.detail) for r in self.reports for c in r.warnings]

    def summary(self) -> dict[str, object]:
        return {
            "dates": self.dates,
            "checks": sum(len(r.results) for r in self.reports),
            "critical_failed": len(self.failures()),
            "warnings": len(self.warnings()),
            "passed": self.passed,
            "engine": self.engine,
        }


def touched_dates(changes: Changes) -> list[str]:
    """Every date a run wrote, emptied or recomputed, in any partitioned unit."""
    days = {d for unit in PARTITIONED_UNITS for d in changes.dates(unit)}
    days.update(d for per_dataset in changes.computed.values() for d in per_dataset)
    return sorted(days)


def failure_message(failures: Sequence[Finding]) -> str:
    shown = "; ".join(f"{check} on {day}: {detail}" for day, check, detail in failures[:SHOWN_FAILURES])
    more = f"; and {len(failures) - SHOWN_FAILURES} more" if len(failures) > SHOWN_FAILURES else ""
    return f"{len(failures)} critical data-quality check(s) failed, nothing was published: {shown}{more}"


def audit_storage(
    storage: Storage,
    run_id: str,
    open_engine: EngineOpener,
    *,
    rules: Iterable[Rule] | None = None,
    now: datetime | None = None,
    source: str = "",
) -> Audit:
    """Check everything run ``run_id`` wrote on the engine ``open_engine`` opens; write reports and verdict.

    Never raises on failed checks: the verdict says what failed (see :func:`audit_run` and
    :func:`check_verdict` for the error). Raises :class:`NothingToAuditError` for a run
    that recorded no output.
    """
    changes = run_changes(storage, run_id)
    dates = touched_dates(changes)
    if not dates:
        raise NothingToAuditError(f"run {run_id} recorded no output; nothing to audit")
    view = load_published(storage).overlay(changes)
    chosen = list(configured_rules() if rules is None else rules)
    engine = open_engine(view, dates, chosen)
    try:
        reports = audit_dates(engine, storage, view, dates, chosen, now=now, source=source)
    finally:
        engine.close()
    for report in reports:
        write_report(storage, report, lambda day, ext: audit_report_key(run_id, day, ext))
    audit = Audit(run_id, reports, engine.name)
    write_verdict(storage, run_id, audit.summary(), audit.failures(), warnings=audit.warnings())
    return audit


def local_engine(lake: Path, run_id: str, engine: str = "duckdb", session: Any = None) -> EngineOpener:
    """How a local audit opens its engine: DuckDB over the lake, or Spark (``session`` or a local one)."""
    if engine not in ENGINES:
        raise InvalidArgumentError(f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}")
    if engine == "duckdb":
        from ecomlake.dq.engine_duckdb import DuckDBEngine

        return lambda view, _dates, _rules: DuckDBEngine(lake, view, verify_run=run_id)

    def open_spark(view: Snapshot, dates: Sequence[str], rules: Sequence[Rule]) -> Engine:
        from ecomlake.dq.engine_spark import SparkEngine
        from ecomlake.dq.reads import partitions_read
        from ecomlake.etl.engines import spark_session

        spark = session if session is not None else spark_session(app_name="ecomlake-audit")
        reads = partitions_read(rules, dates, view)
        return SparkEngine(spark, LocalStorage(lake), view, reads, verify_run=run_id)

    return open_spark


def audit_run(
    lake: Path | str,
    run_id: str,
    *,
    rules: Iterable[Rule] | None = None,
    now: datetime | None = None,
    engine: str = "duckdb",
    session: Any = None,
) -> Audit:
    """Audit run ``run_id`` of a local lake; raise :class:`DataQualityError` on a critical failure."""
    root = Path(lake)
    storage = LocalStorage(root)
    opener = local_engine(root, run_id, engine, session)
    audit = audit_storage(storage, run_id, opener, rules=rules, now=now, source=str(root))
    if not audit.passed:
        raise DataQualityError(failure_message(audit.failures()))
    return audit


def write_verdict(
    storage: Storage,
    run_id: str,
    summary: dict[str, object],
    failures: Sequence[Finding],
    *,
    warnings: Sequence[Finding] = (),
) -> None:
    """The audit's verdict, which publication requires: passed or not, every critical failure and warning."""
    days = summary.get("dates")
    body = {
        **summary,
        "run_id": run_id,
        "failures": [{"date": d, "check": c, "detail": x} for d, c, x in failures],
        "warned": [{"date": d, "check": c, "detail": x} for d, c, x in warnings],
        "reports": {str(d): audit_report_key(run_id, str(d)) for d in days} if isinstance(days, list) else {},
    }
    storage.write_bytes(verdict_key(run_id), (json.dumps(body, indent=1) + "\n").encode())


def read_verdict(storage: Storage, run_id: str) -> dict[str, Any] | None:
    """The run's verdict; None when the audit has not written one."""
    key = verdict_key(run_id)
    data = storage.read_optional(key)
    if data is None:
        return None
    try:
        verdict = json.loads(data)
    except ValueError:
        raise DataQualityError(f"the audit verdict of run {run_id} is not valid JSON; audit the run again") from None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("passed"), bool):
        raise DataQualityError(f"the audit verdict of run {run_id} has no passed/failed answer; audit the run again")
    return verdict


def findings(entries: Any) -> list[Finding]:
    """(date, check, detail) of a verdict's ``failures`` or ``warned`` list."""
    if not isinstance(entries, list):
        return []
    return [(str(e.get("date")), str(e.get("check")), str(e.get("detail"))) for e in entries if isinstance(e, dict)]


def check_verdict(storage: Storage, run_id: str) -> dict[str, Any]:
    """The verdict of a passed audit; :class:`DataQualityError` naming the failed checks otherwise.

    The step after the audit: its error is what the pipeline's failure notification says.
    """
    verdict = read_verdict(storage, run_id)
    if verdict is None:
        raise DataQualityError(f"run {run_id} has no audit verdict; an unaudited run is never published")
    if not verdict["passed"]:
        raise DataQualityError(failure_message(findings(verdict.get("failures"))))
    return verdict
