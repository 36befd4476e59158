"""Compile each rule to SQL over the catalog views, and judge what it measures. Pure: no engine here.

Two halves, kept apart so both are easy to test and shared by every engine:

* ``*_sql`` functions are pure: (rule, date) -> SQL text over the catalog's views (one view
  per table, ``date`` from the Hive partition), written in DuckDB's dialect, the canonical
  one; an engine that speaks another (Spark) transpiles it (``ecomlake.dq.engine_spark``).
  Row-level kinds (not_null, range, enum) compile to a predicate that is true for a bad
  row; all of a table's row-level rules are batched into one aggregate scan of the
  date's partition, so a table is read once, and only the columns its rules name. The
  examples a failed check shows come from ``*_sample_sql``, in a fixed order, so every
  engine shows the same ones.
* ``judge_*`` functions are pure: (rule, measured numbers) -> ``CheckResult``.

``ecomlake.dq.evaluation`` ties them together on any engine (``ecomlake.dq.engine``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ecomlake.contract import PARTITION_KEY, Table, to_date
from ecomlake.dq.rules import ROW_LEVEL_KINDS, AnomalyMethod, Kind, Rule, Severity, is_curated
from ecomlake.schemas import TABLES
from ecomlake.sqltext import ident, literal

SAMPLE_LIMIT = 5


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 -- a check status, not a secret
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one rule on one date."""

    rule_id: str
    table: str
    kind: str
    severity: str
    status: Status
    value: float | int | None = None
    expected: str = ""
    detail: str = ""
    sql: str = ""
    samples: tuple[dict[str, Any], ...] = ()

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    @property
    def critical(self) -> bool:
        return self.failed and self.severity == Severity.CRITICAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "table": self.table,
            "kind": self.kind,
            "severity": self.severity,
            "status": str(self.status),
            "value": self.value,
            "expected": self.expected,
            "detail": self.detail,
            "sql": self.sql,
            "samples": [dict(s) for s in self.samples],
        }


def make_result(
    rule: Rule, status: Status, value: Any = None, *, severity: str | None = None, **kw: Any
) -> CheckResult:
    """A rule's result; ``severity`` overrides the rule's for a tiered verdict."""
    return CheckResult(
        rule.id, rule.table, str(rule.kind), str(severity or rule.severity), status, _number(value), **kw
    )


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return float(value)


# --------------------------------------------------------------------------- SQL building blocks


def is_partitioned(table: str) -> bool:
    try:
        return TABLES[Table(table)].partition_key is not None
    except ValueError:
        return False


def date_expr() -> str:
    # The catalog may type the Hive partition as DATE or VARCHAR; the cast makes both work.
    return f"CAST({ident(PARTITION_KEY)} AS DATE)"


def partition_filter(table: str, day: str) -> str:
    """WHERE clause selecting one date's partition; ``TRUE`` for unpartitioned tables."""
    return f"{date_expr()} = DATE {literal(day)}" if is_partitioned(table) else "TRUE"


def predicate(rule: Rule) -> str:
    """SQL that is TRUE for a row breaking a row-level rule."""
    if rule.kind not in ROW_LEVEL_KINDS:
        raise ValueError(f"{rule.id}: {rule.kind} is not a row-level kind")
    col = ident(rule.params["column"])
    if rule.kind is Kind.NOT_NULL:
        if rule.params.get("blank_is_null"):
            return f"({col} IS NULL OR trim({col}) = '')"
        return f"{col} IS NULL"
    if rule.kind is Kind.RANGE:
        parts = []
        if rule.params.get("min") is not None:
            parts.append(f"{col} < {literal(rule.params['min'])}")
        if rule.params.get("max") is not None:
            parts.append(f"{col} > {literal(rule.params['max'])}")
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
    values = ", ".join(literal(v) for v in rule.params["values"])
    return f"({col} IS NOT NULL AND {col} NOT IN ({values}))"


def profile_sql(table: str, rules: Sequence[Rule], day: str) -> str:
    """One scan of a table's partition: its row count and one bad-row count per row-level rule."""
    measures = [f"count(*) AS {ident('__rows')}"]
    measures += [f"count(*) FILTER (WHERE {predicate(r)}) AS {ident(r.id)}" for r in rules]
    return f"SELECT {', '.join(measures)} FROM {ident(table)} WHERE {partition_filter(table, day)}"


def key_columns(table: str) -> tuple[str, ...]:
    schema = TABLES[Table(table)]
    return tuple(c for c in schema.primary_key if c != PARTITION_KEY or schema.partition_key is None)


def violations_sql(rule: Rule, day: str) -> str:
    """The rows breaking a row-level rule (the report shows this so anyone can look)."""
    cols = [*key_columns(rule.table), rule.params["column"]]
    select = ", ".join(ident(c) for c in dict.fromkeys(cols))
    return f"SELECT {select} FROM {ident(rule.table)} WHERE {partition_filter(rule.table, day)} AND {predicate(rule)}"


def duplicates_sql(rule: Rule, day: str) -> str:
    """Key values appearing more than once in the date's partition, with how often."""
    keys = ", ".join(ident(c) for c in rule.params["columns"])
    return (
        f"SELECT {keys}, count(*) AS n FROM {ident(rule.table)} WHERE {partition_filter(rule.table, day)} "
        f"GROUP BY {keys} HAVING count(*) > 1"
    )


def _sample(sql: str, order: Sequence[str], *, distinct: bool = False) -> str:
    """At most ``SAMPLE_LIMIT`` rows of ``sql`` in a fixed order (nulls last on every engine)."""
    head = "SELECT DISTINCT *" if distinct else "SELECT *"
    return f"{head} FROM ({sql}) AS found ORDER BY {', '.join(order)} LIMIT {SAMPLE_LIMIT}"


def _ascending(columns: Iterable[str]) -> list[str]:
    return [f"{ident(c)} ASC NULLS LAST" for c in columns]


def violations_sample_sql(rule: Rule, day: str) -> str:
    """The first rows breaking a row-level rule, by key."""
    cols = dict.fromkeys([*key_columns(rule.table), rule.params["column"]])
    return _sample(violations_sql(rule, day), _ascending(cols))


def duplicates_sample_sql(rule: Rule, day: str) -> str:
    """The most repeated key values first."""
    return _sample(duplicates_sql(rule, day), ["n DESC", *_ascending(rule.params["columns"])])


def orphans_sample_sql(rule: Rule, day: str) -> str:
    """The first distinct keys that find no parent."""
    return _sample(orphans_sql(rule, day), _ascending([rule.params["column"]]), distinct=True)


def unique_sql(rule: Rule, day: str) -> str:
    return (
        f"SELECT count(*) AS dup_keys, coalesce(sum(n) - count(*), 0) AS extra_rows FROM ({duplicates_sql(rule, day)})"
    )


def orphans_sql(rule: Rule, day: str) -> str:
    """Child rows of the date whose key is missing from the parent table.

    A partitioned parent (a catalog snapshot) counts up to and including the date, so a
    backfill judges each day against what was known then -- or only on the date itself
    when ``ref_dates`` is ``same`` (tables partitioned alike).
    """
    p = rule.params
    if not is_partitioned(p["ref_table"]):
        parent_filter = "TRUE"
    else:
        op = "=" if p.get("ref_dates") == "same" else "<="
        parent_filter = f"{date_expr()} {op} DATE {literal(day)}"
    return (
        f"WITH child AS (SELECT {ident(p['column'])} AS k FROM {ident(rule.table)} "
        f"WHERE {partition_filter(rule.table, day)} AND {ident(p['column'])} IS NOT NULL), "
        f"parent AS (SELECT DISTINCT {ident(p['ref_column'])} AS k FROM {ident(p['ref_table'])} WHERE {parent_filter}) "
        f"SELECT child.k AS {ident(p['column'])} FROM child LEFT JOIN parent ON child.k = parent.k "
        "WHERE parent.k IS NULL"
    )


def referential_sql(rule: Rule, day: str) -> str:
    child = f"SELECT count(*) FROM {ident(rule.table)} WHERE {partition_filter(rule.table, day)}"
    return (
        f"SELECT ({child}) AS n_rows, count(*) AS orphans, count(DISTINCT {ident(rule.params['column'])}) "
        f"AS orphan_keys FROM ({orphans_sql(rule, day)})"
    )


def anomaly_sql(rule: Rule, day: str) -> str:
    """The rule's daily aggregate for the date and the window of days before it."""
    start = to_date(day) - timedelta(days=int(rule.params["window_days"]))
    return (
        f"SELECT {date_expr()} AS day, {rule.params['expr']} AS value FROM {ident(rule.table)} "
        f"WHERE {date_expr()} BETWEEN DATE {literal(start.isoformat())} AND DATE {literal(day)} "
        f"GROUP BY 1 ORDER BY 1"
    )


# --------------------------------------------------------------------------- judging (pure)


def _no_rows(rule: Rule, day: str) -> CheckResult:
    where = f"for {day}" if is_partitioned(rule.table) else "at all"
    return make_result(rule, Status.SKIP, 0, detail=f"no {rule.table} rows {where}")


def _tiered(rule: Rule, rate: float, *, below: bool = False) -> tuple[Status, Severity]:
    """PASS, or FAIL at the severity of the threshold ``rate`` crosses (``*_above`` / ``*_below`` params)."""
    p = rule.params
    if below:
        crossed_critical = rate < float(p["critical_below"])
        crossed_warning = rate < float(p["warning_below"])
    else:
        crossed_critical = rate > float(p["critical_above"])
        crossed_warning = rate > float(p["warning_above"])
    if crossed_critical:
        return Status.FAIL, Severity.CRITICAL
    if crossed_warning:
        return Status.FAIL, Severity.WARNING
    return Status.PASS, Severity(rule.severity)


def _tiers(rule: Rule, unit: str = "", *, below: bool = False) -> str:
    p = rule.params
    if below:
        warn, crit = float(p["warning_below"]), float(p["critical_below"])
        return f"warning below {warn:.0%}{unit}, critical below {crit:.0%}{unit}"
    warn, crit = float(p["warning_above"]), float(p["critical_above"])
    if warn == crit == 0:
        return "none"
    return f"warning above {warn:.2%}, critical above {crit:.2%}"


def judge_row_level(rule: Rule, rows: int, bad: int, day: str, sql: str = "") -> CheckResult:
    if rows == 0:
        return _no_rows(rule, day)
    rate = bad / rows
    if rule.kind is Kind.NOT_NULL:
        limit = float(rule.params.get("max_null_rate", 0.0))
        expected = "no nulls" if limit == 0 else f"null rate <= {limit:.2%}"
        failed = rate > limit
        detail = f"{bad} of {rows} rows null{' or blank' if rule.params.get('blank_is_null') else ''} ({rate:.2%})"
    else:
        expected = "0 rows outside " + ("the allowed values" if rule.kind is Kind.ENUM else "the range")
        failed = bad > 0
        detail = f"{bad} of {rows} rows break the rule"
    return make_result(rule, Status.FAIL if failed else Status.PASS, bad, expected=expected, detail=detail, sql=sql)


def judge_freshness(rule: Rule, rows: int, day: str) -> CheckResult:
    if rows > 0:
        return make_result(rule, Status.PASS, rows, expected="> 0 rows", detail=f"{rows} rows for {day}")
    return make_result(
        rule, Status.FAIL, 0, expected="> 0 rows", detail=f"no {rule.table} partition (or no rows) for {day}"
    )


def judge_row_count(rule: Rule, rows: int, day: str) -> CheckResult:
    low, high = rule.params.get("min"), rule.params.get("max")
    if rows == 0 and is_curated(rule.table):
        return _no_rows(rule, day)
    expected = f"between {low} and {high} rows"
    ok = (low is None or rows >= low) and (high is None or rows <= high)
    status = Status.PASS if ok else Status.FAIL
    return make_result(rule, status, rows, expected=expected, detail=f"{rows} rows for {day}")


def judge_unique(rule: Rule, rows: int, dup_keys: int, extra_rows: int, day: str, sql: str = "") -> CheckResult:
    if rows == 0:
        return _no_rows(rule, day)
    key = ", ".join(rule.params["columns"])
    detail = f"{dup_keys} duplicated ({key}) values, {extra_rows} extra rows of {rows}"
    return make_result(
        rule,
        Status.FAIL if extra_rows else Status.PASS,
        extra_rows,
        expected="0 duplicate keys",
        detail=detail,
        sql=sql,
    )


def judge_referential(rule: Rule, rows: int, orphans: int, orphan_keys: int, day: str, sql: str = "") -> CheckResult:
    if rows == 0:
        return _no_rows(rule, day)
    p = rule.params
    rate = orphans / rows
    detail = (
        f"{orphans} of {rows} rows ({rate:.2%}, {orphan_keys} distinct {p['column']}) "
        f"not in {p['ref_table']}.{p['ref_column']}"
    )
    tiers = _tiers(rule)
    expected = "every key found" if tiers == "none" else f"orphan rate: {tiers}"
    status, severity = _tiered(rule, rate)
    return make_result(rule, status, orphans, severity=severity, expected=expected, detail=detail, sql=sql)


def anomaly_score(method: AnomalyMethod | str, value: float, history: Sequence[float]) -> tuple[float, float]:
    """(median of history, score) where the score is compared with the rule's threshold.

    factor: max(value/median, median/value); pct: |value - median| / median;
    zscore: |0.6745 * (value - median) / MAD|. A zero denominator scores 0 when the value
    equals the median and infinity otherwise.
    """
    median = float(statistics.median(history))
    diff = abs(value - median)

    def ratio(num: float, den: float) -> float:
        if den == 0:
            return 0.0 if num == 0 else float("inf")
        return num / den

    method = AnomalyMethod(method)
    if method is AnomalyMethod.FACTOR:
        if value == median:
            return median, 1.0
        if value <= 0 or median <= 0:
            return median, float("inf")
        return median, max(value / median, median / value)
    if method is AnomalyMethod.PCT:
        return median, ratio(diff, abs(median))
    mad = float(statistics.median([abs(h - median) for h in history]))
    return median, ratio(0.6745 * diff, mad)


def _show(x: float) -> str:
    """Counts without decimals, rates with four, money-like values with two."""
    if x.is_integer():
        return f"{x:,.0f}"
    return f"{x:.4f}" if abs(x) < 1 else f"{x:,.2f}"


def judge_anomaly(rule: Rule, series: Mapping[str, float | None], day: str, sql: str = "") -> CheckResult:
    """``series`` maps ISO date -> the daily value, for the date and the days before it."""
    p = rule.params
    value = series.get(day)
    if value is None and day in series:
        # The table has the date, but the metric is NULL there (a rate with nothing to divide by).
        detail = f"{p['metric']} is null for {day}: nothing to compute it from"
        return make_result(rule, Status.SKIP, None, detail=detail)
    if value is None:
        return _no_rows(rule, day)
    history = [float(v) for d, v in sorted(series.items()) if d < day and v is not None]
    method, threshold = AnomalyMethod(p["method"]), float(p["threshold"])
    expected = f"{method} score <= {threshold} vs median of previous {p['window_days']} days"
    needed = int(p.get("min_history", 1))
    if len(history) < needed:
        return make_result(
            rule,
            Status.SKIP,
            value,
            expected=expected,
            detail=f"{len(history)} previous days with data; {needed} needed",
            sql=sql,
        )
    median, score = anomaly_score(method, float(value), history)
    shown = "inf" if score == float("inf") else f"{score:.2f}"
    detail = f"{p['metric']} = {_show(float(value))} vs median {_show(median)} of {len(history)} days: {method} {shown}"
    return make_result(
        rule, Status.FAIL if score > threshold else Status.PASS, value, expected=expected, detail=detail, sql=sql
    )


def judge_volume(rule: Rule, series: Mapping[str, float | None], day: str, sql: str = "") -> CheckResult:
    """The day's rows against the median of the previous days that had data (a collapse check)."""
    p = rule.params
    value = series.get(day) or 0.0
    history = [float(v) for d, v in sorted(series.items()) if d < day and v]
    expected = f"rows vs median of previous {p['window_days']} days: {_tiers(rule, ' of it', below=True)}"
    needed = int(p.get("min_history", 1))
    if len(history) < needed:
        detail = f"{len(history)} previous days with data; {needed} needed"
        return make_result(rule, Status.SKIP, value, expected=expected, detail=detail, sql=sql)
    median = float(statistics.median(history))
    share = value / median if median else 1.0
    status, severity = _tiered(rule, share, below=True)
    detail = f"{_show(value)} rows vs median {_show(median)} of {len(history)} days ({share:.0%} of it)"
    return make_result(rule, status, value, severity=severity, expected=expected, detail=detail, sql=sql)


# --------------------------------------------------------------------------- facts from the run summaries


@dataclass
class LakeFacts:
    """What the run-summary kinds need, read once per date from the lake's report files.

    ``summaries`` maps dataset -> that dataset's run-summary entry for the date;
    ``summary_jobs`` holds the jobs whose summary file exists; ``quarantined`` maps
    dataset -> reason -> rows in quarantine/<dataset>/date=D/; ``rejected_files`` and
    ``drift`` come from whole-file quarantine reasons and validation reports.
    """

    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary_jobs: set[str] = field(default_factory=set)
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    drift: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def quarantined_rows(self, dataset: str) -> int:
        return sum(self.quarantined.get(dataset, {}).values())


def judge_conservation(rule: Rule, facts: LakeFacts, processed_rows: int | None, day: str) -> CheckResult:
    """rows_in == rows_out + rows_quarantined, and the lake holds exactly those rows.

    Trusting the summary alone would miss a writer that reported rows it never wrote, so
    rows_out is compared with the processed partition and rows_quarantined with the
    quarantine file. No summary for the date fails at the rule's severity (critical):
    without it nothing proves the day's rows are all accounted for.
    """
    job = rule.params["job"]
    summary = facts.summaries.get(rule.table)
    expected = "rows_in == rows_out + rows_quarantined"
    if summary is None:
        # Without the summary nothing proves the rows of the day are all accounted for.
        where = "no run summary" if job not in facts.summary_jobs else f"no {rule.table} entry in the run summary"
        return make_result(rule, Status.FAIL, None, expected=expected, detail=f"{where} of {job} for {day}")
    rows_in, rows_out, quarantined = (int(summary.get(k) or 0) for k in ("rows_in", "rows_out", "rows_quarantined"))
    gap = rows_in - rows_out - quarantined
    problems = []
    if gap:
        problems.append(f"{gap} rows unaccounted for")
    if processed_rows is not None and processed_rows != rows_out:
        problems.append(f"processed partition holds {processed_rows} rows, summary says {rows_out}")
    in_quarantine = facts.quarantined_rows(rule.table)
    if in_quarantine != quarantined:
        problems.append(f"quarantine holds {in_quarantine} rows, summary says {quarantined}")
    detail = f"in {rows_in} = out {rows_out} + quarantined {quarantined}"
    if problems:
        detail += "; " + "; ".join(problems)
    return make_result(rule, Status.FAIL if problems else Status.PASS, gap, expected=expected, detail=detail)


def judge_quarantine_rate(rule: Rule, facts: LakeFacts, day: str) -> CheckResult:
    summary = facts.summaries.get(rule.table)
    expected = f"share quarantined: {_tiers(rule)}"
    if summary is None:
        return make_result(rule, Status.SKIP, None, expected=expected, detail=f"no run summary for {day}")
    rows_in, quarantined = int(summary.get("rows_in") or 0), int(summary.get("rows_quarantined") or 0)
    rate = quarantined / rows_in if rows_in else 0.0
    reasons = summary.get("quarantined_by_reason") or facts.quarantined.get(rule.table) or {}
    by_reason = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items()) if v)
    detail = f"{quarantined} of {rows_in} rows ({rate:.2%})" + (f": {by_reason}" if by_reason else "")
    min_rows = int(rule.params.get("min_rows", 0))
    if rows_in < min_rows:
        detail += f"; fewer than {min_rows} rows in, not judged"
        return make_result(rule, Status.SKIP, round(rate, 6), expected=expected, detail=detail)
    status, severity = _tiered(rule, rate)
    return make_result(rule, status, round(rate, 6), severity=severity, expected=expected, detail=detail)


def judge_schema_drift(rule: Rule, facts: LakeFacts, day: str) -> CheckResult:
    """Drift the validator reported: columns beyond the seed's, or optional ones missing."""
    files = facts.drift.get(rule.table, [])
    drifted = [f for f in files if f.get("extra_columns") or f.get("missing_optional_columns")]
    expected = "the seed's columns exactly"
    if not files:
        return make_result(rule, Status.SKIP, None, expected=expected, detail=f"no validation report for {day}")
    if not drifted:
        return make_result(rule, Status.PASS, 0, expected=expected, detail=f"{len(files)} file(s) match the schema")

    def describe(f: dict[str, Any]) -> str:
        parts = []
        if f.get("extra_columns"):
            parts.append("extra " + ", ".join(f["extra_columns"]))
        if f.get("missing_optional_columns"):
            parts.append("missing " + ", ".join(f["missing_optional_columns"]))
        return f"{f['file']}: {'; '.join(parts)}"

    samples = tuple(dict(f) for f in drifted[:SAMPLE_LIMIT])
    detail = "schema drift in " + " | ".join(describe(f) for f in drifted)
    return make_result(rule, Status.FAIL, len(drifted), expected=expected, detail=detail, samples=samples)
