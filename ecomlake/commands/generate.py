"""`ecomlake generate`: synthetic raw files for every day, with an exact fault manifest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ecomlake.commands.common import LakeOption, Lines, console, directory_for_writing, interactive, print_table, say
from ecomlake.storage import resolve_lake

_OUT_HELP = "Output directory (default: <lake>/_generated, where `ecomlake demo` writes too)."


def default_out(lake: Path | None) -> Path:
    """Generated files sit beside the lake's zones, as an upstream delivery would."""
    from ecomlake.local.demo import GENERATED_DIR

    return directory_for_writing(resolve_lake(lake), "--lake") / GENERATED_DIR


@contextmanager
def _progress(stages: int) -> Iterator[Callable[[str, int, int], None]]:
    """A bar on a terminal; otherwise a plain line as each stage starts."""
    if not interactive():
        lines = Lines(quiet_for=1.0)
        seen: set[str] = set()

        def say_stage(stage: str, done: int, total: int) -> None:
            if stage not in seen:
                seen.add(stage)
                lines(f"generate: {stage}")

        yield say_stage
        return
    columns = (TextColumn("{task.description:<24}", markup=False), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("generating", total=stages)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        yield progress


def summary_rows(manifest: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One row per dataset: files, rows, valid rows, injected faults by reason."""
    rows = []
    for dataset, count in manifest["counts"].items():
        files = sum(1 for f in manifest["files"] if f.startswith(f"{dataset}/"))
        faults = manifest["faults"][dataset]
        detail = ", ".join(f"{reason} {n}" for reason, n in faults.items()) or "-"
        rows.append((dataset, files, count, manifest["valid_counts"][dataset], sum(faults.values()), detail))
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def generate(
        out: Annotated[Path | None, typer.Option("--out", help=_OUT_HELP, show_default=False)] = None,
        days: Annotated[int, typer.Option(help="Days of data, one partition each.")] = 30,
        start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2025-01-01",
        transactions: Annotated[int, typer.Option(help="Transactions in total (before duplicates).")] = 100_000,
        products: Annotated[int, typer.Option(help="Products in the catalog.")] = 500,
        clickstream: Annotated[int, typer.Option(help="Clickstream events in total (before duplicates).")] = 50_000,
        reviews: Annotated[int, typer.Option(help="Reviews in total (at most one per transaction).")] = 2_000,
        customers: Annotated[
            int | None, typer.Option(help="Customers (default: one per four transactions).", show_default=False)
        ] = None,
        seed: Annotated[int, typer.Option(help="Random seed: same seed and options, same bytes.")] = 42,
        bad_rate: Annotated[
            float, typer.Option(help="Share of rows per dataset given one injected fault, 0..1.")
        ] = 0.0,
        lake: LakeOption = None,
    ) -> None:
        """Generate realistic raw files (transactions, products, clickstream, reviews) and a fault manifest."""
        from ecomlake.generate import STAGES, GenerateParams
        from ecomlake.generate import generate as run_generate

        options = {
            "days": days,
            "start": start,
            "transactions": transactions,
            "products": products,
            "clickstream": clickstream,
            "reviews": reviews,
            "customers": customers,
            "seed": seed,
            "bad_rate": bad_rate,
        }
        # Validate before touching the output directory, so bad input changes nothing.
        GenerateParams(**options)
        target = directory_for_writing(out, "--out") if out is not None else default_out(lake)
        with _progress(len(STAGES)) as progress:
            manifest = run_generate(target, **options, progress=progress)
        print_table(
            f"Generated {manifest['start']} .. {manifest['end']} (seed {manifest['seed']}, bad rate {bad_rate:g})",
            ["dataset", "files", "rows", "valid rows", "faults", "faults by reason"],
            summary_rows(manifest),
        )
        stats = manifest["stats"]
        say(
            f"sessions {stats['sessions']}, purchase events {stats['purchase_events']} "
            f"({stats['transactions_with_session_share']:.2%} of transactions have a session), "
            f"returns {stats['return_share']:.1%}"
        )
        say(f"output: {target.resolve()}  (manifest: {target.resolve() / 'manifest.json'})")
