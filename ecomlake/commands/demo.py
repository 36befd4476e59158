"""`ecomlake demo`: generate -> ingest -> run -> queries -> dashboard, on a local lake."""

from __future__ import annotations

from typing import Annotated

import typer

from ecomlake.commands.common import (
    LakeOption,
    Lines,
    console,
    interactive,
    lake_for_writing,
    positive,
    print_table,
    say,
)
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.local.demo import DASHBOARD_COMMAND, DASHBOARD_URL, DemoResult, dashboard_command
from ecomlake.storage import resolve_lake


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        lake: LakeOption = None,
        days: Annotated[int, typer.Option(help="Days of data to generate.")] = 30,
        transactions: Annotated[int, typer.Option(help="Transactions in total.")] = 100_000,
        products: Annotated[int, typer.Option(help="Products in the catalog.")] = 500,
        clickstream: Annotated[int, typer.Option(help="Clickstream events in total.")] = 50_000,
        reviews: Annotated[int, typer.Option(help="Reviews in total.")] = 2_000,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
        bad_rate: Annotated[float, typer.Option(help="Share of rows with an injected fault.")] = 0.01,
        engine: Annotated[str, typer.Option(help="ETL engine: duckdb (fast) or spark.")] = "duckdb",
    ) -> None:
        """Run the whole pipeline locally on generated data and build the dashboard."""
        from ecomlake.local.demo import DemoConfig, run_demo

        for name, value in (
            ("days", days),
            ("transactions", transactions),
            ("products", products),
            ("clickstream", clickstream),
            ("reviews", reviews),
        ):
            positive(name, value)
        if not 0.0 <= bad_rate < 1.0:
            raise InvalidArgumentError(f"--bad-rate must be in [0, 1), got {bad_rate}")
        if engine not in {"duckdb", "spark"}:
            raise InvalidArgumentError(f"--engine must be duckdb or spark, got {engine!r}")
        config = DemoConfig(
            days=days,
            transactions=transactions,
            products=products,
            clickstream=clickstream,
            reviews=reviews,
            seed=seed,
            bad_rate=bad_rate,
            engine=engine,
        )
        root = lake_for_writing(lake)
        with _StepProgress() as step:
            result = run_demo(root, config, progress=step)
        _print_summary(result, dashboard_command(root, resolve_lake(None)))


class _StepProgress:
    """A spinner and elapsed time per demo step on a terminal (a finished step stays, ticked);
    elsewhere one plain line per step as it starts."""

    def __enter__(self) -> _StepProgress:
        self._lines = None if interactive() else Lines()
        self._task: int | None = None
        if self._lines is None:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓"),
                TextColumn("{task.description}", markup=False),
                TimeElapsedColumn(),
                console=console,
            )
            self._progress.__enter__()
        return self

    def __call__(self, message: str) -> None:
        if self._lines is not None:
            self._lines(message)
            return
        self._finish()
        self._task = self._progress.add_task(message, total=1)

    def _finish(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=1)

    def __exit__(self, *exc: object) -> None:
        if self._lines is not None:
            if exc[0] is None:
                self._lines("done")
            return
        if exc[0] is None:
            self._finish()
        self._progress.__exit__(*exc)


def _print_summary(result: DemoResult, serve_command: str = DASHBOARD_COMMAND) -> None:
    summary = result.summary
    if summary is None:
        return
    print_table(
        "Pipeline steps", ["step", "status", "seconds"], [(s.name, s.status, f"{s.seconds:.2f}") for s in summary.steps]
    )
    print_table(
        "Rows per zone",
        ["dataset", "raw", "processed", "quarantined", "quarantine reasons"],
        [
            (
                z.name,
                "" if z.raw is None else f"{z.raw:,}",
                f"{z.processed:,}",
                f"{z.quarantined:,}",
                ", ".join(f"{reason} {n:,}" for reason, n in z.quarantined_by_reason.items()),
            )
            for z in summary.zones
        ],
    )
    print_table("Curated tables", ["table", "rows"], [(t, f"{n:,}") for t, n in summary.curated.items()])
    if summary.rejected_files:
        print_table(
            "Files rejected whole",
            ["dataset", "date", "file", "reason"],
            [(f.dataset, f.date, f.file, f.reason) for f in summary.rejected_files],
        )
    else:
        say(f"files landed: {result.files_landed}, rejected whole: 0")
    dq = summary.dq
    failed = f" ({', '.join(dq.failed_dates)})" if dq.failed_dates else ""
    console.print(
        f"data quality: {dq.passed} of {dq.dates} dates passed, {dq.failed} failed{failed}, "
        f"{dq.warnings} warning check(s) failed"
    )
    print_table("Answers", ["question", "answer"], [(a.question, a.answer) for a in summary.answers])
    say(f"lake: {result.lake}")
    say(f"dashboard built in {result.site}")
    say(f"open it with: {serve_command}  ->  {DASHBOARD_URL}")
