"""Run the data-quality rules over one snapshot of the local lake, for one date or many, and write the reports.

A run audits its own, unpublished view (``ecomlake.runs.audit``); ``ecomlake dq`` checks
what is published. Either way every table is read through one snapshot and one DuckDB
connection serves all the dates checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ecomlake.contract import Table, dq_report_key, parse_date
from ecomlake.dq.checks import LakeFacts, evaluate
from ecomlake.dq.facts import FactsLoader
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import Rule, configured_rules
from ecomlake.exceptions import LakeNotFoundError
from ecomlake.snapshots import Snapshot, load_published
from ecomlake.storage import LocalStorage, Storage


def open_catalog(lake: Path, snapshot: Snapshot | None = None) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """The local catalog over ``lake`` (``snapshot``, default the published one), one view at a time.

    A table whose files do not match its schema must fail its own checks, not stop the
    whole report, so its error is returned (table -> message) instead of raised.
    """
    from ecomlake.catalog import CatalogError, connect, register_views

    view = snapshot if snapshot is not None else load_published(LocalStorage(lake))
    con = connect(lake, tables=(), snapshot=view)
    unavailable: dict[str, str] = {}
    for table in Table:
        try:
            register_views(con, lake, [table], view)
        except CatalogError as err:
            unavailable[str(table)] = str(err)
    return con, unavailable


def check_lake(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    day: str,
    rules: Iterable[Rule],
    *,
    facts: LakeFacts,
    now: datetime | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> DQReport:
    """Evaluate ``rules`` for ``day`` on an open catalog connection, judging the run-summary kinds on ``facts``."""
    day = parse_date(day)
    results = evaluate(con, rules, day, facts, unavailable=unavailable)
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return DQReport(day=day, results=results, generated_at=stamp, facts=facts, lake=str(lake))


def check_dates(
    lake: Path | str,
    dates: Sequence[str],
    *,
    view: Snapshot | None = None,
    rules: Iterable[Rule] | None = None,
    now: datetime | None = None,
) -> list[DQReport]:
    """Check every date of ``dates`` in ``view`` (default: the published snapshot); nothing is written."""
    root = Path(lake)
    if not root.is_dir():
        raise LakeNotFoundError(f"no lake at {root}")
    storage = LocalStorage(root)
    snapshot = view if view is not None else load_published(storage)
    chosen = list(configured_rules() if rules is None else rules)
    loader = FactsLoader(storage, snapshot)
    con, unavailable = open_catalog(root, snapshot)
    try:
        return [
            check_lake(con, root, d, chosen, facts=loader.load(d), now=now, unavailable=unavailable)
            for d in sorted({parse_date(d) for d in dates})
        ]
    finally:
        con.close()


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
