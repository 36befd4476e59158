"""`ecomlake query`: run one of the analytics queries in sql/ on the local lake."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer

from ecomlake.commands.common import LakeOption, console, print_json, print_table
from ecomlake.exceptions import InvalidArgumentError, UnknownQueryError

FORMATS = ("table", "json", "csv")


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable; keeps type checkers calm


def _print_rows(title: str, columns: list[str], rows: list[tuple]) -> None:
    """A result table; when piped, as wide as the data so no value is cut short."""
    from rich.console import Console

    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    needed = sum(widths) + 3 * len(columns) + 1
    if console.is_terminal or needed <= console.width:
        print_table(title, columns, rows)
        return
    from rich.table import Table as RichTable

    table = RichTable(title=title)
    for col in columns:
        table.add_column(col, no_wrap=True)
    for row in cells:
        table.add_row(*row)
    Console(width=needed, file=sys.stdout).print(table)


def _print_list() -> None:
    from ecomlake.queries import list_queries

    rows = []
    for spec in list_queries():
        params = ", ".join(f"{p.name}={p.default}" for p in spec.parameters) or "-"
        rows.append((spec.name, spec.title, params))
    print_table("Queries (sql/*.sql)", ["name", "title", "params (defaults)"], rows)


def _print_explain(name: str, lake, params: dict[str, str]) -> None:
    from ecomlake.queries import ATHENA_USD_PER_TB, explain
    from ecomlake.schemas import table_schema

    plan = explain(name, lake, params)
    shown = ", ".join(f"{k}={v}" for k, v in plan.params.items())
    console.print(f"[bold]{name}[/bold]  params: {shown}", highlight=False, soft_wrap=True)
    console.file.flush()
    sys.stdout.write(plan.plan.rstrip() + "\n")  # DuckDB draws the plan already; print it verbatim
    print_table(
        "Partitions the date range selects (local estimate of the data Athena scans)",
        ["table", "partitions", "files", "bytes"],
        [(t, p if table_schema(t).partition_key else "-", f, _fmt_bytes(b)) for t, p, f, b in plan.by_table()],
    )
    console.print(
        f"estimated bytes scanned: {plan.bytes_scanned} ({_fmt_bytes(plan.bytes_scanned)}); "
        f"Athena would bill {_fmt_bytes(plan.billed_bytes)} = ${plan.athena_cost_usd:.6f} "
        f"at ${ATHENA_USD_PER_TB:.2f}/TB (10 MB minimum per query)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"files DuckDB opened running it: {plan.files_read}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def query(
        name: Annotated[
            str | None, typer.Argument(help="Query name (a file sql/NAME.sql).", show_default=False)
        ] = None,
        lake: LakeOption = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: table, json or csv.")] = "table",
        param: Annotated[
            list[str] | None,
            typer.Option("--param", help="Parameter NAME=VALUE (repeatable); see --list for names and defaults."),
        ] = None,
        explain_: Annotated[
            bool, typer.Option("--explain", help="Print the plan and the bytes the date range would scan.")
        ] = False,
        list_: Annotated[bool, typer.Option("--list", help="List the queries and their parameters.")] = False,
    ) -> None:
        """Run sql/NAME.sql (Athena SQL, transpiled to DuckDB) on the local lake."""
        from ecomlake.queries import load_query, parse_param_args, run_query
        from ecomlake.storage import require_lake

        if list_:
            _print_list()
            return
        if not name:
            raise UnknownQueryError("give a query name, or --list to see them")
        if fmt not in FORMATS:
            raise InvalidArgumentError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        params = parse_param_args(param)
        load_query(name)  # an unknown name is reported before anything else
        root = require_lake(lake)
        if explain_:
            _print_explain(name, root, params)
            return
        result = run_query(name, root, params)
        if fmt == "json":
            print_json(result.to_records())
        elif fmt == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(result.columns)
            for record in result.to_records():
                writer.writerow(["" if v is None else v for v in record.values()])
        else:
            shown = ", ".join(f"{k}={v}" for k, v in result.params_text().items())
            _print_rows(f"{name} ({shown})" if shown else name, result.columns, result.rows)
            console.print(f"{len(result.rows)} rows", highlight=False)
