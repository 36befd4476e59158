"""`ecomlake dq`: run the data-quality checks for one date and print the results.

Exit codes: 0 when no critical check failed (warnings allowed), 1 when one did (with one
line on stderr naming the failed checks), 2 for a bad argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable
from rich.text import Text

from ecomlake.commands.common import (
    LakeOption,
    console,
    lake_for_reading,
    lake_for_writing,
    print_json,
    print_table,
    say,
    styled,
)
from ecomlake.exceptions import InvalidArgumentError

EXIT_CRITICAL = 1


# Failed warnings read WARN, failed critical checks FAIL: severity without another column.
_LABEL = {
    "pass": styled("PASS", "green"),
    "skip": styled("SKIP", "dim"),
    "warning": styled("WARN", "yellow"),
    "critical": styled("FAIL", "red"),
}


def status_label(result: Any) -> Text:
    status = str(result.status)
    return _LABEL[result.severity] if status == "fail" else _LABEL[status]


def checks_table(title: str, results: list[Any]) -> RichTable:
    """The checks as a table; ids fold rather than truncate (they are what people search the report for)."""
    table = RichTable(title=Text(title), caption="FAIL = critical check failed, WARN = warning check failed")
    longest = max((len(r.rule_id) for r in results), default=20)
    # A fixed width (rich crops the table's edge when a min_width cannot be met); the detail gets the rest.
    table.add_column("check", overflow="fold", width=min(longest, max(20, console.width - 50)))
    table.add_column("status", no_wrap=True)
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("detail", overflow="fold")
    for r in results:
        value = _value_text(r.value)
        table.add_row(Text(r.rule_id), status_label(r), Text(value), Text(r.detail))
    return table


def _value_text(value: Any) -> str:
    """Counts with separators, rates with four decimals, amounts with two (the JSON keeps full precision)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4f}" if abs(value) < 1 else f"{value:,.2f}"


def summary_line(report: Any) -> Text:
    """PASSED/FAILED and the counts, on one line."""
    counts = report.counts()
    line = styled("PASSED", "green") if report.passed else styled("FAILED", "red")
    line.append(
        f" {counts['checks']} checks: {counts['passed']} passed, {counts['critical_failed']} critical failed, "
        f"{counts['warnings_failed']} warnings, {counts['skipped']} skipped"
    )
    return line


def run_audit_report(root: Path, run_id: str, day: str) -> tuple[Any, str]:
    """The data-quality report run ``run_id``'s audit wrote for ``day``, and its key in the lake."""
    import json

    from ecomlake.contract import parse_run_id
    from ecomlake.dq.report import DQReport
    from ecomlake.runs.publish import audit_report_key

    key = audit_report_key(parse_run_id(run_id), day)
    try:
        document = json.loads((root / key).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidArgumentError(
            f"run {run_id} has no data-quality report for {day} in {root} "
            "(it stopped before its audit, or that date was not in it; ecomlake status lists the runs)"
        ) from None
    return DQReport.from_dict(document), key


def register(app: typer.Typer) -> None:
    @app.command()
    def dq(
        date: Annotated[str, typer.Option("--date", help="Business date to check, YYYY-MM-DD.", show_default=False)],
        lake: LakeOption = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        all_checks: Annotated[
            bool, typer.Option("--all", help="List every check (passed and skipped too), not only the failed ones.")
        ] = False,
        failed: Annotated[
            bool, typer.Option("--failed", help="List only the failed checks (the default for tables).")
        ] = False,
        run_id: Annotated[
            str | None,
            typer.Option(
                "--run",
                help="Show the audit a run made of the date (its unpublished view), as stored by the run.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Data-quality report for a date: a summary and the failed checks (exit 1 when a critical one fails)."""
        from ecomlake.contract import dq_report_key, parse_date
        from ecomlake.dq.report import severity_rank

        day = parse_date(date)
        if output not in {"table", "json"}:
            raise InvalidArgumentError(f"--format must be table or json, got {output!r}")
        if all_checks and failed:
            raise InvalidArgumentError("give --all or --failed, not both")
        if run_id is None:
            from ecomlake.dq import run_checks

            root = lake_for_writing(lake, must_exist=True)
            report, report_key, title = run_checks(root, day), dq_report_key(day), f"data quality {day}"
        else:
            root = lake_for_reading(lake)
            report, report_key = run_audit_report(root, run_id, day)
            title = f"data quality {day}, as the audit of run {run_id} found it (not published)"

        if output == "json":
            print_json(report.to_dict())
        else:
            say(title)
            console.print(summary_line(report), soft_wrap=True)
            shown = sorted(report.results if all_checks else report.failures, key=severity_rank)
            if shown:
                title = f"all {len(shown)} checks" if all_checks else f"{len(shown)} failed check(s)"
                console.print(checks_table(title, shown))
            else:
                counts = report.counts()
                say(f"no failed checks ({counts['passed']} passed, {counts['skipped']} skipped; --all lists every one)")
            quarantined = [
                (ds, why, n) for ds, reasons in report.facts.quarantined.items() for why, n in reasons.items()
            ]
            if quarantined:
                print_table("quarantined rows", ["dataset", "reason", "rows"], quarantined)
            say(f"report: {root / report_key} (and .html)")
        if not report.passed:
            ids = [r.rule_id for r in report.critical_failures]
            named = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            say(f"error: data quality failed for {day}: {len(ids)} critical check(s): {named}", err=True)
            raise typer.Exit(EXIT_CRITICAL)
