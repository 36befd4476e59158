"""Quoting for SQL text built in code: identifiers and literals, one definition for every engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def ident(name: str) -> str:
    """A double-quoted identifier (DuckDB, Athena/Trino and Spark with ANSI quoting agree)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A SQL literal: NULL, TRUE/FALSE, a number as written, or a single-quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
