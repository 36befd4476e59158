"""What a data-quality engine does: the seam between the rules (one set) and where they run.

The rules, their SQL (``ecomlake.dq.checks``) and the judges are the same everywhere; an
engine contributes only what differs between DuckDB on a laptop and Spark on Glue:

* **views** -- one view per catalog table over exactly the versions a snapshot names, with
  the columns and types of ``ecomlake.schemas`` (a table whose files do not match is
  *unavailable*: every check on it fails with the reason, the others still run). The files
  the audited run wrote are checked against the schema from their Parquet footers, the same
  way on both engines (:func:`schema_mismatch`): left alone, Spark would read a missing
  column as nulls where DuckDB fails only the queries that touch it;
* **SQL execution** -- :meth:`Engine.fetch` takes SQL in the canonical (DuckDB) dialect and
  returns column names and rows of plain Python values; an error is a :class:`QueryError`
  with one line of explanation, never the engine's own exception type;
* **quarantine counting** -- quarantined rows per date and reason, reading only the reason
  column of the quarantine versions.

Engines: ``ecomlake.dq.engine_duckdb`` (local lake, ``ecomlake dq`` and ``ecomlake run``) and
``ecomlake.dq.engine_spark`` (the Glue job ``data_quality``; local Spark in the tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Protocol

from ecomlake.contract import PARTITION_KEY, RUN_KEY
from ecomlake.schemas import table_schema
from ecomlake.storage import Storage

# Parquet footers read at once when checking the run's files (one small ranged read each on S3).
FOOTER_THREADS: Final = 8
_DAY_IN_PATH: Final = re.compile(rf"[/\\]{PARTITION_KEY}=(\d{{4}}-\d{{2}}-\d{{2}})[/\\]")


class QueryError(Exception):
    """A check's query could not run; the message is one line for the report."""


class Engine(Protocol):
    """An open catalog over one snapshot, for one audit (see the module docstring)."""

    name: str
    # table -> why its view could not be created (its checks fail with this reason)
    unavailable: Mapping[str, str]
    # How many queries may run at once on this engine (1: one after the other).
    concurrency: int

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def count_reasons(self, unit: str, prefixes: Mapping[str, str]) -> dict[str, dict[str, int]]:
        """Quarantined rows per reason of each date: ``{date: {reason: rows}}``.

        ``unit`` is a quarantine unit (``quarantine/<dataset>``), ``prefixes`` maps each date to
        the key prefix of its current version.
        """
        ...

    def close(self) -> None: ...


def first_line(err: BaseException) -> str:
    """The first non-empty line of an error message (engines wrap several lines of context)."""
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else type(err).__name__


def day_of_file(path: str) -> str | None:
    """The partition date of a file inside a version folder (``.../date=D/run=R/part-0.parquet``)."""
    found = _DAY_IN_PATH.search(path)
    return found.group(1) if found else None


def reasons_by_day(counts: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """``{date: {reason: rows}}``, sorted, from (file path, reason, rows); a file outside a date folder is left out."""
    counted: dict[str, dict[str, int]] = {}
    for path, why, n in counts:
        day = day_of_file(path)
        if day is not None:
            per_day = counted.setdefault(day, {})
            per_day[why] = per_day.get(why, 0) + n
    return {day: dict(sorted(reasons.items())) for day, reasons in sorted(counted.items())}


def plain(value: Any) -> Any:
    """A JSON-ready value for report samples: numbers and strings as they are, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def footers_in_threads(columns_of: Callable[[str], set[str]]) -> Callable[[list[str]], dict[str, set[str]]]:
    """Read many files' columns with ``columns_of`` (one file at a time) from a few threads at once."""

    def read(keys: list[str]) -> dict[str, set[str]]:
        with ThreadPoolExecutor(max_workers=FOOTER_THREADS) as pool:
            return dict(zip(keys, pool.map(columns_of, keys), strict=True))

    return read


def run_files(storage: Storage, versions: Iterable[tuple[str, str]], run_id: str | None) -> list[str]:
    """Keys of the Parquet files run ``run_id`` wrote among ``versions`` (``(date, prefix)`` of one unit)."""
    if not run_id:
        return []
    written = [prefix for _day, prefix in versions if prefix.endswith(f"/{RUN_KEY}={run_id}/")]
    return [key for prefix in written for key in storage.list(prefix) if key.endswith(".parquet")]


def schema_mismatch(
    table: str, base: str, files: Iterable[str], columns_of: Callable[[list[str]], Mapping[str, set[str]]]
) -> str | None:
    """Why ``table`` cannot be read as its schema says: the first of ``files`` lacking a schema column, or None.

    ``files`` are keys of Parquet files, ``columns_of`` reads their top-level column names
    from their footers (key -> names), ``base`` is where the table lives (for the message).
    """
    keys = sorted(files)
    if not keys:
        return None
    expected = [c.name for c in table_schema(table).columns]
    found = columns_of(keys)
    for key in keys:
        lacking = [c for c in expected if c not in found.get(key, set())]
        if lacking:
            folder, name = key.rsplit("/", 1)
            return f"table {table} at {base} does not match its schema: {name} in {folder} lacks {', '.join(lacking)}"
    return None
