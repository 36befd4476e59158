"""An independent reader and row classifier for generated raw files.

It shares nothing with the generator but the schema declarations (column names,
required flags, enums, bounds): parsing and every rule are written here again, so the
tests can check the generator's manifest against what is really in the files.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ecomlake.contract import RAW_FILE_NAMES, Dataset
from ecomlake.schemas import RAW_SCHEMAS, Reason

_INT_RE = re.compile(r"^-?\d+$")
_DEC_RE = re.compile(r"^-?\d+(\.\d{1,2})?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@dataclass
class Row:
    line: int
    values: dict[str, Any] | None  # None when the record does not parse
    reason: Reason | None = None


def read_rows(path: Path, dataset: Dataset) -> list[Row]:
    """Every record of a raw file, parsed as the seed's format says."""
    text = path.read_text(encoding="utf-8")
    fmt = RAW_SCHEMAS[dataset].format
    names = RAW_SCHEMAS[dataset].column_names
    rows: list[Row] = []
    if fmt == "csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader)
        assert tuple(header) == names, header
        for record in reader:
            ok = len(record) == len(names)
            rows.append(Row(reader.line_num, dict(zip(names, record, strict=True)) if ok else None))
    elif fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            try:
                obj = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError:
                obj = None
            rows.append(Row(n, obj if isinstance(obj, dict) else None))
    else:
        for n, obj in enumerate(json.loads(text, parse_float=Decimal), start=1):
            rows.append(Row(n, obj if isinstance(obj, dict) else None))
    return rows


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def _number(v: Any, integer: bool) -> Decimal | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | Decimal):
        return Decimal(v) if not integer or Decimal(v) == int(v) else None
    text = str(v).strip()
    if not (_INT_RE if integer else _DEC_RE).match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _temporal(v: Any, kind: str) -> bool:
    text = str(v)
    try:
        if kind == "date":
            return bool(_DATE_RE.match(text)) and datetime.strptime(text, "%Y-%m-%d") is not None
        return bool(_TS_RE.match(text)) and datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") is not None
    except ValueError:
        return False


def classify(dataset: Dataset, values: dict[str, Any] | None) -> Reason | None:
    """The first rule (in Reason order) a record breaks, duplicates aside."""
    if values is None:
        return Reason.MALFORMED_RECORD
    schema = RAW_SCHEMAS[dataset]
    cols = schema.columns
    if any(c.required and _blank(values.get(c.name)) for c in cols):
        return Reason.MISSING_REQUIRED
    numbers: dict[str, Decimal] = {}
    for c in cols:
        if c.is_numeric and not _blank(values.get(c.name)):
            n = _number(values[c.name], integer=not c.is_decimal)
            if n is None:
                return Reason.BAD_NUMBER
            numbers[c.name] = n
    if any(c.is_temporal and not _blank(values.get(c.name)) and not _temporal(values[c.name], c.type) for c in cols):
        return Reason.BAD_DATE
    if any(c.enum and not _blank(values.get(c.name)) and values[c.name] not in c.enum for c in cols):
        return Reason.UNKNOWN_ENUM
    for c in cols:
        n = numbers.get(c.name)
        if n is not None and (
            (c.min is not None and n < Decimal(str(c.min))) or (c.max is not None and n > Decimal(str(c.max)))
        ):
            return Reason.OUT_OF_RANGE
    mismatch = dataset is Dataset.TRANSACTIONS and (
        abs(numbers["quantity"] * numbers["price"] - numbers["total_amount"]) > Decimal("0.01")
    )
    if mismatch:
        return Reason.AMOUNT_MISMATCH
    return None


def check_file(path: Path, dataset: Dataset) -> tuple[list[Row], Counter[str]]:
    """Rows of one file with their reasons, and the counts by reason (duplicates included)."""
    rows = read_rows(path, dataset)
    key = RAW_SCHEMAS[dataset].primary_key
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        row.reason = classify(dataset, row.values)
        if row.reason is None:
            k = tuple(row.values[c] for c in key)  # type: ignore[index]
            if k in seen:
                row.reason = Reason.DUPLICATE_KEY
            seen.add(k)
    return rows, Counter(str(r.reason) for r in rows if r.reason is not None)


def partition_files(root: Path, dataset: Dataset) -> dict[str, Path]:
    """date -> file, for every partition of a dataset under a generator output tree."""
    out = {}
    for path in sorted((root / str(dataset)).glob(f"date=*/{RAW_FILE_NAMES[dataset]}")):
        out[path.parent.name.removeprefix("date=")] = path
    return out


def valid_rows(root: Path, dataset: Dataset) -> dict[str, list[dict[str, Any]]]:
    """date -> the rows that break no rule (first copy of a duplicate kept)."""
    out = {}
    for day, path in partition_files(root, dataset).items():
        rows, _ = check_file(path, dataset)
        out[day] = [r.values for r in rows if r.reason is None]  # type: ignore[misc]
    return out
