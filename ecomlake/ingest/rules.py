"""The row rules: their specification, and the patterns and bounds they are built from.

The rules are implemented once, as column expressions (``ecomlake.etl.cleaning``), run by
the ETL on Spark or DuckDB and by the validator on DuckDB over the framer's Arrow batches
(``ecomlake.ingest.classifier``). This module holds what those expressions are generated
from besides ``ecomlake.schemas``: the value patterns (plain ``[0-9]`` classes, so they
mean the same in Java -- Spark ``rlike`` -- and RE2 -- DuckDB) and the numeric bounds.

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

``classify_records`` (``ecomlake.ingest.classifier``) runs the rules over a list of
records, duplicates included; ``check_row`` / ``classify_row`` ask about one record.
The framer (``ecomlake.ingest.framing``) supplies ``malformed_record``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ecomlake.contract import Dataset, parse_dataset
from ecomlake.schemas import Column, Reason, decimal_precision

INT_PATTERN = r"^-?[0-9]+$"
DOUBLE_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00)?$"

# Shown in fault examples and quarantine details: enough to recognise a value, never a
# whole runaway field.
MAX_VALUE_CHARS = 200

_INT_TYPES: dict[str, tuple[int, int]] = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


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


def check_row(dataset: Dataset | str, record: Mapping[str, Any]) -> Any:
    """The fault of one record (``classifier.RowFault``), or None: the rules as the ETL runs them."""
    from ecomlake.ingest.classifier import classify_records

    return classify_records(parse_dataset(str(dataset)), [record])[0]


def classify_row(dataset: Dataset | str, record: Mapping[str, Any]) -> Reason | None:
    """The ``Reason`` a single record is quarantined for; None when it is valid."""
    fault = check_row(dataset, record)
    return fault.reason if fault else None
