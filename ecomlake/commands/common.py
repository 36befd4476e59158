"""Options and output helpers every command shares.

Output never interprets data as rich markup: the consoles are built with markup and emoji
codes off, so a product name like ``[bold]`` or a review reading ``:x:`` prints as written.
Colour is added explicitly, with ``Text`` objects built from fixed strings.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.table import Column
from rich.table import Table as RichTable
from rich.text import Text

from ecomlake.contract import EnvVar
from ecomlake.exceptions import InvalidArgumentError, LakeNotFoundError

console = Console(markup=False, emoji=False)
err_console = Console(stderr=True, markup=False, emoji=False)

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


def styled(text: str, style: str) -> Text:
    """Literal text in a style (never parsed as markup)."""
    return Text(text, style=style)


def cell(value: Any) -> RenderableType:
    """A table cell: rich renderables as they are, anything else as literal text."""
    if isinstance(value, Text | RichTable):
        return value
    return Text("" if value is None else str(value))


def print_table(title: str | None, columns: Sequence[str | Column], rows: Iterable[Sequence[Any]]) -> None:
    """A table of literal values; a value too long for its column folds onto the next line, never cut.

    A column given as a ``rich.table.Column`` keeps its own settings (``no_wrap`` for short labels).
    """
    headers = [c if isinstance(c, Column) else Column(Text(str(c)), overflow="fold") for c in columns]
    table = RichTable(*headers, title=None if title is None else Text(title), show_lines=False)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console.print(table)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def say(text: str, *, err: bool = False, wrap: bool = False) -> None:
    """Literal text: one line never wrapped or cut (the default), or prose folded at the width (``wrap``)."""
    (err_console if err else console).print(text, soft_wrap=not wrap, highlight=False)


# --------------------------------------------------------------------------- paths


def _first_non_directory(path: Path) -> Path | None:
    """The path itself or its nearest existing ancestor, when that is not a directory."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def directory_for_writing(path: Path, option: str, *, named: Path | None = None) -> Path:
    """A directory a command will create or write into: refused, with the reason, if it cannot be.

    Checked before any work, so a long run does not fail at its last step (and a read-only
    or full disk is named rather than shown as a traceback).
    """
    path = Path(path)
    shown = named or path  # the path the user gave (a file's, when its folder is checked)
    blocker = _first_non_directory(path)
    if blocker is not None:
        what = "is a file" if blocker == shown else f"is under {blocker}, which is a file"
        raise InvalidArgumentError(f"{option} {shown} {what}, not a directory")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        if _read_only_fs(existing):
            cause = f"{existing} is on a read-only file system"
        else:
            cause = f"no permission to write in {existing}"
        raise InvalidArgumentError(f"{option} {shown} cannot be written: {cause}")
    return path


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def file_for_writing(path: Path, option: str) -> Path:
    """An output file: its folder must be creatable and the file itself not a directory."""
    path = Path(path)
    if path.is_dir():
        raise InvalidArgumentError(f"{option} {path} is a directory, not a file")
    directory_for_writing(path.parent, option, named=path)
    return path


# The lake the running command works on, for errors that name no file (a write that fails
# half-way on a full disk reports only the cause).
current: dict[str, Path | None] = {"lake": None}


def lake_for_reading(lake: Path | None) -> Path:
    """The lake a command reads (it must exist and be a directory)."""
    from ecomlake.storage import require_lake, resolve_lake

    root = resolve_lake(lake)
    if root.exists() and not root.is_dir():
        raise LakeNotFoundError(f"--lake {root} is a file, not a lake directory")
    current["lake"] = require_lake(root)
    return root


def lake_hint(root: Path) -> str:
    """`` --lake DIR`` for a suggested next command, unless ``root`` is the default lake."""
    from ecomlake.storage import resolve_lake

    return "" if root == resolve_lake(None) else f" --lake {root}"


def audit_command(day: str, run_id: str, root: Path) -> str:
    """The command that shows what run ``run_id``'s audit found on ``day`` (a run its quality gate stopped)."""
    return f"ecomlake dq --date {day} --run {run_id}{lake_hint(root)}"


def lake_for_writing(lake: Path | None, *, must_exist: bool = False) -> Path:
    """The lake a command writes: an existing lake (``must_exist``) or one it may create."""
    from ecomlake.storage import resolve_lake

    root = lake_for_reading(lake) if must_exist else resolve_lake(lake)
    current["lake"] = directory_for_writing(root, "--lake")
    return root


# --------------------------------------------------------------------------- progress


def interactive() -> bool:
    """True when stdout is a terminal: live bars and spinners; otherwise plain lines."""
    return console.is_terminal


class Lines:
    """Progress as plain lines, for logs and pipes: one line per event, with the time since the start.

    On stdout with the command's report, or on stderr (``err``) when stdout carries data
    (``--format json``). With ``quiet_for`` seconds, lines of the first moments are held
    back and shown only if the work is still going after that: a quick command prints none.
    """

    def __init__(self, quiet_for: float = 0.0, *, err: bool = False) -> None:
        self.started = time.monotonic()
        self.quiet_for = quiet_for
        self.err = err
        self.pending: list[str] = []

    def __call__(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        line = f"[{elapsed:6.1f}s] {text}"
        if elapsed < self.quiet_for:
            self.pending.append(line)
            return
        for held in self.pending:
            say(held, err=self.err)
        self.pending.clear()
        say(line, err=self.err)


@contextmanager
def counted_progress(description: str, total: int) -> Iterator[Any]:
    """A bar over ``total`` items on a terminal; otherwise a plain line per tenth, at most one a second.

    Yields ``advance(n, note)``.
    """
    if interactive():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n, note="": bar.update(task, advance=n, description=f"{description} {note}".rstrip())
        return
    lines = Lines()
    state = {"done": 0, "tenth": 0, "said": 0.0, "any": False}

    def advance(n: int, note: str = "") -> None:
        # A line per tenth of the work, at most one a second: a quick run prints none.
        state["done"] += n
        tenth = state["done"] * 10 // max(total, 1)
        now = time.monotonic()
        finished = state["done"] >= total
        if tenth > state["tenth"] and (now - state["said"] >= 1.0 or (finished and state["any"])):
            if not state["any"] and now - lines.started < 1.0:
                return
            state.update(tenth=tenth, said=now, any=True)
            lines(f"{description}: {state['done']}/{total}" + (f" ({note})" if note else ""))

    yield advance
