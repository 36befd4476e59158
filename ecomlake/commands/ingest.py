"""`ecomlake ingest`: land files in the local raw zone, validate them, route them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ecomlake.commands.common import LakeOption, console, err_console, print_table
from ecomlake.storage import resolve_lake

if TYPE_CHECKING:
    from ecomlake.ingest import IngestResult

EXIT_REJECTED = 1


def _faults(result: IngestResult) -> str:
    report = result.report
    if not report.faults:
        return "0"
    return f"{report.fault_rows} (" + ", ".join(f"{k} {v}" for k, v in report.faults.items()) + ")"


def _drift(result: IngestResult) -> str:
    report = result.report
    parts = [f"+{name}" for name in report.extra_columns] + [f"-{name}" for name in report.missing_optional_columns]
    return ", ".join(parts) or "-"


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        files: Annotated[list[Path], typer.Argument(help="Files to land (CSV, JSON, JSON Lines; .gz accepted).")],
        dataset: Annotated[str, typer.Option(help="Dataset: transactions, products, clickstream or reviews.")],
        date: Annotated[str, typer.Option(help="Business date of the files, YYYY-MM-DD (the partition).")],
        lake: LakeOption = None,
        replace: Annotated[
            bool, typer.Option("--replace", help="Land over a different file already in raw under the same name.")
        ] = False,
    ) -> None:
        """Copy files into raw/<dataset>/date=D/, validate them and route them to the pipeline.

        Exits 1 when a file is rejected whole (it is then quarantined with a reason);
        row-level faults are reported but do not fail the command.
        """
        from ecomlake.ingest import ingest_files

        root = resolve_lake(lake)
        results = ingest_files(root, files, dataset, date, replace=replace)
        print_table(
            f"Landed in {root}",
            ["file", "rows", "row faults", "drift", "status"],
            [
                (
                    r.file,
                    r.rows,
                    _faults(r),
                    _drift(r),
                    f"rejected: {r.report.rejection.rule}" if r.report.rejection else "accepted",
                )
                for r in results
            ],
        )
        rejected = [r for r in results if r.rejected]
        for r in results:
            for example in r.report.examples:
                where = f"line {example.line}" + (f", {example.column}={example.value!r}" if example.column else "")
                console.print(f"  {r.file}: {example.reason} ({where}): {example.detail}", markup=False, soft_wrap=True)
        for r in rejected:
            err_console.print(f"rejected {r.key}: {r.report.rejection}", markup=False, soft_wrap=True)
            err_console.print(
                f"  quarantined as {r.report.quarantine_key} (+ .reason.json)", markup=False, soft_wrap=True
            )
        accepted_dates = sorted({r.date for r in results if r.accepted})
        if accepted_dates:
            console.print(f"next: ecomlake run --date {accepted_dates[0]}", markup=False, soft_wrap=True)
        if rejected:
            raise typer.Exit(EXIT_REJECTED)
