"""The analytics queries in ``sql/``: load, parameterise, transpile, run and explain them.

Each ``sql/<name>.sql`` is one business question in Athena (Trino) dialect. Its header
comment is its metadata, read here::

    -- title: Top products by category
    -- question: Which products bring in the most revenue in each category?
    --   (an indented comment line continues the previous field)
    -- grain: one row per (category, product_id)
    -- param: start_date date = end_date - 29 days | first date of the range (inclusive)
    -- param: end_date date = latest(fact_sales) | last date of the range (inclusive)
    -- param: top_n int(1..1000) = 10 | products per category
    -- param: category string = null | one category only; null means all

Parameters appear in the body as ``:name``. Athena's own execution parameters are
positional (``?``), so named parameters are bound here by substituting a typed, quoted
literal -- the same text then runs on Athena and, transpiled by sqlglot, on DuckDB. Values
are validated by type before substitution (dates as real YYYY-MM-DD days, integers and
numbers within their bounds, choices from their list, strings quoted with ``'`` doubled),
so a parameter can never change the shape of the statement.

Types: ``date``, ``int``, ``double`` (each optionally bounded: ``int(1..1000)``),
``string`` (optionally ``string(<table>.<column>)``: its valid values are that column's
values in the lake, offered back when a value matches no row) and ``choice(a, b, ...)``.
Defaults: a literal, ``null``, ``latest(<table>)`` / ``earliest(<table>)`` (the newest /
oldest ``date`` partition with data, found by a small query, so no query silently depends
on today's date), or ``<param> - N days`` / ``<param> + N days``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlglot
from sqlglot import exp

if TYPE_CHECKING:
    from ecomlake.catalog import DataFile
from ecomlake.contract import PARTITION_KEY, Table, to_date
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError, InvalidDateError, UnknownQueryError
from ecomlake.schemas import table_schema

SQL_DIR: Final = Path(__file__).resolve().parents[1] / "sql"
READ_DIALECT: Final = "athena"
LOCAL_DIALECT: Final = "duckdb"

# The parameters that bound a query's partition range; every query that reads a
# partitioned table declares both and filters `"date" between :start_date and :end_date`.
RANGE_START: Final = "start_date"
RANGE_END: Final = "end_date"

# Athena pricing used for the cost line of --explain (us-east-1, SQL queries): per TB
# scanned, at least 10 MB per query, rounded up to the next MB.
ATHENA_USD_PER_TB: Final = 5.0
ATHENA_MIN_BILLED_BYTES: Final = 10 * 1024 * 1024
MAX_STRING_PARAM: Final = 200

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADER_FIELD_RE: Final = re.compile(r"^--\s?(?P<key>[a-z_]+):\s*(?P<value>.*)$")
_HEADER_CONT_RE: Final = re.compile(r"^--\s{2,}(?P<value>\S.*)$")
_PARAM_RE: Final = re.compile(
    r"^(?P<name>[a-z][a-z0-9_]*)\s+(?P<type>[a-z]+(?:\([^)]*\))?)\s*=\s*(?P<default>[^|]+?)\s*\|\s*(?P<desc>.+)$"
)
_TYPE_RE: Final = re.compile(r"^(?P<base>date|int|double|string|choice)(?:\((?P<args>[^)]*)\))?$")
_COLUMN_REF_RE: Final = re.compile(r"^(?P<table>[a-z_]+)\.(?P<column>[a-z_][a-z0-9_]*)$")
# How many valid values an "unknown value" error lists.
MAX_LISTED_VALUES: Final = 25
_RELATIVE_RE: Final = re.compile(r"^(?P<param>[a-z][a-z0-9_]*)\s*(?P<sign>[-+])\s*(?P<n>\d+)\s+days?$")
_TABLE_DEFAULT_RE: Final = re.compile(r"^(?P<fn>latest|earliest)\((?P<table>[a-z_]+)\)$")
_INT_RE: Final = re.compile(r"^[+-]?\d+$")
_NUMBER_RE: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# Skips string literals, quoted identifiers and comments; group 1 is a `:name` placeholder.
_PLACEHOLDER_RE: Final = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(?<![:\w]):([A-Za-z_]\w*)", re.S
)
_NULL_TYPES: Final = {"date": "date", "int": "integer", "double": "double", "string": "varchar", "choice": "varchar"}

ParamValue = date | int | float | str | None
Scalar = Callable[[str], Any]


class QueryDefinitionError(EcomlakeError):
    """A file in sql/ whose header or placeholders are inconsistent (a bug in the file)."""


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """One named parameter of a query, as declared in its header."""

    name: str
    type: str  # date | int | double | string | choice
    default: str  # the default expression as written in the header
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    values_from: str | None = None  # "<table>.<column>" holding the valid values of a string

    @property
    def type_label(self) -> str:
        if self.type == "choice":
            return "choice(" + ", ".join(self.choices) + ")"
        if self.values_from:
            return f"string({self.values_from})"
        if self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else _num_text(self.minimum)
            hi = "" if self.maximum is None else _num_text(self.maximum)
            return f"{self.type}({lo}..{hi})"
        return self.type

    @property
    def nullable(self) -> bool:
        return self.default == "null"

    def _fail(self, message: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"parameter {self.name!r}: {message}")

    def coerce(self, raw: object) -> ParamValue:
        """Validate a value given by a caller (text from the CLI, or a Python value)."""
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in {"", "null"}):
            if self.nullable:
                return None
            raise self._fail("a value is required")
        if self.type == "date":
            if isinstance(raw, datetime):
                return raw.date()
            if isinstance(raw, date):
                return raw
            try:
                return to_date(str(raw))
            except InvalidDateError as err:
                raise InvalidDateError(f"parameter {self.name!r}: {err}") from None
        if self.type in {"int", "double"}:
            return self._number(raw)
        text = str(raw).strip()
        if self.type == "choice":
            if text not in self.choices:
                raise self._fail(f"{text!r} is not one of: {', '.join(self.choices)}")
            return text
        if len(text) > MAX_STRING_PARAM or any(ord(ch) < 32 for ch in text):
            raise self._fail(f"expected printable text of at most {MAX_STRING_PARAM} characters")
        return text

    def _number(self, raw: object) -> int | float:
        if isinstance(raw, bool):
            raise self._fail(f"expected a number, got {raw!r}")
        text = str(raw).strip()
        if self.type == "int":
            if isinstance(raw, int) or _INT_RE.match(text):
                value: int | float = int(text)
            else:
                raise self._fail(f"expected an integer, got {raw!r}")
        else:
            if not (isinstance(raw, int | float) or _NUMBER_RE.match(text)):
                raise self._fail(f"expected a number, got {raw!r}")
            value = float(text)
            if value != value or value in {float("inf"), float("-inf")}:
                raise self._fail(f"expected a finite number, got {raw!r}")
        if self.minimum is not None and value < self.minimum:
            raise self._fail(f"must be >= {_num_text(self.minimum)}, got {_num_text(value)}")
        if self.maximum is not None and value > self.maximum:
            raise self._fail(f"must be <= {_num_text(self.maximum)}, got {_num_text(value)}")
        return value

    def literal(self, value: ParamValue) -> str:
        """The Athena SQL literal for a validated value."""
        if value is None:
            return f"cast(null as {_NULL_TYPES[self.type]})"
        if self.type == "date":
            return f"date '{value.isoformat()}'"  # type: ignore[union-attr]
        if self.type == "int":
            return str(int(value))  # type: ignore[arg-type]
        if self.type == "double":
            # Decimal text, never exponent notation (which Trino would read as a double anyway).
            return format(Decimal(repr(float(value))), "f")  # type: ignore[arg-type]
        return "'" + str(value).replace("'", "''") + "'"


def _num_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _parse_type(text: str, where: str) -> dict[str, Any]:
    match = _TYPE_RE.match(text)
    if not match:
        raise QueryDefinitionError(f"{where}: unknown parameter type {text!r}")
    base, args = match.group("base"), match.group("args")
    if base == "choice":
        choices = tuple(c.strip() for c in (args or "").split(",") if c.strip())
        if not choices:
            raise QueryDefinitionError(f"{where}: choice() needs at least one value")
        return {"type": base, "choices": choices}
    if args is None:
        return {"type": base}
    if base == "string":
        ref = _COLUMN_REF_RE.match(args.strip())
        if not ref or ref.group("table") not in {str(t) for t in Table}:
            raise QueryDefinitionError(f"{where}: string() takes a catalog <table>.<column>, got {args!r}")
        if ref.group("column") not in table_schema(ref.group("table")).column_names:
            raise QueryDefinitionError(f"{where}: {ref.group('table')} has no column {ref.group('column')!r}")
        return {"type": base, "values_from": args.strip()}
    if base not in {"int", "double"} or ".." not in args:
        raise QueryDefinitionError(f"{where}: only int and double take bounds, written (min..max)")
    lo, hi = (part.strip() for part in args.split("..", 1))
    return {"type": base, "minimum": float(lo) if lo else None, "maximum": float(hi) if hi else None}


def parse_param(text: str, where: str) -> Param:
    """A ``param:`` header line: ``name type = default | description``."""
    match = _PARAM_RE.match(text.strip())
    if not match:
        raise QueryDefinitionError(f"{where}: bad param line {text!r}; expected 'name type = default | description'")
    return Param(
        name=match.group("name"),
        default=match.group("default").strip(),
        description=match.group("desc").strip(),
        **_parse_type(match.group("type"), where),
    )


# --------------------------------------------------------------------------- query specs


@dataclass(frozen=True)
class QuerySpec:
    """A query file's metadata. ``params`` maps each parameter to its default, as written."""

    name: str
    title: str
    grain: str
    params: dict[str, str]
    question: str = ""
    parameters: tuple[Param, ...] = ()
    tables: tuple[str, ...] = ()  # catalog tables the query reads
    path: Path | None = None
    text: str = field(default="", repr=False)  # the file, placeholders and all

    def param(self, name: str) -> Param:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def partitioned_tables(self) -> tuple[str, ...]:
        return tuple(t for t in self.tables if table_schema(t).partition_key)


def _parse_header(text: str, where: str) -> tuple[dict[str, str], list[str]]:
    fields: dict[str, str] = {}
    params: list[str] = []
    last: str | None = None
    for line in text.splitlines():
        stripped = line.rstrip()
        if not stripped:
            if fields:
                break
            continue
        if not stripped.startswith("--"):
            break
        cont = _HEADER_CONT_RE.match(stripped)
        if cont and last is not None:
            if last == "param":
                params[-1] += " " + cont.group("value").strip()
            else:
                fields[last] += " " + cont.group("value").strip()
            continue
        match = _HEADER_FIELD_RE.match(stripped)
        if not match:
            last = None
            continue
        key, value = match.group("key"), match.group("value").strip()
        if key == "param":
            params.append(value)
        else:
            fields[key] = value
        last = key
    for required in ("title", "question", "grain"):
        if not fields.get(required):
            raise QueryDefinitionError(f"{where}: header has no {required!r} line")
    return fields, params


def placeholders(sql: str) -> list[str]:
    """The ``:name`` placeholders of a statement, outside strings and comments, in order."""
    return [m.group(1) for m in _PLACEHOLDER_RE.finditer(sql) if m.group(1)]


def tables_read(sql: str, dialect: str = READ_DIALECT) -> tuple[str, ...]:
    """Catalog tables a statement reads (CTE names excluded), sorted."""
    tree = sqlglot.parse_one(sql, read=dialect)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    known = {str(t) for t in Table}
    return tuple(sorted({t.name for t in tree.find_all(exp.Table) if t.name in known and t.name not in ctes}))


def _validate_spec(spec: QuerySpec) -> None:
    where = f"sql/{spec.name}.sql"
    names = [p.name for p in spec.parameters]
    if len(set(names)) != len(names):
        raise QueryDefinitionError(f"{where}: a parameter is declared twice")
    used = set(placeholders(spec.text))
    if used - set(names):
        raise QueryDefinitionError(f"{where}: undeclared parameters {sorted(used - set(names))}")
    if set(names) - used:
        raise QueryDefinitionError(f"{where}: declared but unused parameters {sorted(set(names) - used)}")
    for p in spec.parameters:
        _check_default(spec, p, where)
    if spec.partitioned_tables and not {RANGE_START, RANGE_END} <= set(names):
        raise QueryDefinitionError(
            f"{where}: reads partitioned tables {list(spec.partitioned_tables)} "
            f"but does not declare {RANGE_START} and {RANGE_END}"
        )


def _check_default(spec: QuerySpec, p: Param, where: str) -> None:
    text = p.default
    if text == "null":
        return
    table = _TABLE_DEFAULT_RE.match(text)
    relative = _RELATIVE_RE.match(text)
    if table or relative:
        if p.type != "date":
            raise QueryDefinitionError(f"{where}: {p.name}: only date parameters take derived defaults")
        if table and (table.group("table") not in {str(t) for t in Table}):
            raise QueryDefinitionError(f"{where}: {p.name}: unknown table in default {text!r}")
        if table and not table_schema(table.group("table")).partition_key:
            raise QueryDefinitionError(f"{where}: {p.name}: {table.group('table')} is not partitioned by date")
        if relative and relative.group("param") not in spec.params:
            raise QueryDefinitionError(f"{where}: {p.name}: default refers to unknown parameter")
        return
    try:
        p.coerce(text)
    except InvalidArgumentError as err:
        raise QueryDefinitionError(f"{where}: bad default: {err}") from None


def _sql_dir(sql_dir: Path | None) -> Path:
    return Path(sql_dir) if sql_dir is not None else SQL_DIR


@lru_cache(maxsize=64)
def _load_file(path: Path, mtime_ns: int) -> QuerySpec:
    text = path.read_text(encoding="utf-8")
    name = path.stem
    where = f"sql/{path.name}"
    fields, param_lines = _parse_header(text, where)
    parameters = tuple(parse_param(line, where) for line in param_lines)
    try:
        tables = tables_read(text)
    except sqlglot.errors.SqlglotError as err:
        raise QueryDefinitionError(f"{where}: not valid Athena SQL: {str(err).splitlines()[0]}") from None
    spec = QuerySpec(
        name=name,
        title=fields["title"],
        grain=fields["grain"],
        params={p.name: p.default for p in parameters},
        question=fields["question"],
        parameters=parameters,
        tables=tables,
        path=path,
        text=text,
    )
    _validate_spec(spec)
    return spec


def query_names(sql_dir: Path | None = None) -> list[str]:
    return sorted(p.stem for p in _sql_dir(sql_dir).glob("*.sql"))


def load_query(name: str, sql_dir: Path | None = None) -> QuerySpec:
    """The spec of ``sql/<name>.sql``; an unknown name is an UnknownQueryError listing the known ones."""
    text = str(name).strip()
    path = _sql_dir(sql_dir) / f"{text}.sql"
    if not _NAME_RE.match(text) or not path.is_file():
        known = ", ".join(query_names(sql_dir)) or "(none)"
        raise UnknownQueryError(f"unknown query {name!r}; expected one of: {known}")
    return _load_file(path, path.stat().st_mtime_ns)


def list_queries(sql_dir: Path | None = None) -> list[QuerySpec]:
    """Every query in ``sql/``, by name."""
    return [load_query(n, sql_dir) for n in query_names(sql_dir)]


# --------------------------------------------------------------------------- binding and rendering


def _date_scalar_sql(fn: str, table: str) -> str:
    agg = "max" if fn == "latest" else "min"
    return f'select {agg}("{PARTITION_KEY}") from {table}'


def resolve_params(spec: QuerySpec, given: Mapping[str, object] | None, scalar: Scalar) -> dict[str, ParamValue]:
    """Validated values for every parameter: the caller's, else the header's default.

    ``scalar(sql)`` runs a one-value Athena SQL query (locally on DuckDB; in the cloud on
    Athena); it derives defaults such as ``latest(fact_sales)`` from the data.
    """
    given = dict(given or {})
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        expected = ", ".join(spec.params) or "(none)"
        raise InvalidArgumentError(f"query {spec.name!r} has no parameter {unknown[0]!r}; expected one of: {expected}")
    values: dict[str, ParamValue] = {name: spec.param(name).coerce(raw) for name, raw in given.items()}
    pending = [p for p in spec.parameters if p.name not in values]
    while pending:
        progressed = False
        for p in list(pending):
            resolved, value = _default_value(p, values, scalar)
            if resolved:
                values[p.name] = value
                pending.remove(p)
                progressed = True
        if not progressed:
            raise QueryDefinitionError(f"sql/{spec.name}.sql: defaults refer to each other in a cycle")
    start, end = values.get(RANGE_START), values.get(RANGE_END)
    if isinstance(start, date) and isinstance(end, date) and start > end:
        raise InvalidArgumentError(f"{RANGE_START} {start.isoformat()} is after {RANGE_END} {end.isoformat()}")
    return {p.name: values[p.name] for p in spec.parameters}


def _default_value(p: Param, values: Mapping[str, ParamValue], scalar: Scalar) -> tuple[bool, ParamValue]:
    text = p.default
    if text == "null":
        return True, None
    table = _TABLE_DEFAULT_RE.match(text)
    if table:
        found = scalar(_date_scalar_sql(table.group("fn"), table.group("table")))
        if isinstance(found, datetime):
            found = found.date()
        return True, found if found is None or isinstance(found, date) else to_date(str(found))
    relative = _RELATIVE_RE.match(text)
    if relative:
        base = relative.group("param")
        if base not in values:
            return False, None
        anchor = values[base]
        if anchor is None:
            return True, None
        days = int(relative.group("n")) * (1 if relative.group("sign") == "+" else -1)
        return True, anchor + timedelta(days=days)  # type: ignore[operator]
    return True, p.coerce(text)


def render(spec: QuerySpec, values: Mapping[str, ParamValue]) -> str:
    """The query as Athena SQL with every ``:name`` replaced by its validated literal."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name:
            return match.group(0)
        return spec.param(name).literal(values[name])

    return _PLACEHOLDER_RE.sub(substitute, spec.text).strip().rstrip(";").strip()


@lru_cache(maxsize=256)
def transpile(athena_sql: str) -> str:
    """Athena (Trino) SQL -> DuckDB SQL, one statement."""
    statements = sqlglot.transpile(athena_sql, read=READ_DIALECT, write=LOCAL_DIALECT, pretty=True)
    statements = [s for s in statements if s.strip()]
    if len(statements) != 1:
        raise QueryDefinitionError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


def _local_scalar(con: Any) -> Scalar:
    def scalar(athena_sql: str) -> Any:
        row = con.execute(transpile(athena_sql)).fetchone()
        return None if row is None else row[0]

    return scalar


# --------------------------------------------------------------------------- running


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class QueryResult:
    """Rows of one query run. ``sql`` is the DuckDB statement that ran locally."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    athena_sql: str = ""
    params: dict[str, ParamValue] = field(default_factory=dict)

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as JSON-ready dicts: decimals as floats, dates as ISO strings."""
        return [{c: _json_value(v) for c, v in zip(self.columns, row, strict=True)} for row in self.rows]

    def params_text(self) -> dict[str, str | None]:
        return {k: None if v is None else str(_json_value(v)) for k, v in self.params.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_records(), indent=2)


def prepare(name: str, lake: Path, params: Mapping[str, object] | None = None, *, con: Any = None) -> tuple:
    """(spec, resolved values, athena sql, duckdb sql, connection) for one run."""
    spec = load_query(name)
    # Imported here: the catalog needs DuckDB, and the cloud API (Athena) uses this module without it.
    from ecomlake.catalog import connect

    con = con if con is not None else connect(Path(lake), tables=spec.tables)
    values = resolve_params(spec, params, _local_scalar(con))
    athena_sql = render(spec, values)
    return spec, values, athena_sql, transpile(athena_sql), con


def run_query(name: str, lake: Path, params: Mapping[str, object] | None = None) -> QueryResult:
    """Run ``sql/<name>.sql`` on the local lake (DuckDB) and return its rows.

    ``params`` maps parameter names to values (text as typed on the command line, or
    Python dates/numbers); missing ones take the header's defaults.
    """
    spec, values, athena_sql, duck_sql, con = prepare(name, lake, params)
    try:
        cursor = con.execute(duck_sql)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        if not rows:
            # No rows is a real answer, unless a value named something the lake does not hold.
            check_known_values(spec, values, _local_values(con))
    finally:
        con.close()
    return QueryResult(name=name, columns=columns, rows=rows, sql=duck_sql, athena_sql=athena_sql, params=values)


Values = Callable[[str], list[Any]]


def known_values_sql(values_from: str) -> str:
    """Athena SQL listing the distinct values of ``<table>.<column>``, sorted."""
    table, column = values_from.split(".", 1)
    return f'select distinct "{column}" from {table} where "{column}" is not null order by 1'


def _local_values(con: Any) -> Values:
    def values(athena_sql: str) -> list[Any]:
        return [row[0] for row in con.execute(transpile(athena_sql)).fetchall()]

    return values


def check_known_values(spec: QuerySpec, values: Mapping[str, ParamValue], list_values: Values) -> None:
    """Raise ``InvalidArgumentError`` naming the valid values when a given string matches none in the lake.

    Only parameters declared ``string(<table>.<column>)`` are checked; a near miss in case
    (``electronics``) is offered as the value meant.
    """
    for p in spec.parameters:
        given = values.get(p.name)
        if not p.values_from or given is None:
            continue
        known = [str(v) for v in list_values(known_values_sql(p.values_from))]
        if str(given) in known:
            continue
        what = p.values_from.split(".", 1)[1]
        close = [k for k in known if k.casefold() == str(given).strip().casefold()]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(known[:MAX_LISTED_VALUES]) + (" ..." if len(known) > MAX_LISTED_VALUES else "")
        raise InvalidArgumentError(
            f"parameter {p.name!r}: {given!r} is not a {what} in the lake{hint} "
            f"(values: {listed or 'none, the table is empty'})"
        )


# --------------------------------------------------------------------------- explain and bytes scanned


@dataclass(frozen=True)
class ScanInfo:
    """One Parquet scan in DuckDB's executed plan (from EXPLAIN ANALYZE)."""

    files_read: int
    files_selected: str  # "k/n": files left after partition pruning / files matched by the glob
    file_filters: str
    filenames: str  # DuckDB lists at most a few names, then "..."


@dataclass(frozen=True)
class QueryPlan:
    """What ``--explain`` reports: the DuckDB plan and the files the date range selects."""

    name: str
    sql: str
    athena_sql: str
    params: dict[str, ParamValue]
    plan: str
    files: list[DataFile]
    scans: list[ScanInfo]
    tables: tuple[str, ...] = ()
    plan_json: str = ""  # the same plan as DuckDB's JSON, for outline()

    def outline(self, width: int = 100) -> list[str]:
        """The plan as an indented list of operators, each line at most ``width`` characters."""
        return plan_outline(self.plan_json, width)

    @property
    def bytes_scanned(self) -> int:
        """Local estimate of what Athena scans: the size of every selected file, once."""
        return sum(f.bytes for f in self.files)

    @property
    def billed_bytes(self) -> int:
        mb = 1024 * 1024
        rounded = -(-self.bytes_scanned // mb) * mb
        return max(rounded, ATHENA_MIN_BILLED_BYTES)

    @property
    def athena_cost_usd(self) -> float:
        return self.billed_bytes / 1024**4 * ATHENA_USD_PER_TB

    @property
    def files_read(self) -> int:
        """Files DuckDB actually opened, summed over its scans."""
        return sum(s.files_read for s in self.scans)

    def by_table(self) -> list[tuple[str, int, int, int]]:
        """(table, partitions, files, bytes) for each table read."""
        out = []
        for table in sorted({f.table for f in self.files} | set(self.tables)):
            files = [f for f in self.files if f.table == table]
            parts = len({f.date for f in files if f.date is not None})
            out.append((table, parts, len(files), sum(f.bytes for f in files)))
        return out


# Plan details worth a place on an operator's line, in this order (DuckDB's extra_info keys).
_OUTLINE_KEYS: Final = (
    "Table",
    "Function",
    "Scanning Files",
    "Join Type",
    "Conditions",
    "Groups",
    "Aggregates",
    "Filters",
    "File Filters",
    "Estimated Cardinality",
)
_MAX_INDENT: Final = 24


def plan_outline(plan_json: str, width: int = 100) -> list[str]:
    """DuckDB's JSON plan as one entry per operator, indented by depth, folded at ``width``.

    DuckDB's own drawing puts sibling operators side by side and can be a thousand
    characters wide; this keeps the tree's shape in a terminal's width and drops nothing
    (a long entry continues on indented lines).
    """
    import textwrap

    width = max(width, 40)
    lines: list[str] = []

    def flat(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(flat(v) for v in value)
        return " ".join(str(value).split())

    def walk(node: Mapping[str, Any], depth: int) -> None:
        info = node.get("extra_info") or {}
        name = str(node.get("name", "?"))
        details = [
            f"{k}: {flat(info[k])}"
            for k in _OUTLINE_KEYS
            if isinstance(info, dict) and info.get(k) and flat(info[k]) != name
        ]
        indent = "  " * depth
        if len(indent) > _MAX_INDENT:
            indent = f"{' ' * (_MAX_INDENT - 4)}[{depth}] "
        text = f"{indent}{name}" + (f"  ({'; '.join(details)})" if details else "")
        lines.extend(
            textwrap.wrap(
                text,
                width=width,
                subsequent_indent=" " * (len(indent) + 4),
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [text]
        )
        for child in node.get("children") or []:
            walk(child, depth + 1)

    for root in json.loads(plan_json or "[]"):
        walk(root, 0)
    return lines


def scan_profile(con: Any, duck_sql: str) -> list[ScanInfo]:
    """Run the statement under EXPLAIN ANALYZE and report every Parquet scan in it."""
    raw = con.execute("explain (analyze, format json) " + duck_sql).fetchall()[0][1]
    scans: list[ScanInfo] = []

    def walk(node: Mapping[str, Any]) -> None:
        info = node.get("extra_info") or {}
        if isinstance(info, dict) and info.get("Function") == "READ_PARQUET":
            scans.append(
                ScanInfo(
                    files_read=int(info.get("Total Files Read", 0)),
                    files_selected=str(info.get("Scanning Files", "")),
                    file_filters=str(info.get("File Filters", "")),
                    filenames=str(info.get("Filename(s)", "")),
                )
            )
        for child in node.get("children") or []:
            walk(child)

    profile = json.loads(raw)
    for node in profile.get("operator") or profile.get("children") or []:
        walk(node)
    return scans


def selected_files(spec: QuerySpec, lake: Path, values: Mapping[str, ParamValue]) -> list[DataFile]:
    """Files of every table the query reads, limited to the partitions of its date range."""
    start, end = values.get(RANGE_START), values.get(RANGE_END)
    start_text = start.isoformat() if isinstance(start, date) else None
    end_text = end.isoformat() if isinstance(end, date) else None
    files: list[DataFile] = []
    for table in spec.tables:
        from ecomlake.catalog import partition_files

        files.extend(partition_files(Path(lake), table, start_text, end_text))
    return files


def explain(name: str, lake: Path, params: Mapping[str, object] | None = None) -> QueryPlan:
    """The plan of a query and an estimate of the bytes Athena would scan for it.

    The estimate is the total size of the Parquet files in the partitions the date range
    selects (all files of unpartitioned tables): what partition projection leaves Athena
    to read. Athena reads only the columns a query needs, so it bills at most this.
    DuckDB's own count of files opened is reported beside it, as a cross-check.
    """
    spec, values, athena_sql, duck_sql, con = prepare(name, lake, params)
    try:
        plan = "\n".join(str(row[1]) for row in con.execute("explain " + duck_sql).fetchall())
        plan_json = str(con.execute("explain (format json) " + duck_sql).fetchall()[0][1])
        scans = scan_profile(con, duck_sql)
    finally:
        con.close()
    return QueryPlan(
        name=name,
        sql=duck_sql,
        athena_sql=athena_sql,
        params=values,
        plan=plan,
        plan_json=plan_json,
        files=selected_files(spec, Path(lake), values),
        scans=scans,
        tables=spec.tables,
    )


def parse_param_args(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["k=v", ...]`` from the command line -> ``{"k": "v"}``, one clear error per bad item."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidArgumentError(f"--param {item!r}: expected NAME=VALUE")
        if key in out:
            raise InvalidArgumentError(f"--param {key!r} given twice")
        out[key] = value
    return out


__all__ = [
    "QueryDefinitionError",
    "QueryPlan",
    "QueryResult",
    "QuerySpec",
    "explain",
    "list_queries",
    "load_query",
    "parse_param_args",
    "render",
    "resolve_params",
    "run_query",
    "transpile",
]
