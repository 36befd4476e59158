"""`ecomlake dq`: run the data-quality checks for one date and print the results.

Exit codes: 0 when no critical check failed (warnings allowed), 1 when one did (with one
line on stderr naming the failed checks), 2 for a bad argument.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table as RichTable
from rich.text import Text

from ecomlake.commands.common import LakeOption, console, err_console, print_json, print_table
from ecomlake.exceptions import InvalidArgumentError

EXIT_CRITICAL = 1


# Failed warnings read WARN, failed critical checks FAIL: severity without another column.
_LABEL = {"pass": "[green]PASS[/]", "skip": "[dim]SKIP[/]", "warning": "[yellow]WARN[/]", "critical": "[red]FAIL[/]"}


def status_label(result: Any) -> str:
    status = str(result.status)
    return _LABEL[result.severity] if status == "fail" else _LABEL[status]


def checks_table(title: str, results: list[Any]) -> RichTable:
    """The checks as a table; ids fold rather than truncate (they are what people search the report for)."""
    table = RichTable(title=title, caption="FAIL = critical check failed, WARN = warning check failed")
    table.add_column("check", overflow="fold", min_width=20)
    table.add_column("status")
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("detail", overflow="fold")
    for r in results:
        value = "" if r.value is None else str(r.value)
        table.add_row(r.rule_id, status_label(r), value, Text(r.detail))
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def dq(
        date: Annotated[str, typer.Option("--date", help="Business date to check, YYYY-MM-DD.", show_default=False)],
        lake: LakeOption = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        failed: Annotated[bool, typer.Option("--failed", help="List only the checks that failed.")] = False,
    ) -> None:
        """Data-quality report for a date (exit 1 when a critical check fails)."""
        from ecomlake.contract import dq_report_key, parse_date
        from ecomlake.dq import run_checks
        from ecomlake.dq.report import severity_rank
        from ecomlake.storage import require_lake

        day = parse_date(date)
        if output not in {"table", "json"}:
            raise InvalidArgumentError(f"--format must be table or json, got {output!r}")
        root = require_lake(lake)
        report = run_checks(root, day)

        if output == "json":
            print_json(report.to_dict())
        else:
            shown = sorted(report.failures if failed else report.results, key=severity_rank)
            console.print(checks_table(f"data quality {day}", shown))
            quarantined = [
                (ds, why, n) for ds, reasons in report.facts.quarantined.items() for why, n in reasons.items()
            ]
            if quarantined:
                print_table("quarantined rows", ["dataset", "reason", "rows"], quarantined)
            counts = report.counts()
            verdict = "[red]FAILED[/red]" if not report.passed else "[green]PASSED[/green]"
            console.print(
                f"{verdict} {counts['checks']} checks: {counts['passed']} passed, "
                f"{counts['critical_failed']} critical failed, {counts['warnings_failed']} warnings, "
                f"{counts['skipped']} skipped",
                soft_wrap=True,
            )
            console.print(f"report: {root / dq_report_key(day)} (and .html)", highlight=False, soft_wrap=True)
        if not report.passed:
            ids = [r.rule_id for r in report.critical_failures]
            named = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            err_console.print(
                f"error: data quality failed for {day}: {len(ids)} critical check(s): {named}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_CRITICAL)
