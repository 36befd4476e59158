"""`ecomlake status`: what the local lake holds, what is pending, what is running, how the last runs went.

Reads only and takes no lock, so it is safe beside a running pipeline. Exit codes: 0
(whatever the state: a failed run is reported, not an error of this command), 2 for a bad
argument or a missing lake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from ecomlake.commands.common import (
    LakeOption,
    audit_command,
    console,
    lake_for_reading,
    lake_hint,
    positive,
    print_json,
    print_table,
    say,
    styled,
)
from ecomlake.exceptions import InvalidArgumentError

_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "ABORTED": "red", "INTERRUPTED": "red", "RUNNING": "yellow"}


def _span(dates: list[str]) -> str:
    if not dates:
        return "none"
    if len(dates) == 1:
        return f"1 date, {dates[0]}"
    return f"{len(dates)} dates, {dates[0]} to {dates[-1]}"


def _moment(stamp: str | None) -> str:
    """An ISO timestamp in UTC as people read it (seconds, no offset)."""
    return (stamp or "").replace("T", " ").removesuffix("+00:00") + (" UTC" if stamp else "")


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else ""


def print_status(state: Any) -> None:
    """The status as short lines and tables (``ecomlake status`` without ``--format json``)."""
    say(f"lake {state.lake}")
    if state.snapshot:
        say(
            f"published: snapshot {state.snapshot} by run {state.published_run} at {_moment(state.published_at)}; "
            f"{_span(state.published_dates)}"
        )
    else:
        say("published: nothing yet (snapshot 0)")
    pending = f"{len(state.pending)} pending" if state.pending else "nothing pending"
    say(f"landed: {_span(state.landed_dates)}; {pending}")
    if state.running is not None:
        r = state.running
        say(f"running: run {r.run_id} (pid {r.pid} on {r.host}, since {_moment(r.since)}: {r.command})")
    else:
        say("running: no run")
    if state.datasets:
        print_table(
            "published rows (read = kept + quarantined)",
            ["dataset", "dates", "read", "kept", "quarantined", "share"],
            [
                (
                    d.dataset,
                    d.dates,
                    *(f"{n:,}" for n in (d.rows_in, d.rows_out, d.rows_quarantined)),
                    _rate(d.rows_quarantined, d.rows_in),
                )
                for d in state.datasets
            ],
        )
    if state.pending:
        print_table("pending dates (ecomlake run --pending runs them)", ["date", "why"], sorted(state.pending.items()))
    if state.rejected:
        print_table(
            "files refused at the door (land a corrected copy to replace one)",
            ["dataset", "date", "file", "rule", "detail"],
            [(f.dataset, f.date, f.file, f.rule, f.detail) for f in state.rejected],
        )
    if state.runs:
        say(f"last {len(state.runs)} run(s), newest first:")
        for r in state.runs:
            line = Text(f"  {r.run_id}  ").append_text(styled(f"{r.status:<11}", _STYLE.get(r.status, "")))
            line.append(f" {r.seconds:6.1f} s  {r.engine:<6}  {_span(r.dates)}")
            if r.published is not None:
                line.append(f"  -> snapshot {r.published}")
            if r.failed_step or r.cause:
                line.append(f"  {r.failed_step or 'error'}: {r.cause or ''}".rstrip())
            console.print(line, soft_wrap=True, highlight=False)
    else:
        say("runs: none yet")
    if state.stopped_by_gate is not None:
        gate = state.stopped_by_gate
        for day in gate.dates:
            command = audit_command(day, gate.run_id, Path(state.lake))
            say(f"the last run stopped at its quality gate on {day}: {command}")
    if state.next_command:
        say(f"next: {state.next_command}{lake_hint(Path(state.lake))}")


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        lake: LakeOption = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        runs: Annotated[int, typer.Option("--runs", help="How many of the latest run records to list.")] = 5,
    ) -> None:
        """What the lake holds, what is pending or running, and how the latest runs went (reads only)."""
        from ecomlake.local.status import lake_status

        if output not in {"table", "json"}:
            raise InvalidArgumentError(f"--format must be table or json, got {output!r}")
        root = lake_for_reading(lake)
        state = lake_status(root, runs=positive("runs", runs))
        if output == "json":
            print_json(state.to_dict())
        else:
            print_status(state)
