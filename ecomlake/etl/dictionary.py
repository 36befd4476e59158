"""docs/DATA_DICTIONARY.md, generated from ``ecomlake.schemas`` so the two cannot drift.

``python -m ecomlake.etl.dictionary`` rewrites the file; a unit test fails when the
committed file differs from what :func:`render` produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecomlake.contract import (
    CURATED_TABLES,
    PARTITION_KEY,
    PROCESSED_TABLES,
    QUARANTINE_DETAIL_COLUMN,
    QUARANTINE_REASON_COLUMN,
    QUARANTINE_ROWS_FILE,
    RAW_FILE_NAMES,
    SOURCE_FILE_COLUMN,
    SOURCE_LINE_COLUMN,
    Zone,
    partition_prefix,
    table_prefix,
)
from ecomlake.etl.transforms.rfm import SEGMENT_RULES
from ecomlake.schemas import (
    PRICE_BAND_LIMITS,
    PRICE_BANDS,
    RAW_SCHEMAS,
    Column,
    Reason,
    TableSchema,
    table_schema,
)

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "DATA_DICTIONARY.md"
_EXAMPLE_DATE = "YYYY-MM-DD"

_REASON_TEXT = {
    Reason.MALFORMED_RECORD: "the record does not parse (CSV field count, invalid JSON, not an object)",
    Reason.MISSING_REQUIRED: "a required column is null or blank",
    Reason.BAD_NUMBER: "not a plain number where one is required",
    Reason.BAD_DATE: "not a real date (YYYY-MM-DD) or UTC timestamp",
    Reason.UNKNOWN_ENUM: "a value outside the allowed set (exact, case-sensitive)",
    Reason.OUT_OF_RANGE: "a number outside its bounds or its type",
    Reason.AMOUNT_MISMATCH: "total_amount differs from quantity x price by more than 0.01",
    Reason.DUPLICATE_KEY: "the primary key of an earlier valid row of the same date partition",
}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _rules(column: Column) -> str:
    parts = []
    if column.enum:
        parts.append("one of " + ", ".join(f"`{v}`" for v in column.enum))
    if column.min is not None and column.max is not None:
        parts.append(f"{column.min} to {column.max}")
    elif column.min is not None:
        parts.append(f">= {column.min}")
    elif column.max is not None:
        parts.append(f"<= {column.max}")
    return "; ".join(parts)


def _columns(columns: tuple[Column, ...], partition_key: str | None) -> list[str]:
    lines = ["| Column | Type | Null | Description | Allowed |", "|---|---|---|---|---|"]
    for c in columns:
        null = "yes" if c.nullable else "no"
        lines.append(f"| `{c.name}` | {c.type} | {null} | {_cell(c.description)} | {_cell(_rules(c))} |")
    if partition_key:
        lines.append(f"| `{partition_key}` | string (partition) | no | Business date the data landed | YYYY-MM-DD |")
    return lines


def _table(schema: TableSchema) -> list[str]:
    if schema.partition_key:
        where = partition_prefix(schema.zone, str(schema.name), "2025-01-01").replace("2025-01-01", _EXAMPLE_DATE)
    else:
        where = table_prefix(schema.zone, str(schema.name))
    key = ", ".join(schema.primary_key) or "none"
    partitioned = f"by `{schema.partition_key}`" if schema.partition_key else "no (rebuilt whole on every run)"
    return [
        f"### `{schema.name}`",
        "",
        schema.description,
        "",
        f"- Location: `{where}*.parquet`",
        f"- Grain: {schema.grain}",
        f"- Primary key: {key}",
        f"- Partitioned: {partitioned}",
        "",
        *_columns(schema.columns, schema.partition_key),
        "",
    ]


def render() -> str:
    """The whole data dictionary as Markdown."""
    out = [
        "# Data dictionary",
        "",
        "<!-- Generated from ecomlake/schemas.py by `python -m ecomlake.etl.dictionary`; do not edit. -->",
        "",
        "Every table of the lake: where it lives, its grain and key, and its columns. Types are",
        "Glue/Athena DDL types. Processed and curated tables are Snappy Parquet; partitioned",
        f"tables are partitioned by `{PARTITION_KEY}`, the business date the data landed",
        "(the partition column is not stored inside the files).",
        "",
        "## Raw inputs",
        "",
        "Landed as received under `raw/<dataset>/date=YYYY-MM-DD/<file>` and never modified.",
        "Every column is read as text; rows breaking a rule are quarantined (see below).",
        "",
    ]
    for dataset, raw in RAW_SCHEMAS.items():
        out += [
            f"### `{dataset}` (raw)",
            "",
            f"- File: `{RAW_FILE_NAMES[dataset]}` ({raw.format}; `.gz` accepted)",
            f"- Key: {', '.join(raw.primary_key)} (unique within a date partition)",
            "",
            *_columns(raw.columns, None),
            "",
        ]
    out += ["## Processed zone", ""]
    for table in PROCESSED_TABLES:
        out += _table(table_schema(table))
    out += ["## Curated zone", ""]
    for table in CURATED_TABLES:
        out += _table(table_schema(table))
    quarantine = partition_prefix(Zone.QUARANTINE, "<dataset>", "2025-01-01").replace("2025-01-01", _EXAMPLE_DATE)
    out += [
        "## Quarantine",
        "",
        f"Bad rows: `{quarantine}{QUARANTINE_ROWS_FILE}`, one file per dataset and date, holding the",
        "raw columns as the original text plus:",
        "",
        "| Column | Type | Description |",
        "|---|---|---|",
        f"| `{QUARANTINE_REASON_COLUMN}` | string | The first rule the row breaks (reason code below) |",
        f"| `{QUARANTINE_DETAIL_COLUMN}` | string | Column, rule and the value found |",
        f"| `{SOURCE_LINE_COLUMN}` | bigint | Line of the raw file the record starts on |",
        f"| `{SOURCE_FILE_COLUMN}` | string | Key of the raw file |",
        "",
        "Whole files the validator rejects are copied beside them as `<file>` with `<file>.reason.json`.",
        "",
        "| Reason code (checked in this order) | Meaning |",
        "|---|---|",
        *[f"| `{reason}` | {_REASON_TEXT[reason]} |" for reason in Reason],
        "",
        "## Derived values",
        "",
        "Price bands (`price_band`), by unit price:",
        "",
        "| Band | Price |",
        "|---|---|",
    ]
    lower = "0"
    for band, limit in zip(PRICE_BANDS, PRICE_BAND_LIMITS, strict=False):
        out.append(f"| `{band}` | {lower} <= price < {limit} |")
        lower = str(limit)
    out.append(f"| `{PRICE_BANDS[-1]}` | price >= {lower} |")
    out += [
        "",
        "RFM segments (`dim_customers.segment`): R, F and M are quintiles 1-5 (`ntile(5)` over all",
        "customers, 5 = most recent / most completed orders / highest lifetime value; ties ordered",
        "by `customer_id`). A customer gets the first segment whose condition holds:",
        "",
        "| Segment | Condition | Meaning |",
        "|---|---|---|",
        *[f"| {rule.segment} | {rule.condition()} | {rule.meaning} |" for rule in SEGMENT_RULES],
        "",
    ]
    return "\n".join(out)


def write(path: Path = DEFAULT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH))
