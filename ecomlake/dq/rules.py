"""Data-quality rules, declared as data.

Most rules are derived from ``ecomlake.schemas`` so the checks can never disagree with
the tables: a required column gets a ``not_null`` rule, a primary key a ``unique`` rule,
an ``enum`` an ``enum`` rule and ``min``/``max`` a ``range`` rule. The rest -- freshness,
row counts, referential integrity, row conservation, quarantine rate, schema drift and
anomalies -- are written out below, each with the reason it has the severity it has.

Severity: ``critical`` fails the pipeline (the DQ step raises, the state machine stops
before the master merge and alerts); ``warning`` is reported, published as a metric and
alerted on, but lets the pipeline go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from ecomlake.contract import CURATED_TABLES, JOB_INPUTS, PARALLEL_ETL_JOBS, Dataset, Job, Table
from ecomlake.schemas import TABLES, TableSchema


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


class Kind(StrEnum):
    """What a rule measures. Each kind has one SQL compiler in ``ecomlake.dq.checks``."""

    ROW_COUNT = "row_count"
    NOT_NULL = "not_null"
    UNIQUE = "unique"
    FRESHNESS = "freshness"
    REFERENTIAL_INTEGRITY = "referential_integrity"
    RANGE = "range"
    ENUM = "enum"
    CONSERVATION = "conservation"
    QUARANTINE_RATE = "quarantine_rate"
    SCHEMA_DRIFT = "schema_drift"
    ANOMALY = "anomaly"


# Kinds measured by one aggregate per row over a table's partition; they are batched
# into a single scan per table (see ``checks.profile_sql``).
ROW_LEVEL_KINDS: Final = frozenset({Kind.NOT_NULL, Kind.RANGE, Kind.ENUM})


class AnomalyMethod(StrEnum):
    """How a daily value is compared with the median of the previous days.

    factor: fail when value > median * t or value < median / t (t > 1).
    pct:    fail when |value - median| / median > t (t = 0.5 means 50 %).
    zscore: robust z-score, 0.6745 * (value - median) / MAD; fail when |z| > t.
    """

    FACTOR = "factor"
    PCT = "pct"
    ZSCORE = "zscore"


@dataclass(frozen=True)
class Rule:
    """One check: what to measure (kind + params) on which table, and how bad a failure is.

    ``table`` is a catalog table name, or for the run-summary kinds (conservation,
    quarantine rate, schema drift) a raw dataset name.
    """

    id: str
    table: str
    kind: Kind
    severity: Severity
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    description: str = ""

    @property
    def column(self) -> str | None:
        return self.params.get("column")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "table": self.table,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "params": {k: _plain(v) for k, v in self.params.items()},
            "description": self.description,
        }


def _plain(value: Any) -> Any:
    """JSON-friendly parameter values (tuples -> lists, Decimals -> str)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


# --------------------------------------------------------------------------- derived from schemas


def schema_rules(schema: TableSchema, severity: Severity = Severity.CRITICAL) -> list[Rule]:
    """not_null / unique / enum / range rules for one table, straight from its schema.

    Critical by default: processed rows were validated against these exact constraints
    by the ETL (violations are quarantined), and curated rows are computed from them,
    so a violation here means a row escaped validation or a transform is wrong.
    """
    name = str(schema.name)
    rules: list[Rule] = []
    for col in schema.columns:
        if col.required:
            rules.append(
                Rule(
                    f"{name}.not_null.{col.name}",
                    name,
                    Kind.NOT_NULL,
                    severity,
                    {"column": col.name, "max_null_rate": 0.0, "blank_is_null": col.type == "string"},
                    f"{col.name} is never null" + (" or blank" if col.type == "string" else ""),
                )
            )
    if schema.primary_key:
        key = tuple(schema.primary_key)
        rules.append(
            Rule(
                f"{name}.unique.{'+'.join(key)}",
                name,
                Kind.UNIQUE,
                severity,
                {"columns": key},
                f"one row per ({', '.join(key)})",
            )
        )
    for col in schema.columns:
        if col.enum:
            rules.append(
                Rule(
                    f"{name}.enum.{col.name}",
                    name,
                    Kind.ENUM,
                    severity,
                    {"column": col.name, "values": tuple(col.enum)},
                    f"{col.name} in ({', '.join(col.enum)})",
                )
            )
        if col.min is not None or col.max is not None:
            rules.append(
                Rule(
                    f"{name}.range.{col.name}",
                    name,
                    Kind.RANGE,
                    severity,
                    {"column": col.name, "min": col.min, "max": col.max},
                    f"{col.name} in [{'-inf' if col.min is None else col.min}, "
                    f"{'+inf' if col.max is None else col.max}]",
                )
            )
    return rules


# --------------------------------------------------------------------------- hand-written

# Freshness: today's partition exists and has rows. Transactions are the fact every
# KPI is built on, so a missing day stops the pipeline; clickstream and reviews are
# warnings (a quiet day can legitimately have no reviews); products arrive as partial
# updates after the first full catalog, sessions follow clickstream.
_FRESHNESS: Final[dict[Table, Severity]] = {
    Table.TRANSACTIONS: Severity.CRITICAL,
    Table.CLICKSTREAM: Severity.WARNING,
    Table.PRODUCTS: Severity.WARNING,
    Table.REVIEWS: Severity.WARNING,
    Table.SESSIONS: Severity.WARNING,
}

# Daily volume bounds (rows per partition). Generous on purpose: they catch an empty or
# runaway load (e.g. a file landed ten times); the anomaly rules catch subtler swings.
MAX_DAILY_ROWS: Final = 50_000_000
_ROW_COUNTS: Final[list[tuple[Table, int, int, Severity, str]]] = [
    (Table.TRANSACTIONS, 1, MAX_DAILY_ROWS, Severity.WARNING, "between 1 and 50M transactions a day"),
    (Table.CLICKSTREAM, 1, MAX_DAILY_ROWS, Severity.WARNING, "between 1 and 50M clickstream events a day"),
    # The merge writes exactly one KPI row per date; two would double every dashboard tile.
    (Table.DAILY_KPIS, 1, 1, Severity.CRITICAL, "exactly one KPI row per date"),
]

# Referential integrity. Severities follow the design: a transaction or review naming a
# product missing from the catalog is kept (fact_sales carries null product attributes),
# so it warns; a fact row whose customer is missing from dim_customers means the merge
# lost rows, because the dimension is built from the same transactions. A partitioned
# parent is read up to the checked date (catalog snapshots known by then), except where
# both tables share the same partitioning (sessions), which compares that date alone.
_REFERENCES: Final[list[tuple[Table, str, Table, str, Severity, str]]] = [
    (
        Table.TRANSACTIONS,
        "product_id",
        Table.PRODUCTS,
        "product_id",
        Severity.WARNING,
        "every transaction's product is in a catalog snapshot up to that date",
    ),
    (
        Table.REVIEWS,
        "product_id",
        Table.PRODUCTS,
        "product_id",
        Severity.WARNING,
        "every review's product is in a catalog snapshot up to that date",
    ),
    (
        Table.FACT_SALES,
        "product_id",
        Table.DIM_PRODUCTS,
        "product_id",
        Severity.WARNING,
        "every sale's product is in dim_products",
    ),
    (
        Table.FACT_SALES,
        "customer_id",
        Table.DIM_CUSTOMERS,
        "customer_id",
        Severity.CRITICAL,
        "every sale's customer is in dim_customers",
    ),
    (
        Table.FCT_SESSIONS,
        "session_id",
        Table.SESSIONS,
        "session_id",
        Severity.CRITICAL,
        "every curated session comes from a processed session",
    ),
]

# Anomalies: a daily value against the median of the previous 7 days that have data.
# Warnings: a spike is worth a look, not a reason to withhold the day's data.
ANOMALY_WINDOW_DAYS: Final = 7
ANOMALY_MIN_HISTORY: Final = 3
# The expression is one SQL aggregate over the table's rows of a date.
_ANOMALIES: Final[list[tuple[Table, str, str, AnomalyMethod, float, str]]] = [
    (Table.TRANSACTIONS, "rows", "count(*)", AnomalyMethod.FACTOR, 2.0, "transactions a day"),
    (
        Table.TRANSACTIONS,
        "revenue",
        "coalesce(sum(total_amount) FILTER (WHERE status = 'completed'), 0)",
        AnomalyMethod.FACTOR,
        2.0,
        "completed revenue a day",
    ),
    (Table.CLICKSTREAM, "rows", "count(*)", AnomalyMethod.FACTOR, 2.0, "clickstream events a day"),
    (Table.DAILY_KPIS, "conversion_rate", "max(conversion_rate)", AnomalyMethod.PCT, 0.5, "conversion rate"),
    (Table.DAILY_KPIS, "avg_order_value", "max(avg_order_value)", AnomalyMethod.PCT, 0.5, "average order value"),
]

# Row conservation per raw dataset, from the ETL run summaries: nothing may be lost.
MAX_QUARANTINE_RATE: Final = 0.05
# A rate over a handful of rows (a small catalog update) says little: below this the rate is
# reported but not judged.
QUARANTINE_RATE_MIN_ROWS: Final = 20


def job_for_dataset(dataset: Dataset | str) -> Job:
    """The ETL job that cleans a raw dataset (and writes its run summary)."""
    ds = Dataset(dataset)
    return next(job for job in PARALLEL_ETL_JOBS if ds in JOB_INPUTS[job])


def hand_written_rules() -> list[Rule]:
    rules: list[Rule] = []
    for table, severity in _FRESHNESS.items():
        rules.append(
            Rule(
                f"{table}.freshness",
                str(table),
                Kind.FRESHNESS,
                severity,
                {},
                f"the {table} partition for the date exists and is not empty",
            )
        )
    for table, low, high, severity, text in _ROW_COUNTS:
        rules.append(Rule(f"{table}.row_count", str(table), Kind.ROW_COUNT, severity, {"min": low, "max": high}, text))
    for child, column, parent, parent_column, severity, text in _REFERENCES:
        rules.append(
            Rule(
                f"{child}.referential_integrity.{column}",
                str(child),
                Kind.REFERENTIAL_INTEGRITY,
                severity,
                {
                    "column": column,
                    "ref_table": str(parent),
                    "ref_column": parent_column,
                    "ref_dates": "same" if parent is Table.SESSIONS else "up_to",
                    "max_orphan_rate": 0.0,
                },
                text,
            )
        )
    for dataset in Dataset:
        job = str(job_for_dataset(dataset))
        rules.append(
            Rule(
                f"{dataset}.conservation",
                str(dataset),
                Kind.CONSERVATION,
                Severity.CRITICAL,
                {"job": job},
                "rows_in == rows_out + rows_quarantined, and both match the files in the lake",
            )
        )
        rules.append(
            Rule(
                f"{dataset}.quarantine_rate",
                str(dataset),
                Kind.QUARANTINE_RATE,
                Severity.WARNING,
                {"job": job, "max_rate": MAX_QUARANTINE_RATE, "min_rows": QUARANTINE_RATE_MIN_ROWS},
                f"at most {MAX_QUARANTINE_RATE:.0%} of the day's rows quarantined "
                f"(judged from {QUARANTINE_RATE_MIN_ROWS} rows in)",
            )
        )
        rules.append(
            Rule(
                f"{dataset}.schema_drift",
                str(dataset),
                Kind.SCHEMA_DRIFT,
                Severity.WARNING,
                {},
                "landed files carry the seed's columns exactly (no undeclared ones, no optional ones missing)",
            )
        )
    for table, metric, expr, method, threshold, text in _ANOMALIES:
        rules.append(
            Rule(
                f"{table}.anomaly.{metric}",
                str(table),
                Kind.ANOMALY,
                Severity.WARNING,
                {
                    "metric": metric,
                    "expr": expr,
                    "method": str(method),
                    "threshold": threshold,
                    "window_days": ANOMALY_WINDOW_DAYS,
                    "min_history": ANOMALY_MIN_HISTORY,
                },
                f"{text}: {method} score <= {threshold} against the median of the previous {ANOMALY_WINDOW_DAYS} days",
            )
        )
    return rules


def default_rules() -> tuple[Rule, ...]:
    """Every rule the DQ step runs: schema-derived for every table, then the hand-written ones."""
    rules = [rule for schema in TABLES.values() for rule in schema_rules(schema)]
    rules.extend(hand_written_rules())
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:  # a programming error in this module, caught at import
        raise ValueError(f"duplicate DQ rule ids: {sorted(duplicates)}")
    return tuple(rules)


RULES: Final = default_rules()


def rules_for(tables: Iterable[str], rules: Iterable[Rule] = RULES) -> list[Rule]:
    wanted = {str(t) for t in tables}
    return [r for r in rules if r.table in wanted]


def is_curated(table: str) -> bool:
    return table in {str(t) for t in CURATED_TABLES}


def rules_markdown(rules: Iterable[Rule] = RULES) -> str:
    """Every rule as Markdown tables, one per table, rules of one kind and severity on one line.

    docs/data-quality.md embeds this output (a test keeps the two identical).
    """
    by_table: dict[str, dict[tuple[Kind, Severity], list[Rule]]] = {}
    for rule in rules:
        by_table.setdefault(rule.table, {}).setdefault((rule.kind, rule.severity), []).append(rule)
    out: list[str] = []
    for table, groups in by_table.items():
        zone = "curated" if is_curated(table) else "processed"
        out += [f"#### {table} ({zone})", "", "| kind | severity | rules |", "|---|---|---|"]
        for (kind, severity), members in groups.items():
            if kind is Kind.NOT_NULL:
                text = "never null (strings never blank): " + ", ".join(f"`{r.column}`" for r in members)
            else:
                text = "; ".join(r.description for r in members)
            out.append(f"| {kind} | {severity} | {text} |")
        out.append("")
    return "\n".join(out)
