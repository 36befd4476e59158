"""Athena's answer to a query, as awswrangler hands it to ``ecomlake.dashboard_api.athena_runner``.

The SQL runs on DuckDB over a local lake (transpiled, as Athena would run the Athena text
on the same tables); the result then takes Athena's road back: a CSV result file with each
column typed the Athena way, read by awswrangler's own type mapping (``athena2pandas``,
decimal converters, dates parsed then made ``datetime.date``). Patched in for
``awswrangler.athena.read_sql_query``, it lets the real ``athena_runner`` run unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

# DuckDB result types -> the Athena (Trino) types the same SQL yields there.
ATHENA_TYPES = {
    "BIGINT": "bigint",
    "HUGEINT": "bigint",  # DuckDB widens sum(bigint); Trino keeps bigint
    "INTEGER": "integer",
    "DOUBLE": "double",
    "VARCHAR": "varchar",
    "BOOLEAN": "boolean",
    "DATE": "date",
}


def athena_type(duckdb_type: object) -> str:
    name = str(duckdb_type)
    if name.startswith("DECIMAL"):
        return "decimal"
    return ATHENA_TYPES[name]


def _csv_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def read_sql_query_on(lake: Path) -> Callable[..., pd.DataFrame]:
    """A stand-in for ``wr.athena.read_sql_query`` answering from ``lake``."""
    from awswrangler import _data_types
    from awswrangler.athena._read import _fix_csv_types

    from ecomlake.catalog import connect
    from ecomlake.queries import transpile

    def read_sql_query(sql: str, **_kwargs: Any) -> pd.DataFrame:
        con = connect(lake)
        try:
            cursor = con.execute(transpile(sql))
            names = [d[0] for d in cursor.description]
            types = {d[0]: athena_type(d[1]) for d in cursor.description}
            rows = cursor.fetchall()
        finally:
            con.close()
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            # Athena writes NULL as an empty, unquoted field.
            text.write(",".join("" if c is None else _quoted(c) for c in map(_csv_cell, row)) + "\n")
        dtype: dict[str, str] = {}
        parse_dates: list[str] = []
        converters: dict[str, Any] = {}
        for name, col_type in types.items():
            pandas_type = _data_types.athena2pandas(dtype=col_type)
            if pandas_type == "date":
                parse_dates.append(name)
            elif pandas_type == "decimal":
                converters[name] = lambda x: Decimal(str(x)) if str(x) not in ("", "none", " ", "<NA>") else None
            else:
                dtype[name] = pandas_type
        text.seek(0)
        frame = pd.read_csv(text, dtype=dtype, converters=converters, parse_dates=parse_dates, quoting=csv.QUOTE_ALL)
        return _fix_csv_types(df=frame, parse_dates=parse_dates, binaries=[], parse_geometry=[])

    return read_sql_query


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'
