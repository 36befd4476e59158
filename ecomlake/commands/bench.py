"""`ecomlake bench`: timed stages, rows/s and peak memory on generated data."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ecomlake.commands.common import LakeOption, console, positive, print_json, print_table
from ecomlake.exceptions import InvalidArgumentError


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        transactions: Annotated[int, typer.Option(help="Transactions to generate and process.")] = 1_000_000,
        days: Annotated[int, typer.Option(help="Days the data spans.")] = 30,
        engine: Annotated[str, typer.Option(help="ETL engine: duckdb or spark.")] = "duckdb",
        lake: LakeOption = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ) -> None:
        """Benchmark the local pipeline (a fresh temporary lake unless --lake is given)."""
        from ecomlake.bench import run_bench

        positive("transactions", transactions)
        positive("days", days)
        if engine not in {"duckdb", "spark"}:
            raise InvalidArgumentError(f"--engine must be duckdb or spark, got {engine!r}")
        if output not in {"table", "json"}:
            raise InvalidArgumentError(f"--format must be table or json, got {output!r}")

        with tempfile.TemporaryDirectory(prefix="ecomlake-bench-") as tmp:
            root = Path(lake).resolve() if lake else Path(tmp)
            with console.status("starting") as status:
                report = run_bench(root, transactions, days=days, engine=engine, progress=status.update)

        if output == "json":
            print_json(report.to_dict())
            return
        m = report.machine
        print_table(
            f"ecomlake bench: {transactions:,} transactions, engine {engine}",
            ["stage", "rows", "seconds", "rows/s", "peak RSS (MB)"],
            [
                (s.stage, f"{s.rows:,}", f"{s.seconds:.2f}", f"{s.rows_per_second or '':,}", s.peak_rss_mb)
                for s in report.stages
            ],
        )
        console.print(
            f"total {report.total_seconds:.1f} s on {m['cpus']} CPUs ({m['cpu_model']}), "
            f"{m['memory_gib']} GiB, Python {m['python']}, DuckDB {m['duckdb']}"
        )
