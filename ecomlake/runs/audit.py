"""The audit: every data-quality check, on what a run wrote, before anyone can read it.

The audit reads the run's *view* -- the published snapshot with the run's unpublished
versions on top, processed and curated alike -- for every date the run wrote, and writes
each date's report under the run (``_runs/<run_id>/dq/``) and its verdict
(``_runs/<run_id>/audit.json``). Publication refuses a run without a passing verdict, and
copies the reports where report readers look. A critical failure raises
:class:`DataQualityError` naming the checks, the dates and what was found: the run then
publishes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import Rule
from ecomlake.dq.runner import check_dates, write_report
from ecomlake.exceptions import DataQualityError
from ecomlake.runs.publish import audit_report_key, verdict_key
from ecomlake.snapshots import PARTITIONED_UNITS, Changes, load_published
from ecomlake.snapshots.journal import run_changes
from ecomlake.storage import LocalStorage, Storage

SHOWN_FAILURES = 5


@dataclass
class Audit:
    run_id: str
    reports: list[DQReport]

    @property
    def dates(self) -> list[str]:
        return [r.day for r in self.reports]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports)

    def failures(self) -> list[tuple[str, str, str]]:
        """(date, check id, detail) of every critical failure."""
        return [(r.day, c.rule_id, c.detail) for r in self.reports for c in r.critical_failures]

    def summary(self) -> dict[str, object]:
        warned = sum(len(r.warnings) for r in self.reports)
        return {
            "dates": self.dates,
            "checks": sum(len(r.results) for r in self.reports),
            "critical_failed": len(self.failures()),
            "warnings": warned,
            "passed": self.passed,
        }


def touched_dates(changes: Changes) -> list[str]:
    """Every date a run wrote, emptied or recomputed, in any partitioned unit."""
    days = {d for unit in PARTITIONED_UNITS for d in changes.dates(unit)}
    days.update(d for per_dataset in changes.computed.values() for d in per_dataset)
    return sorted(days)


def failure_message(failures: list[tuple[str, str, str]]) -> str:
    shown = "; ".join(f"{check} on {day}: {detail}" for day, check, detail in failures[:SHOWN_FAILURES])
    more = f"; and {len(failures) - SHOWN_FAILURES} more" if len(failures) > SHOWN_FAILURES else ""
    return f"{len(failures)} critical data-quality check(s) failed, nothing was published: {shown}{more}"


def audit_run(
    lake: Path | str, run_id: str, *, rules: Iterable[Rule] | None = None, now: datetime | None = None
) -> Audit:
    """Check everything run ``run_id`` wrote; raise :class:`DataQualityError` on a critical failure."""
    storage = LocalStorage(Path(lake))
    changes = run_changes(storage, run_id)
    view = load_published(storage).overlay(changes)
    reports = check_dates(lake, touched_dates(changes), view=view, rules=rules, now=now)
    for report in reports:
        write_report(storage, report, lambda day, ext: audit_report_key(run_id, day, ext))
    audit = Audit(run_id, reports)
    write_verdict(storage, run_id, audit.summary(), audit.failures())
    if not audit.passed:
        raise DataQualityError(failure_message(audit.failures()))
    return audit


def write_verdict(
    storage: Storage, run_id: str, summary: dict[str, object], failures: list[tuple[str, str, str]]
) -> None:
    """The audit's verdict, which publication requires: passed or not, and every critical failure."""
    body = {**summary, "run_id": run_id, "failures": [{"date": d, "check": c, "detail": x} for d, c, x in failures]}
    storage.write_bytes(verdict_key(run_id), (json.dumps(body, indent=1) + "\n").encode())
