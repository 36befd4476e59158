"""Evaluate rules for one date on any engine: the compiled SQL in, the judges' results out.

Engine-neutral on purpose: the same evaluator runs on DuckDB and on Spark, so the two can
differ only in what an engine does (``ecomlake.dq.engine``), never in how a measurement is
judged. A query that cannot run (for example a column missing from the data) fails that
check with the error as its detail instead of aborting the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from ecomlake.contract import Dataset
from ecomlake.dq.checks import (
    CheckResult,
    LakeFacts,
    Status,
    anomaly_sql,
    duplicates_sample_sql,
    duplicates_sql,
    is_partitioned,
    judge_anomaly,
    judge_conservation,
    judge_freshness,
    judge_quarantine_rate,
    judge_referential,
    judge_row_count,
    judge_row_level,
    judge_schema_drift,
    judge_unique,
    judge_volume,
    make_result,
    orphans_sample_sql,
    orphans_sql,
    profile_sql,
    referential_sql,
    unique_sql,
    violations_sample_sql,
    violations_sql,
)
from ecomlake.dq.engine import Engine, QueryError, plain
from ecomlake.dq.rules import ROW_LEVEL_KINDS, Kind, Rule
from ecomlake.schemas import PROCESSED_FOR_DATASET

FACT_KINDS = frozenset({Kind.CONSERVATION, Kind.QUARANTINE_RATE, Kind.SCHEMA_DRIFT})


class TableUnavailableError(QueryError):
    """The engine has no usable view for a table (its files do not match the schema)."""


def _error(rule: Rule, err: Exception, sql: str = "") -> CheckResult:
    return make_result(rule, Status.FAIL, None, expected="the check runs", detail=f"could not evaluate: {err}", sql=sql)


class Evaluator:
    """Evaluates rules on one engine for one date, caching each table's partition profile.

    ``shared`` (one dict for every date of an audit) keeps the results of rules on the
    unpartitioned tables, which do not depend on the date: a backfill checks the
    dimensions once, not once per date.
    """

    def __init__(
        self,
        engine: Engine,
        rules: Sequence[Rule],
        day: str,
        facts: LakeFacts,
        shared: dict[str, CheckResult] | None = None,
    ) -> None:
        self.engine, self.rules, self.day, self.facts, self.shared = engine, rules, day, facts, shared
        # A table the engine could not open fails every check on it, with the reason.
        self._profiles: dict[str, dict[str, Any] | QueryError] = {
            table: TableUnavailableError(message) for table, message in engine.unavailable.items()
        }

    def one(self, sql: str) -> dict[str, Any]:
        columns, rows = self.engine.fetch(sql)
        return dict(zip(columns, rows[0], strict=True))

    def samples(self, result: CheckResult, sql: str) -> CheckResult:
        """The failed check with up to ``SAMPLE_LIMIT`` offending rows (none if they cannot be read)."""
        if not result.failed:
            return result
        try:
            columns, rows = self.engine.fetch(sql)
        except QueryError:
            return result
        found = tuple({c: plain(v) for c, v in zip(columns, row, strict=True)} for row in rows)
        return replace(result, samples=found)

    def profile(self, table: str) -> dict[str, Any] | QueryError:
        """Row count and bad-row counts of every row-level rule of ``table``, from one scan."""
        if table not in self._profiles:
            row_rules = [r for r in self.rules if r.table == table and r.kind in ROW_LEVEL_KINDS]
            try:
                self._profiles[table] = self.one(profile_sql(table, row_rules, self.day))
            except QueryError as err:
                # One broken rule must not hide the others: fall back to the row count alone.
                try:
                    self._profiles[table] = self.one(profile_sql(table, [], self.day))
                except QueryError:
                    self._profiles[table] = err
        return self._profiles[table]

    def rows(self, table: str) -> int | None:
        profile = self.profile(table)
        return None if isinstance(profile, QueryError) else int(profile["__rows"])

    def row_level(self, rule: Rule) -> CheckResult:
        sql = violations_sql(rule, self.day)
        profile = self.profile(rule.table)
        if isinstance(profile, QueryError):
            return _error(rule, profile, sql)
        if rule.id in profile:
            bad = int(profile[rule.id])
        else:
            try:
                bad = int(self.one(f"SELECT count(*) AS n FROM ({sql}) AS bad")["n"])
            except QueryError as err:
                return _error(rule, err, sql)
        result = judge_row_level(rule, int(profile["__rows"]), bad, self.day, sql)
        return self.samples(result, violations_sample_sql(rule, self.day))

    def from_facts(self, rule: Rule) -> CheckResult:
        if rule.kind is Kind.QUARANTINE_RATE:
            return judge_quarantine_rate(rule, self.facts, self.day)
        if rule.kind is Kind.SCHEMA_DRIFT:
            return judge_schema_drift(rule, self.facts, self.day)
        processed = str(PROCESSED_FOR_DATASET[Dataset(rule.table)].name)
        return judge_conservation(rule, self.facts, self.rows(processed), self.day)

    def evaluate(self, rule: Rule) -> CheckResult:
        if self.shared is None or rule.kind in FACT_KINDS or is_partitioned(rule.table):
            return self.measure(rule)
        if rule.id not in self.shared:
            self.shared[rule.id] = self.measure(rule)
        return self.shared[rule.id]

    def measure(self, rule: Rule) -> CheckResult:
        kind, day = rule.kind, self.day
        if kind in ROW_LEVEL_KINDS:
            return self.row_level(rule)
        if kind in FACT_KINDS:
            return self.from_facts(rule)
        profile = self.profile(rule.table)
        if isinstance(profile, QueryError):
            return _error(rule, profile)
        rows = int(profile["__rows"])
        try:
            if kind is Kind.FRESHNESS:
                return judge_freshness(rule, rows, day)
            if kind is Kind.ROW_COUNT:
                return judge_row_count(rule, rows, day)
            if kind is Kind.UNIQUE:
                got = self.one(unique_sql(rule, day)) if rows else {"dup_keys": 0, "extra_rows": 0}
                sql = duplicates_sql(rule, day)
                result = judge_unique(rule, rows, int(got["dup_keys"]), int(got["extra_rows"]), day, sql)
                return self.samples(result, duplicates_sample_sql(rule, day))
            if kind is Kind.REFERENTIAL_INTEGRITY:
                got = self.one(referential_sql(rule, day)) if rows else {"orphans": 0, "orphan_keys": 0}
                sql = orphans_sql(rule, day)
                result = judge_referential(rule, rows, int(got["orphans"]), int(got["orphan_keys"]), day, sql)
                return self.samples(result, orphans_sample_sql(rule, day))
            if kind in (Kind.ANOMALY, Kind.VOLUME):
                sql = anomaly_sql(rule, day)
                _, data = self.engine.fetch(sql)
                series = {str(d): (None if v is None else float(v)) for d, v in data}
                judge = judge_anomaly if kind is Kind.ANOMALY else judge_volume
                return judge(rule, series, day, sql)
        except QueryError as err:
            return _error(rule, err)
        raise ValueError(f"{rule.id}: no evaluator for kind {kind}")


def evaluate(
    engine: Engine,
    rules: Iterable[Rule],
    day: str,
    facts: LakeFacts | None = None,
    *,
    shared: dict[str, CheckResult] | None = None,
) -> list[CheckResult]:
    """Run ``rules`` for ``day`` on an open engine, in rule order (``shared``: see :class:`Evaluator`)."""
    chosen = list(rules)
    evaluator = Evaluator(engine, chosen, day, facts or LakeFacts(), shared)
    return [evaluator.evaluate(rule) for rule in chosen]
