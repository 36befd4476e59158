"""Row classification as DataFrame expressions: the rules of ``ecomlake.ingest.rules``, in columns.

``ecomlake.ingest.rules`` is the one definition of what makes a raw row bad (its module
docstring is the specification); the validator applies it row by row in Python. Here the
same rules become column expressions so the ETL can apply them to millions of rows on
Spark or DuckDB, with the patterns, bounds and order imported from there rather than
written again. The unit tests run both over the same rows and require the same reasons.

Input: a raw DataFrame as the readers in ``ecomlake.etl.io`` produce it -- every schema
column as text, plus ``_error`` (why the reader could not parse the record, else null),
``_line``, ``_file`` and ``date``. :func:`classify` adds, for every schema column ``c``,
its normalised text ``__c`` (trimmed as ``str.strip()`` trims, blank -> null), the
value checks it needs once (``_ok_c``, ``_num_c``), and ``_reason`` (null for a good
row); :func:`explain` adds ``_detail`` to the bad rows, and :func:`typed_columns` casts
the normalised text of good rows.

Every cast is guarded by the check that makes it safe: DuckDB raises on a bad cast
where Spark returns null, and both evaluate a CASE branch only for the rows it selects.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from ecomlake.contract import (
    PARTITION_KEY,
    QUARANTINE_DETAIL_COLUMN,
    QUARANTINE_REASON_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_LINE_COLUMN,
    Dataset,
)
from ecomlake.etl.engines import api, cast_type
from ecomlake.ingest import rules
from ecomlake.schemas import AMOUNT_TOLERANCE, RAW_SCHEMAS, Column, RawSchema, Reason, decimal_precision

REASON: Final = QUARANTINE_REASON_COLUMN
DETAIL: Final = QUARANTINE_DETAIL_COLUMN
LINE: Final = SOURCE_LINE_COLUMN
FILE: Final = SOURCE_FILE_COLUMN
ERROR: Final = "_error"  # set by the reader when a record does not parse (malformed_record)
META_COLUMNS: Final = (ERROR, LINE, FILE, PARTITION_KEY)
# A row's first broken rule before duplicates are looked for, and the prefix of its typed values,
# in the engines' job plans (clean_duckdb, clean_spark).
STATELESS: Final = "_stateless"
TYPED_PREFIX: Final = "_t_"

# What Python's str.strip() removes (the rules trim with it): ASCII whitespace, the C0
# separators, NEL, NBSP and the Unicode spaces. Literal characters, so the class reads
# the same to Java (Spark) and RE2 (DuckDB).
WHITESPACE: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
assert all(ch.isspace() for ch in WHITESPACE)
TRIM_PATTERN: Final = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"
# Whether there is anything to trim: a cheaper match than the replacement it guards.
PADDED_PATTERN: Final = f"^[{WHITESPACE}]|[{WHITESPACE}]$"
# A row's values joined by a separator no plain value holds, for the one match that finds
# the plain rows (:func:`plain_column`).
ROW_SEPARATOR: Final = "\x01"
PLAIN: Final = "_plain"
# The same verdict, when a reader has it already from the record's own text (the SQL framer
# matches a plain CSV line, ``plain_row_pattern(schema, ",")``): a boolean, null when unknown.
PLAIN_HINT: Final = "_plain_line"
# The plain forms of a value, per type: each is a subset of what the rules accept (never
# blank, nothing to trim, the separator nowhere), so a row whose every value has its plain
# form breaks no format rule, and only its calendar, ranges and amounts are left to check.
# A string starts and ends with printable ASCII other than the space (and other than the
# separator, ``_plain_string``); a number has few enough digits to fit its type and the
# double cast of the range checks.
_PLAIN_END: Final = "[!-~]"
_PLAIN_DATE: Final = rules.DATE_PATTERN.strip("^$")
_PLAIN_TIMESTAMP: Final = rules.TIMESTAMP_PATTERN.strip("^$")
_PLAIN_DOUBLE: Final = r"-?[0-9]{1,30}(\.[0-9]{1,29})?"
_PLAIN_ENUM_VALUE: Final = re.compile(r"[A-Za-z0-9_]+")
_UTC_SUFFIX: Final = r"(Z|\+00:00)$"
_AMOUNT: Final = ("quantity", "price", "total_amount")
# A number longer than this is outside every range the schemas declare; the limit keeps
# the double cast used for range checks well inside what both engines parse.
_MAX_NUMBER_CHARS: Final = 60
_INTEGER_TYPES: Final = ("int", "bigint", "smallint", "tinyint")


def norm_name(column: str) -> str:
    """Normalised text of ``column`` (added by :func:`normalize`)."""
    return f"__{column}"


def ok_name(column: str) -> str:
    """True when the normalised value of ``column`` is well formed for its type (null when blank)."""
    return f"_ok_{column}"


def typed_name(column: str) -> str:
    """``column``'s value cast to its schema type, in the engines' job plans (clean_duckdb, clean_spark)."""
    return f"{TYPED_PREFIX}{column}"


def num_name(column: str) -> str:
    """A well-formed number as a double, for range checks (null otherwise)."""
    return f"_num_{column}"


# --------------------------------------------------------------------------- value checks


def _shown(F: Any, name: str) -> Any:
    """A raw value as quoted in ``_detail``: cut to the validator's ``MAX_VALUE_CHARS``."""
    cut = rules.MAX_VALUE_CHARS
    return F.when(F.length(F.col(name)) > cut, F.concat(F.substring(F.col(name), 1, cut), F.lit("..."))).otherwise(
        F.col(name)
    )


def _found(F: Any, name: str, message: str) -> Any:
    """``<column>: <message> (found '<raw value>')``."""
    return F.concat(F.lit(f"{name}: {message} (found '"), F.coalesce(_shown(F, name), F.lit("")), F.lit("')"))


def _calendar_ok(F: Any, text: Any) -> Any:
    """The ``YYYY-MM-DD`` prefix of pattern-checked ``text`` is a real calendar day."""

    def part(start: int, length: int) -> Any:
        return F.substring(text, start, length).cast("int")

    def leap() -> Any:
        return ((part(1, 4) % 4 == 0) & (part(1, 4) % 100 != 0)) | (part(1, 4) % 400 == 0)

    last = (
        F.when(part(6, 2) == 2, F.when(leap(), F.lit(29)).otherwise(F.lit(28)))
        .when(part(6, 2).isin(4, 6, 9, 11), F.lit(30))
        .otherwise(F.lit(31))
    )
    return (part(1, 4) >= 1) & part(6, 2).between(1, 12) & (part(9, 2) >= 1) & (part(9, 2) <= last)


def _plain_day_ok(F: Any, name: str, *, cut: bool = False) -> Any:
    """The ``YYYY-MM-DD`` that a plain value of ``name`` is (or starts with, ``cut``) is a real calendar day.

    The same days :func:`_calendar_ok` accepts, for text already in that form: both engines'
    date casts keep the Gregorian calendar for years 1-9999 and give null for any other day
    (``TRY_CAST``, as DuckDB's plain cast raises), and year 0, which both read as 1 BC, is
    turned down by hand. One cast instead of the three fields cut out and compared.
    """
    text = f"SUBSTRING(`{name}`, 1, 10)" if cut else f"`{name}`"
    return F.expr(f"TRY_CAST({text} AS DATE)").isNotNull() & ~F.col(name).startswith("0000")


def _time_ok(F: Any, text: Any) -> Any:
    """The HH:MM:SS at position 12 of a pattern-checked timestamp is a real time of day."""
    return (
        (F.substring(text, 12, 2).cast("int") <= 23)
        & (F.substring(text, 15, 2).cast("int") <= 59)
        & (F.substring(text, 18, 2).cast("int") <= 59)
    )


def date_ok(F: Any, value_name: str) -> Any:
    """A non-null value is a real ``YYYY-MM-DD`` day (false otherwise; null stays null)."""
    value = F.col(value_name)
    return F.when(value.rlike(rules.DATE_PATTERN), _calendar_ok(F, F.col(value_name))).when(
        value.isNotNull(), F.lit(False)
    )


def timestamp_ok(F: Any, value_name: str) -> Any:
    """A non-null value is a real UTC timestamp in an accepted spelling."""
    value = F.col(value_name)
    good = _calendar_ok(F, F.col(value_name)) & _time_ok(F, F.col(value_name))
    return F.when(value.rlike(rules.TIMESTAMP_PATTERN), good).when(value.isNotNull(), F.lit(False))


def timestamp_value(F: Any, value: Any) -> Any:
    """A valid timestamp text as a zone-less timestamp (the UTC suffix dropped)."""
    return F.regexp_replace(value, _UTC_SUFFIX, "").cast(cast_type("timestamp"))


def _bounds(column: Column, *, type_only: bool) -> tuple[float | None, float | None]:
    target = Column(column.name, column.type) if type_only else column
    lo, hi = rules.type_bounds(target)
    return (None if lo is None else float(lo)), (None if hi is None else float(hi))


def _within(F: Any, number: Any, lo: float | None, hi: float | None) -> Any:
    cond = number.isNotNull()
    if lo is not None:
        cond = cond & (number >= F.lit(lo))
    if hi is not None:
        cond = cond & (number <= F.lit(hi))
    return cond


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class Check:
    """One rule on one column: the reason, the column to blame, when it fails, and what to say.

    ``fails`` is false, never null, when the rule holds. ``message`` says what is wrong
    (the validator's report shows it beside the value); ``detail`` is the quarantine
    file's ``_detail``: the column, the message and the value found. ``plain_holds``: the
    rule holds in every plain row (``_plain``), whose values have a form that meets it.
    """

    reason: Reason
    column: str | None
    fails: Any
    message: Any
    detail: Any
    plain_holds: bool = False


def _plain_string(separator: str) -> str:
    end = _PLAIN_END
    if "!" < separator < "~":  # a printable separator: the ends are the ranges on either side of it
        before, after = (re.escape(chr(ord(separator) + step)) for step in (-1, 1))
        end = f"[!-{before}{after}-~]"
    return f"{end}(?:[^{re.escape(separator)}]*{end})?"


def _plain_enum(column: Column) -> bool:
    """Whether ``column``'s plain form is its enum's values (not any plain string)."""
    return bool(column.enum) and all(_PLAIN_ENUM_VALUE.fullmatch(v) for v in column.enum)


def plain_value_pattern(column: Column, separator: str = ROW_SEPARATOR) -> str | None:
    """The plain form of ``column``'s values, holding no ``separator``; None for a type without one."""
    if _plain_enum(column):
        pattern = "(" + "|".join(sorted(column.enum)) + ")"
    elif column.is_decimal:
        precision, scale = decimal_precision(column.type)
        whole = f"-?[0-9]{{1,{precision - scale}}}"
        pattern = whole if scale == 0 else whole + rf"(\.[0-9]{{1,{scale}}})?"
    elif column.type in _INTEGER_TYPES:
        _lo, hi = rules.type_bounds(Column(column.name, column.type))
        pattern = f"-?[0-9]{{1,{len(str(hi)) - 1}}}"
    elif column.type in ("double", "float"):
        pattern = _PLAIN_DOUBLE
    elif column.type == "date":
        pattern = _PLAIN_DATE
    elif column.type == "timestamp":
        pattern = _PLAIN_TIMESTAMP
    elif column.type == "string":
        pattern = _plain_string(separator)
    else:
        return None
    return pattern if column.required else f"({pattern})?"


def plain_row_pattern(schema: RawSchema, separator: str = ROW_SEPARATOR) -> str | None:
    """The pattern of a plain row's values joined by ``separator``; None when a column has no plain form.

    No value of a plain row holds the separator, so a row that matches splits at it into its values.
    """
    parts = [plain_value_pattern(c, separator) for c in schema.columns]
    if any(p is None for p in parts):
        return None
    return "^" + separator.join(f"({p})" for p in parts if p is not None) + "$"


def plain_column(F: Any, schema: RawSchema, hint: str | None = None) -> Any:
    """``_plain``: every value of the row has its plain form (read by the stages after it).

    Nearly every row of a healthy file is plain, and one match over the joined row then
    stands for the trimming test and the format patterns of every value, which cost a
    match each. A row that is not plain gets the per-value tests; both paths give the
    same values and the same reasons (the rules' tests check it). An optional value that
    is null joins as empty text, which its plain form allows; a required one that is null
    is left out by the join, and a row one value short never matches.

    ``hint`` names a column (``PLAIN_HINT``) holding the verdict where the reader had it already;
    the join and the match are made for the rows where it is null.
    """
    pattern = plain_row_pattern(schema)
    if pattern is None:
        return F.lit(False).alias(PLAIN)
    values = [F.col(c.name) if c.required else F.coalesce(F.col(c.name), F.lit("")) for c in schema.columns]
    plain = F.coalesce(F.concat_ws(ROW_SEPARATOR, *values).rlike(pattern), F.lit(False))
    if hint is not None:
        plain = F.when(F.col(hint).isNotNull(), F.col(hint)).otherwise(plain)
    return plain.alias(PLAIN)


def _plain_value(F: Any, column: Column) -> Any:
    """True for a value of a plain row that is not null (its format is known good)."""
    return F.col(PLAIN) & F.col(norm_name(column.name)).isNotNull()


def normalized_columns(F: Any, schema: RawSchema) -> list[Any]:
    """``__c`` for every schema column: trimmed as str.strip() trims; blank -> null.

    Reads ``_plain`` (:func:`plain_column`): a plain value has nothing to trim, so the
    per-value test and the replacement only run in the other rows (a CASE, which both
    engines evaluate for the rows that reach a branch only).
    """
    added = []
    for c in schema.columns:
        value = F.col(c.name)
        trimmed = (
            F.when(F.col(PLAIN), value)
            .when(value.rlike(PADDED_PATTERN), F.regexp_replace(value, TRIM_PATTERN, ""))
            .otherwise(value)
        )
        added.append(F.nullif(trimmed, F.lit("")).alias(norm_name(c.name)))
    return added


def form_columns(F: Any, schema: RawSchema) -> list[Any]:
    """``_ok_c`` (well formed; null when blank) for numeric and temporal columns; reads ``__c`` and ``_plain``.

    A plain value already has its format: only a date's calendar and a time's clock are left.
    """
    oks = []
    for c in schema.columns:
        value = F.col(norm_name(c.name))
        plain = _plain_value(F, c)
        if c.is_numeric:
            ok = F.when(plain, F.lit(True)).otherwise(value.rlike(rules.number_pattern(c.type)))
        elif c.type == "date":
            ok = F.when(plain, _plain_day_ok(F, norm_name(c.name))).otherwise(date_ok(F, norm_name(c.name)))
        elif c.type == "timestamp":
            good = _plain_day_ok(F, norm_name(c.name), cut=True) & _time_ok(F, value)
            ok = F.when(plain, good).otherwise(timestamp_ok(F, norm_name(c.name)))
        else:
            continue
        oks.append(ok.alias(ok_name(c.name)))
    return oks


def number_columns(F: Any, schema: RawSchema) -> list[Any]:
    """``_num_c``: a well-formed number as a double, for range checks; reads ``_ok_c``."""
    # A plain number is short enough by its form; the others are measured.
    return [
        F.when(_plain_value(F, c), F.col(norm_name(c.name)).cast("double"))
        .when(
            F.col(ok_name(c.name)) & (F.length(F.col(norm_name(c.name))) <= _MAX_NUMBER_CHARS),
            F.col(norm_name(c.name)).cast("double"),
        )
        .alias(num_name(c.name))
        for c in schema.columns
        if c.is_numeric
    ]


def normalize(df: Any, schema: RawSchema) -> Any:
    """Add ``_plain`` and ``__c`` for every schema column (see :func:`normalized_columns`).

    A frame with a ``PLAIN_HINT`` column (the SQL framer's) has its verdicts used.
    """
    F = api(df).F
    hint = PLAIN_HINT if PLAIN_HINT in df.columns else None
    return df.select("*", plain_column(F, schema, hint)).select("*", *normalized_columns(F, schema))


def add_facts(df: Any, schema: RawSchema) -> Any:
    """Add ``_ok_c`` (well formed) for numeric and temporal columns and ``_num_c`` for numbers."""
    F = api(df).F
    return df.select("*", *form_columns(F, schema)).select("*", *number_columns(F, schema))


def row_checks(F: Any, schema: RawSchema) -> list[Check]:
    """The stateless rules of a dataset in ``Reason`` order.

    Conditions read the columns :func:`normalize` and :func:`add_facts` add. Within the
    list the first failing check names the row, as the rules specify (columns in schema
    order within a rule).
    """

    def n(name: str) -> Any:
        return F.col(norm_name(name))

    def ok(name: str) -> Any:
        return F.coalesce(F.col(ok_name(name)), F.lit(True))

    def check(reason: Reason, column: str, fails: Any, message: str, *, plain_holds: bool = False) -> Check:
        return Check(reason, column, fails, F.lit(message), _found(F, column, message), plain_holds)

    checks: list[Check] = [
        Check(
            Reason.MALFORMED_RECORD,
            None,
            F.col(ERROR).isNotNull(),
            F.col(ERROR),
            F.concat(F.lit("record does not parse: "), F.col(ERROR)),
        )
    ]
    for c in schema.columns:
        if c.required:
            message = "required value is missing"
            missing = n(c.name).isNull()
            # A plain value is never blank; a required value that is null makes no plain row.
            checks.append(
                Check(
                    Reason.MISSING_REQUIRED,
                    c.name,
                    missing,
                    F.lit(message),
                    F.lit(f"{c.name}: {message}"),
                    plain_holds=True,
                )
            )
    numbers = [c for c in schema.columns if c.is_numeric]
    for c in numbers:
        kind = "a whole number" if c.type in _INTEGER_TYPES else "a plain decimal number"
        checks.append(check(Reason.BAD_NUMBER, c.name, ~ok(c.name), f"not {kind}", plain_holds=True))
    for c in schema.columns:
        if c.type == "date":
            checks.append(check(Reason.BAD_DATE, c.name, ~ok(c.name), "not a real YYYY-MM-DD date"))
    for c in schema.columns:
        if c.type == "timestamp":
            checks.append(check(Reason.BAD_DATE, c.name, ~ok(c.name), "not a real UTC timestamp"))
    for c in schema.columns:
        if c.enum:
            fails = n(c.name).isNotNull() & ~n(c.name).isin(*c.enum)
            listed = f"not one of {', '.join(sorted(c.enum))}"
            checks.append(check(Reason.UNKNOWN_ENUM, c.name, fails, listed, plain_holds=_plain_enum(c)))
    for c in numbers:
        lo, hi = rules.type_bounds(c)

        def num(name: str = c.name) -> Any:
            return F.col(num_name(name))

        too_long = F.col(ok_name(c.name)) & (F.length(n(c.name)) > _MAX_NUMBER_CHARS)
        if lo is not None:
            below = F.coalesce(num() < F.lit(float(lo)), F.lit(False))
            checks.append(check(Reason.OUT_OF_RANGE, c.name, below, f"below the minimum {lo}"))
        if hi is not None:
            above = F.coalesce((num() > F.lit(float(hi))) | too_long, F.lit(False))
            checks.append(check(Reason.OUT_OF_RANGE, c.name, above, f"above the maximum {hi}"))
    if all(name in schema.column_names for name in _AMOUNT):

        def product() -> Any:
            quantity, price = (typed_value(F, schema.column(name)) for name in _AMOUNT[:2])
            return quantity.cast("decimal(20,0)") * price

        total = typed_value(F, schema.column("total_amount"))
        fails = F.abs(total - product()) > F.lit(AMOUNT_TOLERANCE).cast("decimal(10,2)")
        message = F.concat(
            F.lit("quantity x price = "),
            product().cast("decimal(30,2)").cast("string"),
        )
        detail = F.concat(F.lit("total_amount: "), n("total_amount"), F.lit(" but "), message)
        checks.append(Check(Reason.AMOUNT_MISMATCH, "total_amount", F.coalesce(fails, F.lit(False)), message, detail))
    return checks


def _first_failing(F: Any, checks: list[Check], value: Any) -> Any:
    """``value(i, check)`` of the first failing check, null when every check holds.

    Reads ``_plain``: a plain row is tested against the checks that can fail in it only (its
    calendar, ranges and amounts), in the same order, so it gets the same first failure with
    fewer tests -- each of which is a pass over nearly every row, as nearly every row is good.
    """

    def chain(items: list[tuple[int, Check]]) -> Any:
        first = None
        for i, item in items:
            first = F.when(item.fails, value(i, item)) if first is None else first.when(item.fails, value(i, item))
        return first

    every = list(enumerate(checks))
    left = [(i, item) for i, item in every if not item.plain_holds]
    if len(left) == len(every):
        return chain(every)
    in_plain = chain(left) if left else F.lit(None)
    return F.when(F.col(PLAIN), in_plain).otherwise(chain(every))


def reason_of(F: Any, checks: list[Check]) -> Any:
    """The reason of the first failing check, null when every check holds (reads ``_plain``)."""
    return _first_failing(F, checks, lambda _i, item: F.lit(item.reason.value))


def check_index(F: Any, checks: list[Check]) -> Any:
    """The position in ``checks`` of the first failing check, null when every check holds (reads ``_plain``)."""
    return _first_failing(F, checks, lambda i, _item: F.lit(i))


def duplicate_flag(F: Any, Window: Any, keys: list[Any], scope: list[Any], order: list[Any]) -> Any:
    """True for a row whose key an earlier row (in ``order``) of the same ``scope`` already claimed."""
    window = Window.partitionBy(*scope, *keys).orderBy(*order)
    return F.row_number().over(window) > 1


def typed_value(F: Any, column: Column) -> Any:
    """The normalised text of ``column`` cast to its schema type, where the value allows it."""
    value = F.col(norm_name(column.name))
    if column.is_numeric:
        lo, hi = _bounds(column, type_only=True)
        fits = F.coalesce(_within(F, F.col(num_name(column.name)), lo, hi), F.lit(False))
        return F.when(fits, value.cast(column.type))
    if column.type == "date":
        return F.when(F.col(ok_name(column.name)), value.cast("date"))
    if column.type == "timestamp":
        return F.when(F.col(ok_name(column.name)), timestamp_value(F, value))
    if column.type == "string":
        return value
    return value.cast(cast_type(column.type))


def key_columns(F: Any, schema: RawSchema) -> list[Any]:
    """Primary key parts as compared: normalised text, timestamps as instants."""
    return [typed_value(F, schema.column(name)) for name in schema.primary_key]


def classify(df: Any, dataset: Dataset | str) -> Any:
    """Add normalised columns, value checks and ``_reason`` to a raw DataFrame.

    Stateless rules first (first failing rule wins); then, among rows that passed them,
    the primary key is claimed by the first row of its date partition in (file, line)
    order and every later row with that key is a ``duplicate_key``. The words of
    ``_detail`` are worked out by :func:`explain`, for the bad rows only.
    """
    F, _, Window = api(df)
    schema = RAW_SCHEMAS[Dataset(dataset)]
    prepared = add_facts(normalize(df, schema), schema)
    reason = reason_of(F, row_checks(F, schema))
    keys = [key.alias(f"_key{i}") for i, key in enumerate(key_columns(F, schema))]
    staged = prepared.select("*", reason.alias(STATELESS), *keys)
    # Only rows that passed every other rule claim a key (docs/ingestion.md: "earlier valid row").
    duplicate = F.col(STATELESS).isNull() & duplicate_flag(
        F,
        Window,
        [F.col(f"_key{i}") for i in range(len(keys))],
        [F.col(PARTITION_KEY), F.col(STATELESS).isNull()],
        [F.col(FILE).asc(), F.col(LINE).asc()],
    )
    return staged.select(
        *[F.col(c) for c in prepared.columns],
        F.when(duplicate, F.lit(Reason.DUPLICATE_KEY.value)).otherwise(F.col(STATELESS)).alias(REASON),
    )


def duplicate_detail(F: Any, schema: RawSchema) -> Any:
    names = ", ".join(schema.primary_key)
    return F.concat(
        F.lit(f"({names}) seen earlier: "),
        F.concat_ws(", ", *[F.col(norm_name(k)) for k in schema.primary_key]),
    )


def detail_column(F: Any, schema: RawSchema) -> Any:
    """``_detail`` of a bad row: its ``_reason``'s first failing check, worded; reads the facts columns."""
    detail = F.when(F.col(REASON) == F.lit(Reason.DUPLICATE_KEY.value), duplicate_detail(F, schema))
    for item in row_checks(F, schema):
        detail = detail.when((F.col(REASON) == F.lit(item.reason.value)) & item.fails, item.detail)
    return detail


def explain(classified: Any, dataset: Dataset | str) -> Any:
    """``_detail`` for each row's ``_reason``: the column, the rule and the value found."""
    F = api(classified).F
    return classified.select("*", detail_column(F, RAW_SCHEMAS[Dataset(dataset)]).alias(DETAIL))


def typed_columns(df: Any, dataset: Dataset | str) -> list[Any]:
    """Select-list of the schema columns, cast, from a classified DataFrame's good rows."""
    F = api(df).F
    schema = RAW_SCHEMAS[Dataset(dataset)]
    return [typed_value(F, c).alias(c.name) for c in schema.columns]


def quarantine_columns(df: Any, dataset: Dataset | str) -> list[Any]:
    """Select-list of a quarantine file: original text, then reason, detail, line, file."""
    return quarantine_select(api(df).F, dataset)


def quarantine_select(F: Any, dataset: Dataset | str, *, detail: Any = None) -> list[Any]:
    """:func:`quarantine_columns` with the engine's functions ``F``; ``detail`` replaces the ``_detail`` column."""
    schema = RAW_SCHEMAS[Dataset(dataset)]
    return [
        *[F.col(c.name).cast("string").alias(c.name) for c in schema.columns],
        F.col(REASON),
        F.col(DETAIL) if detail is None else detail.alias(DETAIL),
        F.col(LINE).cast("bigint").alias(LINE),
        F.col(FILE),
    ]
