"""`ecomlake bench`: timed stages, rows/s and peak memory on generated data, with targets."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table as RichTable
from rich.text import Text

from ecomlake.commands.common import (
    LakeOption,
    Lines,
    console,
    directory_for_writing,
    interactive,
    lake_for_writing,
    positive,
    print_json,
    say,
    styled,
)
from ecomlake.exceptions import InvalidArgumentError

# A pipeline run's steps shorter than this are left out of the table (they stay in the JSON).
SHOWN_STEP_SECONDS = 0.005


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "" if value is None else format(value, spec)


def _seconds(stage: Any) -> str:
    # Queries take milliseconds: a third decimal keeps them apart.
    return f"{stage.seconds:.3f}" if stage.seconds < 1 else f"{stage.seconds:.2f}"


def stages_table(report: Any) -> RichTable:
    """Every stage in as few columns as say something: engine only when two ran, JVM memory only with Spark.

    The steps of a pipeline run are indented under it.

    Fits 80 columns: no vertical rules, and the stage name folds when the terminal is narrow.
    """
    engines = {s.engine for s in report.stages if s.engine}
    jvm = any(s.child_peak_rss_mb is not None for s in report.stages)
    table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("stage", overflow="fold")
    if len(engines) > 1:
        table.add_column("engine", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("rows/s", justify="right", no_wrap=True)
    table.add_column("peak MB", justify="right", no_wrap=True)
    if jvm:
        table.add_column("JVM MB", justify="right", no_wrap=True)
    for s in report.stages:
        if s.part_of is not None and s.seconds < SHOWN_STEP_SECONDS:
            continue  # a run's bookkeeping steps (lock, gate, notify): in the JSON only
        row = [Text(f"  {s.stage}" if s.part_of is not None else s.stage)]
        if len(engines) > 1:
            row.append(Text(s.engine or ""))
        row += [f"{s.rows:,}", _seconds(s), _fmt(s.rows_per_second), _fmt(s.peak_rss_mb, ",.0f")]
        if jvm:
            row.append(_fmt(s.child_peak_rss_mb, ",.0f"))
        table.add_row(*row)
    return table


def cost_lines(report: Any) -> list[str]:
    """One line per timed pipeline run: what the same run would cost on AWS (its run record's estimate)."""
    from ecomlake.local.run_cost import describe

    lines = []
    for s in report.stages:
        if s.part_of is None and s.cost and "total" in s.cost:
            engine = f" ({s.engine})" if s.engine else ""
            lines.append(f"estimated AWS cost of {s.stage}{engine}: {describe(s.cost)}")
    return lines


def default_report_dir() -> Path:
    """Where a benchmark on a temporary lake keeps its JSON: beside the temporary lakes, not in ./.lake."""
    return Path(tempfile.gettempdir()) / "ecomlake-bench"


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        transactions: Annotated[int, typer.Option(help="Transactions to generate and process.")] = 1_000_000,
        days: Annotated[int, typer.Option(help="Days the data spans.")] = 30,
        engine: Annotated[str, typer.Option(help="ETL engine: duckdb, spark or both.")] = "both",
        daily: Annotated[
            bool,
            typer.Option(
                "--daily/--no-daily",
                help="Also time the daily run (one new date) after 30, 90 and 180 days of history, at this "
                "run's daily volume.",
            ),
        ] = False,
        lake: LakeOption = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ) -> None:
        """Benchmark the local pipeline on generated data (a fresh temporary lake unless --lake is given).

        The JSON report goes to <lake>/_reports/bench/ with --lake, else to ecomlake-bench/ in the
        system's temporary directory (the temporary lake itself is deleted). Targets are reported
        PASS or MISS; a miss does not fail the command.
        """
        from ecomlake.local.bench import ENGINES, evaluate_targets, report_path, run_bench

        positive("transactions", transactions)
        positive("days", days)
        if engine not in ENGINES:
            raise InvalidArgumentError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if output not in {"table", "json"}:
            raise InvalidArgumentError(f"--format must be table or json, got {output!r}")
        keep = lake_for_writing(lake) if lake else None
        if keep is None:
            directory_for_writing(default_report_dir(), "report directory")

        with tempfile.TemporaryDirectory(prefix="ecomlake-bench-") as tmp:
            root = keep or Path(tmp)
            if interactive():
                with console.status("starting") as status:
                    report = run_bench(
                        root, transactions, days=days, engine=engine, daily=daily, progress=status.update
                    )
            else:
                # With --format json, stdout is the report: progress goes to stderr.
                progress = Lines(err=output == "json")
                report = run_bench(root, transactions, days=days, engine=engine, daily=daily, progress=progress)
            payload = report.to_dict()
            saved = report_path(root, transactions, engine)
            if keep is None:
                # The temporary lake is deleted on exit: keep its JSON where temporary files live.
                saved = default_report_dir() / saved.name
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(payload, indent=2) + "\n")

        if output == "json":
            print_json({**payload, "report_path": str(saved)})
            return
        m = report.machine
        say(f"ecomlake bench: {report.transactions:,} transactions over {report.days} days, engine {report.engine}")
        console.print(stages_table(report))
        targets = evaluate_targets(report)
        if targets:
            say("targets")
            table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False)
            table.add_column("target", overflow="fold", ratio=2)
            for name in ("goal", "measured"):
                table.add_column(name, no_wrap=True)
            table.add_column("result", no_wrap=True)
            table.add_column("what is counted", overflow="fold", ratio=2)
            for t in targets:
                verdict = styled(t.verdict, "green" if t.passed else "red")
                table.add_row(Text(t.name), Text(t.target), Text(t.measured), verdict, Text(t.detail))
            console.print(table)
        else:
            say("no target applies at this scale (targets: <= 100,000 or >= 1,000,000 transactions, or --daily)")
        say(
            f"total {report.total_seconds:.1f} s on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
            f"load average {m.get('load_average')}, Python {m['python']}, DuckDB {m['duckdb']}, "
            f"PySpark {m['pyspark']}, rendered SQL cache {m.get('sql_cache', 'off')} at the start"
        )
        for line in cost_lines(report):
            say(line)
        say(f"report: {saved}")
