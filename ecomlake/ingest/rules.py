"""The row rules: one pure-Python reading of a raw record, shared by the validator and the ETL.

Both the file validator (which counts row faults per file) and the ETL (which quarantines
bad rows with a ``_reason`` column) classify rows by these rules, derived from
``ecomlake.schemas.RAW_SCHEMAS``. The ETL's column expressions must give the same answer
for every row; the regular expressions below are plain ``[0-9]`` classes so they mean the
same in Python, Java (Spark ``rlike``) and RE2 (DuckDB ``regexp_full_match``).

Exact semantics (a row is a ``dict[column, text | None]``; columns the schema does not
declare are ignored here and reported by the validator as schema drift):

1. **Normalise.** Every value is trimmed of surrounding whitespace (``str.strip()``); an
   empty result, a JSON ``null`` or an absent column is *null*. JSON numbers and booleans
   arrive as the text they were written with (``12.50``, ``true``), nested objects or
   arrays as compact JSON text.
2. **Rules, in ``Reason`` order; the first rule that fails names the row.** Within a rule,
   columns are checked in schema order, and the first failing column is reported.

   ``malformed_record``
       Decided by the reader, not here: a CSV record whose field count differs from the
       header's or that is not valid CSV (RFC 4180), a JSON Lines line that is not valid
       JSON or not an object, an array element that is not an object.
   ``missing_required``
       A non-nullable column (``Column.nullable is False``) is null.
   ``bad_number``
       A non-null value of a numeric column does not match its pattern: ``int``/``bigint``
       ``^-?[0-9]+$``; ``decimal(p,s)`` ``^-?[0-9]+(\\.[0-9]{1,s})?$`` (so ``12``, ``12.5``
       and ``12.50`` pass; ``1,200``, ``12.``, ``.5``, ``+3``, ``1e3``, ``12.505`` and
       ``NaN`` fail); ``double`` ``^-?[0-9]+(\\.[0-9]+)?$``. No thousands separators, no
       currency signs, no exponent.
   ``bad_date``
       ``date``: ``^[0-9]{4}-[0-9]{2}-[0-9]{2}$`` and a real calendar day (``2025-02-30``
       fails). ``timestamp``: ``^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}
       (\\.[0-9]{1,6})?(Z|\\+00:00)?$`` and a real instant (hour 0-23, minute and second
       0-59); the value is UTC -- any other offset fails.
   ``unknown_enum``
       A non-null value of a column with ``Column.enum`` is not exactly one of the allowed
       values after trimming (case-sensitive: ``Completed`` fails).
   ``out_of_range``
       A numeric value below ``Column.min`` or above ``Column.max`` (both inclusive), or
       outside what its type holds: ``int`` -2147483648..2147483647, ``bigint`` 64-bit,
       ``decimal(p,s)`` absolute value below 10^(p-s). Dates and timestamps have no bounds.
   ``amount_mismatch``
       Datasets with ``quantity``, ``price`` and ``total_amount``: ``|total_amount -
       quantity * price| > schemas.AMOUNT_TOLERANCE`` (0.01), in exact decimal arithmetic.
   ``duplicate_key``
       The primary key (``RawSchema.primary_key``) equals that of an *earlier valid row*
       of the same batch. Only rows that pass every other rule claim a key, so the first
       valid occurrence is kept and later ones are duplicates. Key parts compare as
       normalised text, timestamps as instants (``2025-01-01T10:00:00Z`` equals
       ``2025-01-01 10:00:00``). The validator's batch is one file (in line order); the
       ETL's batch is one dataset-date partition, ordered by file name, then line.

``check_row`` / ``classify_row`` apply the stateless rules (``missing_required`` through
``amount_mismatch``) to one row; ``RowClassifier`` adds ``duplicate_key`` over a sequence
of rows, and the readers in ``ecomlake.ingest.formats`` supply ``malformed_record``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from ecomlake.contract import Dataset, parse_dataset
from ecomlake.schemas import AMOUNT_TOLERANCE, RAW_SCHEMAS, Column, Reason, decimal_precision

INT_PATTERN = r"^-?[0-9]+$"
DOUBLE_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00)?$"

_INT_TYPES: dict[str, tuple[int, int]] = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_AMOUNT_COLUMNS = ("quantity", "price", "total_amount")
_DATE_RE = re.compile(DATE_PATTERN)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
# Shown in fault examples: enough to recognise a value, never a whole runaway field.
MAX_VALUE_CHARS = 200


def decimal_pattern(scale: int) -> str:
    """Pattern of a ``decimal(p, scale)`` value: at most ``scale`` digits after the point."""
    if scale == 0:
        return INT_PATTERN
    return rf"^-?[0-9]+(\.[0-9]{{1,{scale}}})?$"


def number_pattern(type_: str) -> str:
    """The pattern a numeric column's text must match (see the module docstring)."""
    if type_.startswith("decimal"):
        return decimal_pattern(decimal_precision(type_)[1])
    if type_ in _INT_TYPES:
        return INT_PATTERN
    if type_ in {"double", "float"}:
        return DOUBLE_PATTERN
    raise ValueError(f"not a numeric type: {type_}")


def type_bounds(column: Column) -> tuple[Decimal | None, Decimal | None]:
    """Inclusive bounds of a numeric column: its own min/max, narrowed by what its type holds."""
    lo = None if column.min is None else Decimal(str(column.min))
    hi = None if column.max is None else Decimal(str(column.max))
    type_lo = type_hi = None
    if column.type in _INT_TYPES:
        type_lo, type_hi = (Decimal(v) for v in _INT_TYPES[column.type])
    elif column.is_decimal:
        precision, scale = decimal_precision(column.type)
        type_hi = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        type_lo = -type_hi
    if type_lo is not None:
        lo = type_lo if lo is None else max(lo, type_lo)
    if type_hi is not None:
        hi = type_hi if hi is None else min(hi, type_hi)
    return lo, hi


def normalize(value: Any) -> str | None:
    """Trimmed text, or None for null / blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_date(text: str) -> date | None:
    """A ``YYYY-MM-DD`` calendar day, or None."""
    if not _DATE_RE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_timestamp(text: str) -> datetime | None:
    """A UTC timestamp in one of the accepted spellings, as a naive UTC datetime; or None."""
    if not _TIMESTAMP_RE.match(text):
        return None
    core = text[:-1] if text.endswith("Z") else text.removesuffix("+00:00")
    try:
        return datetime.fromisoformat(core.replace(" ", "T", 1))
    except ValueError:
        return None


def shown(value: Any) -> str | None:
    """A value as quoted in a report: the raw text, cut to ``MAX_VALUE_CHARS``."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


@dataclass(frozen=True, slots=True)
class RowFault:
    """Why one row is bad: the rule, the column (when one is to blame), the value found."""

    reason: Reason
    column: str | None
    value: str | None
    detail: str


@dataclass(frozen=True)
class _NumberRule:
    column: str
    regex: re.Pattern[str]
    integer: bool
    lo: Decimal | None
    hi: Decimal | None


class RowRules:
    """The stateless rules of one raw dataset, compiled once from its schema."""

    def __init__(self, dataset: Dataset | str) -> None:
        self.dataset = parse_dataset(str(dataset))
        schema = RAW_SCHEMAS[self.dataset]
        self.schema = schema
        self.columns = schema.column_names
        self.required = schema.required_columns
        self.numbers = tuple(
            _NumberRule(c.name, re.compile(number_pattern(c.type)), c.type in _INT_TYPES, *type_bounds(c))
            for c in schema.columns
            if c.is_numeric
        )
        self.dates = tuple(c.name for c in schema.columns if c.type == "date")
        self.timestamps = tuple(c.name for c in schema.columns if c.type == "timestamp")
        self.enums = tuple((c.name, c.enum) for c in schema.columns if c.enum)
        self.amount = all(name in schema.column_names for name in _AMOUNT_COLUMNS)
        self.primary_key = schema.primary_key

    def check(self, record: Mapping[str, Any]) -> tuple[RowFault | None, dict[str, Any]]:
        """The first stateless fault of a row, and the typed values checked so far."""
        get = record.get
        # Inlined normalize(): this runs for every row of every file.
        values = {name: (str(v).strip() or None) if (v := get(name)) is not None else None for name in self.columns}
        for name in self.required:
            if values[name] is None:
                why = "is absent" if name not in record else "is blank" if record[name] is not None else "is null"
                return RowFault(Reason.MISSING_REQUIRED, name, shown(record.get(name)), f"{name} {why}"), values
        typed: dict[str, Any] = dict(values)
        for rule in self.numbers:
            text = values[rule.column]
            if text is None:
                continue
            if not rule.regex.match(text):
                kind = "a whole number" if rule.integer else "a plain decimal number"
                return (
                    RowFault(Reason.BAD_NUMBER, rule.column, shown(record.get(rule.column)), f"not {kind}"),
                    typed,
                )
            typed[rule.column] = Decimal(text)
        for name in self.dates:
            text = values[name]
            if text is not None:
                parsed = parse_date(text)
                if parsed is None:
                    detail = "no such calendar day" if _DATE_RE.match(text) else "not a YYYY-MM-DD date"
                    return RowFault(Reason.BAD_DATE, name, shown(record.get(name)), detail), typed
                typed[name] = parsed
        for name in self.timestamps:
            text = values[name]
            if text is not None:
                parsed_ts = parse_timestamp(text)
                if parsed_ts is None:
                    detail = (
                        "no such time"
                        if _TIMESTAMP_RE.match(text)
                        else "not a UTC timestamp YYYY-MM-DDTHH:MM:SS[.ffffff][Z]"
                    )
                    return RowFault(Reason.BAD_DATE, name, shown(record.get(name)), detail), typed
                typed[name] = parsed_ts
        for name, allowed in self.enums:
            text = values[name]
            if text is not None and text not in allowed:
                detail = f"not one of {', '.join(allowed)}"
                return RowFault(Reason.UNKNOWN_ENUM, name, shown(record.get(name)), detail), typed
        for rule in self.numbers:
            number = typed[rule.column]
            if number is None:
                continue
            if rule.lo is not None and number < rule.lo:
                return (
                    RowFault(
                        Reason.OUT_OF_RANGE, rule.column, shown(record.get(rule.column)), f"below the minimum {rule.lo}"
                    ),
                    typed,
                )
            if rule.hi is not None and number > rule.hi:
                return (
                    RowFault(
                        Reason.OUT_OF_RANGE, rule.column, shown(record.get(rule.column)), f"above the maximum {rule.hi}"
                    ),
                    typed,
                )
        if self.amount:
            quantity, price, total = (typed[name] for name in _AMOUNT_COLUMNS)
            # "is not None" rather than "None not in (...)": Decimal == None is slow.
            complete = quantity is not None and price is not None and total is not None
            if complete and abs(total - quantity * price) > AMOUNT_TOLERANCE:
                return (
                    RowFault(
                        Reason.AMOUNT_MISMATCH,
                        "total_amount",
                        shown(record.get("total_amount")),
                        f"quantity {quantity} x price {price} = {quantity * price}",
                    ),
                    typed,
                )
        return None, typed

    def key_of(self, typed: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(typed[name] for name in self.primary_key)


@cache
def rules_for(dataset: Dataset | str) -> RowRules:
    return RowRules(dataset)


def check_row(dataset: Dataset | str, record: Mapping[str, Any]) -> RowFault | None:
    """The first stateless fault of one row (``missing_required`` .. ``amount_mismatch``), or None."""
    return rules_for(parse_dataset(str(dataset))).check(record)[0]


def classify_row(dataset: Dataset | str, record: Mapping[str, Any]) -> Reason | None:
    """The ``Reason`` a single row is quarantined for, ignoring duplicates; None when it is valid."""
    fault = check_row(dataset, record)
    return fault.reason if fault else None


class RowClassifier:
    """Classifies the rows of one batch in order, duplicates included (see the module docstring)."""

    def __init__(self, dataset: Dataset | str) -> None:
        self.rules = rules_for(parse_dataset(str(dataset)))
        self._seen: set[tuple[Any, ...]] = set()

    def classify(self, record: Mapping[str, Any]) -> RowFault | None:
        fault, typed = self.rules.check(record)
        if fault is not None:
            return fault
        key = self.rules.key_of(typed)
        if key in self._seen:
            names = ", ".join(self.rules.primary_key)
            value = ", ".join(str(record.get(name, "")).strip() for name in self.rules.primary_key)
            return RowFault(Reason.DUPLICATE_KEY, self.rules.primary_key[0], shown(value), f"({names}) seen earlier")
        self._seen.add(key)
        return None

    @staticmethod
    def malformed(detail: str) -> RowFault:
        return RowFault(Reason.MALFORMED_RECORD, None, None, detail)
