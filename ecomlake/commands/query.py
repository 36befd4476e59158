"""`ecomlake query`: run one of the analytics queries in sql/ on the local lake."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

from ecomlake.commands.common import (
    LakeOption,
    console,
    file_for_writing,
    lake_for_reading,
    print_json,
    print_table,
    say,
    styled,
)
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
    from rich.text import Text

    table = RichTable(title=Text(title))
    for col in columns:
        table.add_column(Text(col), no_wrap=True)
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    Console(width=needed, file=sys.stdout, markup=False, emoji=False, highlight=False).print(table)


def _print_list() -> None:
    from ecomlake.queries import list_queries

    rows = []
    for spec in list_queries():
        params = ", ".join(f"{p.name}={p.default}" for p in spec.parameters) or "-"
        rows.append((spec.name, spec.title, params))
    print_table("Queries (sql/*.sql)", ["name", "title", "params (defaults)"], rows)


def _print_explain(name: str, lake, params: dict[str, str], plan_file: Path | None) -> None:
    from ecomlake.queries import ATHENA_USD_PER_TB, explain
    from ecomlake.schemas import table_schema

    plan = explain(name, lake, params)
    shown = ", ".join(f"{k}={'null' if v is None else v}" for k, v in plan.params.items())
    console.print(styled(name, "bold").append(f"  params: {shown}"))
    if plan_file is not None:
        plan_file.write_text(plan.plan.rstrip() + "\n", encoding="utf-8")
        widest = max(map(len, plan.plan.splitlines()), default=0)
        say(f"plan (DuckDB's drawing, {widest} columns wide): {plan_file}", wrap=True)
    else:
        # DuckDB draws sibling operators side by side, hundreds of columns wide: an outline fits.
        say("plan (operators, outermost first; --plan-file FILE writes DuckDB's full drawing):", wrap=True)
        for line in plan.outline(console.width):
            say(line)
    print_table(
        "Partitions the date range selects (local estimate of the data Athena scans)",
        ["table", "partitions", "files", "bytes"],
        [(t, p if table_schema(t).partition_key else "-", f, _fmt_bytes(b)) for t, p, f, b in plan.by_table()],
    )
    say(
        f"estimated bytes scanned: {plan.bytes_scanned} ({_fmt_bytes(plan.bytes_scanned)}); "
        f"Athena would bill {_fmt_bytes(plan.billed_bytes)} = ${plan.athena_cost_usd:.6f} "
        f"at ${ATHENA_USD_PER_TB:.2f}/TB (10 MB minimum per query)",
        wrap=True,
    )
    say(f"files DuckDB opened running it: {plan.files_read}")


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet would evaluate gets a leading ``'``; numbers and dates stay as they are.

    Only text is escaped: a negative amount is a number, not a formula, and stays ``-12.50``.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv(columns: list[str], records: list[dict], *, formulas: bool = False) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    clean = (lambda v: v) if formulas else csv_safe
    writer.writerow([clean(c) for c in columns])
    for record in records:
        writer.writerow(["" if v is None else clean(v) for v in record.values()])


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
        plan_file: Annotated[
            Path | None,
            typer.Option("--plan-file", help="With --explain: write DuckDB's full plan drawing to this file."),
        ] = None,
        csv_formulas: Annotated[
            bool,
            typer.Option(
                "--csv-formulas",
                help="CSV: write text cells starting with = + - @ tab or CR as they are "
                "(by default they get a leading ' so spreadsheets do not run them as formulas).",
            ),
        ] = False,
    ) -> None:
        """Run sql/NAME.sql (Athena SQL, transpiled to DuckDB) on the local lake."""
        from ecomlake.queries import load_query, parse_param_args, run_query

        if list_:
            _print_list()
            return
        if not name:
            raise UnknownQueryError("give a query name, or --list to see them")
        if fmt not in FORMATS:
            raise InvalidArgumentError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        params = parse_param_args(param)
        load_query(name)  # an unknown name is reported before anything else
        if plan_file is not None:
            if not explain_:
                raise InvalidArgumentError("--plan-file goes with --explain")
            file_for_writing(plan_file, "--plan-file")
        root = lake_for_reading(lake)
        if explain_:
            _print_explain(name, root, params, plan_file)
            return
        result = run_query(name, root, params)
        if fmt == "json":
            print_json(result.to_records())
        elif fmt == "csv":
            write_csv(result.columns, result.to_records(), formulas=csv_formulas)
        else:
            shown = ", ".join(f"{k}={v}" for k, v in result.params_text().items())
            _print_rows(f"{name} ({shown})" if shown else name, result.columns, result.rows)
            say(f"{len(result.rows)} rows")
