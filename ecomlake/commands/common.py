"""Options and output helpers every command shares."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from ecomlake.contract import EnvVar
from ecomlake.exceptions import InvalidArgumentError

console = Console()
err_console = Console(stderr=True)

LakeOption = Annotated[
    Path | None,
    typer.Option(
        "--lake",
        envvar=EnvVar.LAKE.value,
        help="Local lake directory (default ./.lake, or $ECOMLAKE_LAKE).",
        show_default=False,
    ),
]


def positive(name: str, value: int) -> int:
    if value <= 0:
        raise InvalidArgumentError(f"--{name} must be a positive integer, got {value}")
    return value


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = RichTable(title=title, show_lines=False)
    for col in columns:
        table.add_column(str(col))
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
