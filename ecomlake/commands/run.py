"""`ecomlake run`: run the pipeline spec on the local lake, for one date or as one backfill.

Exit codes: 0 when the run succeeded, 1 when it failed (a step failed after its retries;
the failure notification and the run record say which and why), 2 for a bad argument.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from ecomlake.commands.common import (
    LakeOption,
    Lines,
    audit_command,
    console,
    interactive,
    lake_for_writing,
    print_table,
    say,
    styled,
)
from ecomlake.exceptions import InvalidArgumentError

EXIT_RUN_FAILED = 1
_STATUS = {
    "SUCCEEDED": styled("ok", "green"),
    "FAILED": styled("FAILED", "red"),
    "SKIPPED": styled("skipped", "dim"),
}
_PLAIN_STATUS = {"SUCCEEDED": "ok", "FAILED": "FAILED", "SKIPPED": "skipped"}


class _ProgressView:
    """One spinner line per running step; retries and notifications printed above the bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: Any) -> None:
        record = event.record
        label = f"  {record.name}" if record.parent else record.name
        if event.kind == "started":
            self.tasks[record.name] = self.progress.add_task(label, total=1)
        elif event.kind == "finished":
            task = self.tasks.get(record.name)
            if task is not None:
                mark = _STATUS.get(record.status, Text(str(record.status)))
                description = Text(f"{label} ").append_text(mark).append(f" ({record.seconds:.1f}s)")
                self.progress.update(task, completed=1, description=description)
        elif event.kind == "retrying":
            line = styled("retry", "yellow").append(
                f" {record.name} attempt {record.attempts + 1} in {event.delay:.1f}s: {event.message}"
            )
            self.progress.console.print(line)
        elif event.kind == "notified":
            self.progress.console.print(styled("notification", "bold").append(f": {event.message}"))


class _LineView:
    """The same events as plain lines (off a terminal: logs, CI, pipes), as they happen."""

    def __init__(self) -> None:
        self.lines = Lines()

    def __call__(self, event: Any) -> None:
        record = event.record
        label = f"  {record.name}" if record.parent else record.name
        if event.kind == "started":
            self.lines(f"{label} started")
        elif event.kind == "finished":
            self.lines(f"{label} {_PLAIN_STATUS.get(record.status, record.status)} ({record.seconds:.1f}s)")
        elif event.kind == "retrying":
            self.lines(f"retry {record.name} attempt {record.attempts + 1} in {event.delay:.1f}s: {event.message}")
        elif event.kind == "notified":
            self.lines(f"notification: {event.message}")


def summary_rows(record: Any) -> list[tuple[str, str, str, str, str]]:
    """Steps and branches (per-date items only when they failed), with a short output summary."""
    rows = []
    for step in record.steps:
        if step.kind == "date" and step.status != "FAILED":
            continue
        name = f"  {step.name}" if step.parent else step.name
        attempts = "" if step.kind in ("parallel", "map", "choice") else str(step.attempts)
        rows.append((name, step.status, attempts, f"{step.seconds:.2f}", _describe(step)))
    return rows


def _describe(step: Any) -> str:
    if step.error:
        return f"{step.error.get('Error')}: {str(step.error.get('Cause', '')).splitlines()[0][:160]}"
    out = step.output if isinstance(step.output, dict) else {}
    parts = []
    if out.get("rows_in"):
        parts.append(f"in {out['rows_in']:,}, out {out['rows_out']:,}, quarantined {out['rows_quarantined']:,}")
    if out.get("rows_built"):
        parts.append(f"built {out['rows_built']:,}")
    if step.kind == "choice" and "branch" in out:
        values = {k: "none" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for k, v in out.items()}
        shown = "; ".join(f"{k} {v}" for k, v in values.items() if k != "branch")
        parts.append(f"-> {out['branch']} ({shown})")
    if step.kind == "map" and "completed" in out:
        parts.append(f"{len(out['completed'])} date(s) passed")
    if "site" in out:
        parts.append(str(out["site"]))
    return "; ".join(parts)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        date: Annotated[
            str | None, typer.Option("--date", help="Run one business date, YYYY-MM-DD.", show_default=False)
        ] = None,
        all_dates: Annotated[
            bool, typer.Option("--all", help="Backfill: one run over every date landed under raw/.")
        ] = False,
        pending: Annotated[
            bool,
            typer.Option("--pending", help="One run over the dates whose raw files changed since they were published."),
        ] = False,
        engine: Annotated[str, typer.Option(help="ETL engine: duckdb (fast) or spark (Glue parity).")] = "duckdb",
        wait: Annotated[
            float,
            typer.Option(help="Seconds to wait for another run holding the lake's lock (0: fail at once).", min=0),
        ] = 0.0,
        lake: LakeOption = None,
    ) -> None:
        """Run the pipeline (lock, plan, ETL, merge, audit, publish, dashboard data, notify) on the local lake."""
        from ecomlake.contract import parse_date
        from ecomlake.local.runner import ENGINES, pending_dates, raw_dates, run_pipeline

        if sum((date is not None, all_dates, pending)) != 1:
            raise InvalidArgumentError("give exactly one of --date YYYY-MM-DD, --all or --pending")
        if engine not in ENGINES:
            raise InvalidArgumentError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        day = parse_date(date) if date is not None else None
        root = lake_for_writing(lake, must_exist=True)
        if pending:
            dates = pending_dates(root)
            if not dates:
                console.print("nothing pending: every date's published partitions match its landed files")
                return
        else:
            dates = [day] if day else raw_dates(root)
        what = dates[0] if len(dates) == 1 else f"{len(dates)} dates ({dates[0]} .. {dates[-1]})"
        say(f"pipeline run over {what} on {engine}, lake {root}")

        if interactive():
            columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=False) as progress:
                record = run_pipeline(root, dates, engine, on_event=_ProgressView(progress), wait=wait)
        else:
            record = run_pipeline(root, dates, engine, on_event=_LineView(), wait=wait)

        print_table(
            f"Run {record.run_id}: {record.status}",
            # Step names and statuses never break mid-word; the output column takes what is left.
            [
                Column("step", no_wrap=True),
                Column("status", no_wrap=True),
                Column("tries", no_wrap=True),
                Column("secs", no_wrap=True),
                Column("output", overflow="fold"),
            ],
            summary_rows(record),
        )
        if record.published:
            say(f"published snapshot {record.published.get('snapshot')}")
        if record.cost and "total" in record.cost:
            from ecomlake.local.run_cost import describe

            say(f"estimated AWS cost of this run: {describe(record.cost)}")
        say(f"run record: {root / record.key}")
        from ecomlake.local.status import failed_audits

        for day in failed_audits(root, record.run_id):
            say(f"audit of {day}: {audit_command(day, record.run_id, root)}")
        if not record.succeeded:
            error = record.error or {}
            cause = str(error.get("Cause", "")).splitlines()[0] if error.get("Cause") else ""
            # Plain echo, not rich: the error stays on one line whatever the terminal width.
            typer.echo(f"error: run failed at {record.failed_step}: {error.get('Error')}: {cause}", err=True)
            raise typer.Exit(EXIT_RUN_FAILED)
