"""`ecomlake demo`: generate -> ingest -> run -> queries -> dashboard, on a local lake."""

from __future__ import annotations

from typing import Annotated

import typer

from ecomlake.commands.common import LakeOption, console, positive, print_table
from ecomlake.exceptions import InvalidArgumentError
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
        from ecomlake.demo import DemoConfig, run_demo

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
        root = resolve_lake(lake)
        with console.status("starting") as status:
            result = run_demo(root, config, progress=lambda msg: status.update(msg))

        print_table(
            "Pipeline steps",
            ["step", "status", "seconds"],
            [(s.get("name"), s.get("status"), s.get("seconds")) for s in result.run.get("steps", [])],
        )
        print_table("Query results", ["query", "rows"], sorted(result.queries.items()))
        console.print(f"files landed: {result.files_landed}, rejected whole: {result.files_rejected}")
        console.print(f"lake: {result.lake}")
        console.print(f"dashboard: {result.site}/index.html  (serve it: ecomlake dashboard --serve)")
