"""Run every data-quality rule for one date and write the report beside the lake's other reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ecomlake.contract import Table, dq_report_key, parse_date
from ecomlake.dq.checks import evaluate
from ecomlake.dq.facts import load_facts
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import RULES, Rule
from ecomlake.exceptions import LakeNotFoundError
from ecomlake.storage import LocalStorage, Storage


def open_catalog(lake: Path) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """The local catalog over ``lake``, one view at a time.

    A table whose files do not match its schema must fail its own checks, not stop the
    whole report, so its error is returned (table -> message) instead of raised.
    """
    from ecomlake.catalog import CatalogError, connect, register_views

    con = connect(lake, tables=())
    unavailable: dict[str, str] = {}
    for table in Table:
        try:
            register_views(con, lake, [table])
        except CatalogError as err:
            unavailable[str(table)] = str(err)
    return con, unavailable


def check_lake(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    day: str,
    rules: Iterable[Rule] = RULES,
    *,
    now: datetime | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> DQReport:
    """Evaluate ``rules`` for ``day`` on an open catalog connection over the lake at ``lake``.

    ``unavailable`` names tables the catalog could not open (their checks fail with the reason).
    """
    day = parse_date(day)
    facts = load_facts(lake, day)
    results = evaluate(con, rules, day, facts, unavailable=unavailable)
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return DQReport(day=day, results=results, generated_at=stamp, facts=facts, lake=str(lake))


def write_report(storage: Storage, report: DQReport) -> dict[str, str]:
    """Write the JSON and HTML report at ``contract.dq_report_key``; returns their URIs."""
    written = {}
    for ext, text in (("json", report.to_json()), ("html", report.to_html())):
        key = dq_report_key(report.day, ext)
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
    """Check one date of the local lake and write ``_reports/dq/date=D.json`` and ``.html``.

    Never raises on failed checks -- the report says what failed and ``report.passed`` is
    False on a critical failure; the caller decides whether to stop (the pipeline does).
    """
    day = parse_date(day)
    root = Path(lake)
    if not root.is_dir():
        raise LakeNotFoundError(f"no lake at {root}")
    con, unavailable = open_catalog(root)
    try:
        report = check_lake(con, root, day, RULES if rules is None else rules, now=now, unavailable=unavailable)
    finally:
        con.close()
    write_report(LocalStorage(root), report)
    return report
