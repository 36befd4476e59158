"""`ecomlake bench`: timed stages, rows/s and peak memory on generated data, with targets."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ecomlake.commands.common import LakeOption, console, positive, print_json, print_table
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.storage import resolve_lake


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "" if value is None else format(value, spec)


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        transactions: Annotated[int, typer.Option(help="Transactions to generate and process.")] = 1_000_000,
        days: Annotated[int, typer.Option(help="Days the data spans.")] = 30,
        engine: Annotated[str, typer.Option(help="ETL engine: duckdb, spark or both.")] = "both",
        lake: LakeOption = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ) -> None:
        """Benchmark the local pipeline (a fresh temporary lake unless --lake is given; the JSON report
        goes to <lake>/_reports/bench/, ./.lake/_reports/bench/ for a temporary lake).

        Targets are reported PASS or MISS; a miss does not fail the command.
        """
        from ecomlake.local.bench import ENGINES, QUERY, evaluate_targets, report_path, run_bench

        positive("transactions", transactions)
        positive("days", days)
        if engine not in ENGINES:
            raise InvalidArgumentError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if output not in {"table", "json"}:
            raise InvalidArgumentError(f"--format must be table or json, got {output!r}")

        with tempfile.TemporaryDirectory(prefix="ecomlake-bench-") as tmp:
            root = Path(lake).resolve() if lake else Path(tmp)
            with console.status("starting") as status:
                report = run_bench(root, transactions, days=days, engine=engine, progress=status.update)
            payload = report.to_dict()
            # A temporary lake is deleted on exit: keep the JSON in the default lake's
            # _reports/bench (./.lake unless $ECOMLAKE_LAKE says otherwise).
            saved = report_path(root if lake else resolve_lake(None), transactions, engine)
            if not lake:
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(payload, indent=2) + "\n")

        if output == "json":
            print_json({**payload, "report_path": str(saved)})
            return
        m = report.machine
        print_table(
            f"ecomlake bench: {transactions:,} transactions over {days} days, engine {engine}",
            ["stage", "engine", "rows", "seconds", "rows/s", "ms", "peak RSS (MB)", "JVM peak RSS (MB)"],
            [
                (
                    s.stage,
                    s.engine or "",
                    f"{s.rows:,}",
                    f"{s.seconds:.2f}",
                    _fmt(s.rows_per_second),
                    _fmt(s.seconds * 1000) if s.kind == QUERY else "",
                    _fmt(s.peak_rss_mb, ",.1f"),
                    _fmt(s.child_peak_rss_mb, ",.1f"),
                )
                for s in report.stages
            ],
        )
        targets = evaluate_targets(report)
        if targets:
            print_table(
                "Targets",
                ["target", "goal", "measured", "result", "what is counted"],
                [(t.name, t.target, t.measured, t.verdict, t.detail) for t in targets],
            )
        else:
            console.print("no target applies at this scale (targets: <= 100,000 or >= 10,000,000 transactions)")
        console.print(
            f"total {report.total_seconds:.1f} s on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
            f"load average {m.get('load_average')}, Python {m['python']}, DuckDB {m['duckdb']}, "
            f"PySpark {m['pyspark']}"
        )
        console.print(f"report: {saved}")
