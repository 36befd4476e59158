"""Run the data-quality rules over one snapshot, for one date or many, and write the reports.

:func:`audit_dates` is engine-neutral: one open engine (its views over one snapshot), the
facts read through ``Storage``, every date judged by the same evaluator. A run audits its
own, unpublished view (``ecomlake.runs.audit``), on DuckDB locally or Spark on Glue;
``ecomlake dq`` checks what is published (:func:`run_checks`, DuckDB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ecomlake.contract import dq_report_key, parse_date
from ecomlake.dq.engine import Engine
from ecomlake.dq.evaluation import evaluate_dates
from ecomlake.dq.facts import FactsLoader
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import Rule, configured_rules
from ecomlake.exceptions import LakeNotFoundError
from ecomlake.snapshots import Snapshot, load_published
from ecomlake.storage import LocalStorage, Storage


def audit_dates(
    engine: Engine,
    storage: Storage,
    view: Snapshot,
    dates: Iterable[str],
    rules: Iterable[Rule],
    *,
    now: datetime | None = None,
    source: str = "",
) -> list[DQReport]:
    """One report per date of ``dates``, every rule evaluated on ``engine``; nothing is written.

    ``engine`` must be open on ``view``; ``storage`` is where the run journals, quarantine
    reason documents and validation reports are read from. ``source`` names the lake in
    the reports.
    """
    days = sorted({parse_date(d) for d in dates})
    chosen = list(rules)
    facts = FactsLoader(storage, view, engine.count_reasons).load_all(days)
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    results = evaluate_dates(engine, chosen, facts)
    return [DQReport(day=day, results=results[day], generated_at=stamp, facts=facts[day], lake=source) for day in days]


def check_dates(
    lake: Path | str,
    dates: Sequence[str],
    *,
    view: Snapshot | None = None,
    rules: Iterable[Rule] | None = None,
    now: datetime | None = None,
) -> list[DQReport]:
    """Check every date of ``dates`` in ``view`` (default: the published snapshot) of a local lake, on DuckDB."""
    from ecomlake.dq.engine_duckdb import DuckDBEngine

    root = Path(lake)
    if not root.is_dir():
        raise LakeNotFoundError(f"no lake at {root}")
    storage = LocalStorage(root)
    snapshot = view if view is not None else load_published(storage)
    chosen = configured_rules() if rules is None else rules
    engine = DuckDBEngine(root, snapshot)
    try:
        return audit_dates(engine, storage, snapshot, dates, chosen, now=now, source=str(root))
    finally:
        engine.close()


def write_report(
    storage: Storage, report: DQReport, key_of: Callable[[str, str], str] = dq_report_key
) -> dict[str, str]:
    """Write the JSON and HTML report (at ``contract.dq_report_key`` unless told); returns their URIs."""
    written = {}
    for ext, text in (("json", report.to_json()), ("html", report.to_html())):
        key = key_of(report.day, ext)
        storage.write_bytes(key, text.encode("utf-8"))
        written[ext] = storage.uri(key)
    return written


def run_checks(
    lake: Path | str,
    day: str,
    *,
    rules: Iterable[Rule] | None = None,
    now: datetime | None = None,
) -> DQReport:
    """Check one date of what the local lake publishes and write ``_reports/dq/date=D.json`` and ``.html``.

    Never raises on failed checks -- the report says what failed and ``report.passed`` is
    False on a critical failure; the caller decides what to do.
    """
    report = check_dates(lake, [day], rules=rules, now=now)[0]
    write_report(LocalStorage(Path(lake)), report)
    return report
