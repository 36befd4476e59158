"""`ecomlake ingest`: land files in the local raw zone, validate them, route them.

Takes files and folders in the generator's layout (``<dataset>/date=YYYY-MM-DD/<file>``):
a whole generated tree, a dataset folder, a partition folder or single files. Dataset and
date come from the folders; ``--dataset`` / ``--date`` give them for files outside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column

from ecomlake.commands.common import (
    LakeOption,
    counted_progress,
    lake_for_writing,
    lake_hint,
    print_table,
    say,
)
from ecomlake.contract import VALIDATION_PREFIX

if TYPE_CHECKING:
    from ecomlake.ingest import IngestResult

EXIT_REJECTED = 1
# Up to this many files are listed one per row; more are summed per dataset.
MAX_FILE_ROWS = 8
MAX_EXAMPLES = 5


def _faults(result: IngestResult) -> str:
    report = result.report
    if not report.faults:
        return "0"
    return f"{report.fault_rows} (" + ", ".join(f"{k} {v}" for k, v in report.faults.items()) + ")"


def _drift(result: IngestResult) -> str:
    report = result.report
    parts = [f"+{name}" for name in report.extra_columns] + [f"-{name}" for name in report.missing_optional_columns]
    return ", ".join(parts) or "-"


def _status(result: IngestResult) -> str:
    rejection = result.report.rejection
    return f"rejected: {rejection.rule}" if rejection else "accepted"


def _namer(results: list[IngestResult]):
    """File names as short as they can be: the bare name when every file is in one partition."""
    if len({(r.dataset, r.date) for r in results}) == 1:
        return lambda r: r.file
    return lambda r: f"{r.dataset}/date={r.date}/{r.file}"


def _by_dataset(results: list[IngestResult]) -> tuple[list[tuple[str, ...]], list[str]]:
    """One row per dataset, and one line per dataset with its row faults by reason."""
    rows, reasons = [], []
    for dataset in dict.fromkeys(r.dataset for r in results):
        mine = [r for r in results if r.dataset == dataset]
        dates = sorted({r.date for r in mine})
        last = dates[-1][5:] if dates[-1][:4] == dates[0][:4] else dates[-1]
        span = dates[0] if len(dates) == 1 else f"{dates[0]}..{last}"
        faults: dict[str, int] = {}
        for r in mine:
            for reason, n in r.report.faults.items():
                faults[reason] = faults.get(reason, 0) + n
        rejected = sum(1 for r in mine if r.rejected)
        drift = sum(1 for r in mine if _drift(r) != "-")
        rows.append(
            (
                dataset,
                span,
                f"{len(mine):,}",
                f"{sum(r.rows for r in mine):,}",
                f"{sum(faults.values()):,}",
                f"{rejected:,}",
                f"{drift:,}",
            )
        )
        if faults:
            reasons.append(f"  {dataset}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(faults.items())))
    return rows, reasons


def _print_summary(root: Path, results: list[IngestResult], skipped: list[Path]) -> None:
    _name = _namer(results)
    if len(results) <= MAX_FILE_ROWS:
        print_table(
            f"Landed in {root}",
            ["file", "rows", "row faults", "drift", Column("status", no_wrap=True)],
            [(_name(r), r.rows, _faults(r), _drift(r), _status(r)) for r in results],
        )
    else:
        rows, reasons = _by_dataset(results)
        print_table(
            f"Landed {len(results):,} files in {root}",
            [
                Column("dataset", no_wrap=True),
                Column("dates", no_wrap=True),
                "files",
                "rows",
                "faulty rows",
                "rejected",
                "drift",
            ],
            rows,
        )
        if reasons:
            say("row faults by reason (quarantined by the ETL, row by row):")
            for line in reasons:
                say(line)
        for r in results:
            if r.rejected or _drift(r) != "-":
                say(f"  {_name(r)}: {_status(r)}; drift {_drift(r)}")
    examples = [(r, example) for r in results for example in r.report.examples]
    for r, example in examples[:MAX_EXAMPLES]:
        where = f"line {example.line}" + (f", {example.column}={example.value!r}" if example.column else "")
        say(f"  {_name(r)}: {example.reason} ({where}): {example.detail}")
    if len(examples) > MAX_EXAMPLES:
        say(f"  ... {len(examples) - MAX_EXAMPLES} more examples in {root / VALIDATION_PREFIX}")
    if skipped:
        names = ", ".join(str(p) for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        say(f"skipped (not in a <dataset>/date=YYYY-MM-DD folder): {names}")
    for r in results:
        if r.rejected:
            say(f"rejected {r.key}: {r.report.rejection}", err=True)
            say(f"  quarantined as {r.report.quarantine_key} (+ .reason.json)", err=True)
    accepted_dates = sorted({r.date for r in results if r.accepted})
    if len(accepted_dates) == 1:
        say(f"next: ecomlake run --date {accepted_dates[0]}{lake_hint(root)}")
    elif accepted_dates:
        say(f"next: ecomlake run --all{lake_hint(root)}  ({len(accepted_dates)} dates)")


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        paths: Annotated[
            list[Path],
            typer.Argument(
                help="Files or folders in the generator's layout <dataset>/date=YYYY-MM-DD/<file> "
                "(a whole tree, a dataset folder, a partition folder or single files). "
                "CSV, JSON, JSON Lines; .gz accepted.",
                show_default=False,
            ),
        ],
        dataset: Annotated[
            str | None,
            typer.Option(help="Dataset of files outside the layout: transactions, products, clickstream or reviews."),
        ] = None,
        date: Annotated[
            str | None, typer.Option(help="Business date (partition) of files outside the layout, YYYY-MM-DD.")
        ] = None,
        lake: LakeOption = None,
        replace: Annotated[
            bool, typer.Option("--replace", help="Land over a different file already in raw under the same name.")
        ] = False,
        follow_symlinks: Annotated[
            bool,
            typer.Option("--follow-symlinks", help="Land what symbolic links point to (refused by default)."),
        ] = False,
    ) -> None:
        """Copy files into raw/<dataset>/date=D/, validate them and route them to the pipeline.

        Exits 1 when a file is rejected whole (it is then quarantined with a reason);
        row-level faults are reported but do not fail the command.
        """
        from ecomlake.ingest.local import collect, land_batches

        found = collect(paths, dataset=dataset, day=date, follow_symlinks=follow_symlinks)
        root = lake_for_writing(lake)
        with counted_progress("landing", found.files) as advance:

            def landed(batch: list[IngestResult]) -> None:
                first = batch[0]
                advance(len(batch), f"{first.dataset} {first.date}")

            results = land_batches(
                root, found.batches, replace=replace, follow_symlinks=follow_symlinks, on_batch=landed
            )
        _print_summary(root, results, found.skipped)
        if any(r.rejected for r in results):
            raise typer.Exit(EXIT_REJECTED)
