"""Data-quality rules, declared as data.

Most rules are derived from ``ecomlake.schemas`` so the checks can never disagree with
the tables: a required column gets a ``not_null`` rule, a primary key a ``unique`` rule,
an ``enum`` an ``enum`` rule and ``min``/``max`` a ``range`` rule. The rest -- freshness,
row counts, referential integrity, row conservation, quarantine rate, schema drift and
anomalies -- are written out below, each with the reason it has the severity it has.

Severity: ``critical`` fails the run (the audit raises, nothing of the run is published,
and the failure alert names the check); ``warning`` is reported, published as a metric
and alerted on, but lets the run publish. Rules that measure a rate -- the share of a day's
rows quarantined, of references that find nothing, the day's volume against its recent
history -- carry two thresholds: past the warning one they warn, past the critical one they
fail the run. Those thresholds are data too (:class:`Thresholds`), set per stack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Final

from ecomlake.contract import CURATED_TABLES, JOB_INPUTS, PARALLEL_ETL_JOBS, Dataset, EnvVar, Job, Table
from ecomlake.exceptions import InvalidArgumentError
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
    VOLUME = "volume"


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


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    """Where a measured share turns a check into a warning, and into a failure that stops the run.

    Rates are fractions of the day's rows (0.05 = 5 %). Volumes compare the day's rows with the
    median of the previous days that had data: below ``volume_warning_below`` of it warns,
    below ``volume_critical_below`` of it is a collapse that stops the run. Set per stack
    (``ecomlake:dqThresholds`` in the Pulumi stack file, ``$ECOMLAKE_DQ_THRESHOLDS`` locally),
    any subset of the fields, as a JSON object.
    """

    quarantine_warning_above: float = 0.05
    quarantine_critical_above: float = 0.20
    orphan_warning_above: float = 0.0
    orphan_critical_above: float = 0.05
    volume_warning_below: float = 0.5
    volume_critical_below: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise InvalidArgumentError(f"DQ threshold {f.name} must be a number from 0 to 1, got {value!r}")
        pairs = (
            ("quarantine_warning_above", "quarantine_critical_above"),
            ("orphan_warning_above", "orphan_critical_above"),
            ("volume_critical_below", "volume_warning_below"),
        )
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise InvalidArgumentError(f"DQ threshold {low} must not exceed {high}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Thresholds:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(f"unknown DQ thresholds {unknown}; known: {', '.join(sorted(known))}")
        return cls(**{k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in data.items()})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Thresholds:
        """``$ECOMLAKE_DQ_THRESHOLDS`` (a JSON object of any of the fields), else the defaults."""
        text = (os.environ if environ is None else environ).get(EnvVar.DQ_THRESHOLDS, "").strip()
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError as err:
            raise InvalidArgumentError(f"{EnvVar.DQ_THRESHOLDS} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{EnvVar.DQ_THRESHOLDS} must be a JSON object")
        return cls.from_mapping(data)


DEFAULT_THRESHOLDS: Final = Thresholds()

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

# Referential integrity. A transaction, review or sale naming a product missing from the
# catalog is kept (fact_sales carries null product attributes): a few such rows warn, a day
# where many do (a catalog feed gone missing) stops the run -- the orphan thresholds. A sale
# whose customer is missing from dim_customers, or a curated session without its processed
# session, means the merge lost rows: any is critical. A partitioned parent is read up to the
# checked date (catalog snapshots known by then), except where both tables share the same
# partitioning (sessions), which compares that date alone.
_REFERENCES: Final[list[tuple[Table, str, Table, str, bool, str]]] = [
    (
        Table.TRANSACTIONS,
        "product_id",
        Table.PRODUCTS,
        "product_id",
        True,
        "every transaction's product is in a catalog snapshot up to that date",
    ),
    (
        Table.REVIEWS,
        "product_id",
        Table.PRODUCTS,
        "product_id",
        True,
        "every review's product is in a catalog snapshot up to that date",
    ),
    (
        Table.FACT_SALES,
        "product_id",
        Table.DIM_PRODUCTS,
        "product_id",
        True,
        "every sale's product is in dim_products",
    ),
    (
        Table.FACT_SALES,
        "customer_id",
        Table.DIM_CUSTOMERS,
        "customer_id",
        False,
        "every sale's customer is in dim_customers",
    ),
    (
        Table.FCT_SESSIONS,
        "session_id",
        Table.SESSIONS,
        "session_id",
        False,
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
# Volume collapse: the day's rows against the same trailing median. Half of it warns; a
# tenth of it (a truncated extract, a feed that stopped) stops the run.
_VOLUMES: Final = (Table.TRANSACTIONS, Table.CLICKSTREAM)

# A rate over a handful of rows (a small catalog update) says little: below this the
# quarantine rate is reported but not judged.
QUARANTINE_RATE_MIN_ROWS: Final = 20


def job_for_dataset(dataset: Dataset | str) -> Job:
    """The ETL job that cleans a raw dataset (and writes its run summary)."""
    ds = Dataset(dataset)
    return next(job for job in PARALLEL_ETL_JOBS if ds in JOB_INPUTS[job])


def hand_written_rules(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[Rule]:
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
    for child, column, parent, parent_column, tiered, text in _REFERENCES:
        limits = (
            {"warning_above": thresholds.orphan_warning_above, "critical_above": thresholds.orphan_critical_above}
            if tiered
            else {"warning_above": 0.0, "critical_above": 0.0}
        )
        rules.append(
            Rule(
                f"{child}.referential_integrity.{column}",
                str(child),
                Kind.REFERENTIAL_INTEGRITY,
                Severity.CRITICAL,
                {
                    "column": column,
                    "ref_table": str(parent),
                    "ref_column": parent_column,
                    "ref_dates": "same" if parent is Table.SESSIONS else "up_to",
                    **limits,
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
                "a run summary exists, rows_in == rows_out + rows_quarantined, and both match the files in the lake",
            )
        )
        warn, fail = thresholds.quarantine_warning_above, thresholds.quarantine_critical_above
        rules.append(
            Rule(
                f"{dataset}.quarantine_rate",
                str(dataset),
                Kind.QUARANTINE_RATE,
                Severity.CRITICAL,
                {"job": job, "warning_above": warn, "critical_above": fail, "min_rows": QUARANTINE_RATE_MIN_ROWS},
                f"quarantined share of the day's rows: warning above {warn:.0%}, critical above {fail:.0%} "
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
    for table in _VOLUMES:
        warn, fail = thresholds.volume_warning_below, thresholds.volume_critical_below
        rules.append(
            Rule(
                f"{table}.volume",
                str(table),
                Kind.VOLUME,
                Severity.CRITICAL,
                {
                    "expr": "count(*)",
                    "warning_below": warn,
                    "critical_below": fail,
                    "window_days": ANOMALY_WINDOW_DAYS,
                    "min_history": ANOMALY_MIN_HISTORY,
                },
                f"the day's rows against the median of the previous {ANOMALY_WINDOW_DAYS} days: "
                f"warning below {warn:.0%} of it, critical below {fail:.0%}",
            )
        )
    return rules


def default_rules(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> tuple[Rule, ...]:
    """Every rule the DQ step runs: schema-derived for every table, then the hand-written ones."""
    rules = [rule for schema in TABLES.values() for rule in schema_rules(schema)]
    rules.extend(hand_written_rules(thresholds))
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:  # a programming error in this module, caught at import
        raise ValueError(f"duplicate DQ rule ids: {sorted(duplicates)}")
    return tuple(rules)


RULES: Final = default_rules()


def configured_rules(environ: Mapping[str, str] | None = None) -> tuple[Rule, ...]:
    """The rules with this stack's thresholds (``$ECOMLAKE_DQ_THRESHOLDS``), what a run audits with."""
    thresholds = Thresholds.from_env(environ)
    return RULES if thresholds == DEFAULT_THRESHOLDS else default_rules(thresholds)


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
