"""Evaluate rules for one date or many on any engine: the compiled SQL in, the judges' results out.

Engine-neutral on purpose: the same evaluator runs on DuckDB and on Spark, so the two can
differ only in what an engine does (``ecomlake.dq.engine``), never in how a measurement is
judged. A query that cannot run (for example a column missing from the data) fails that
check with the error as its detail instead of aborting the report.

On an engine that takes several queries at once (Spark: each query is a small job whose
scheduling, not its reading, dominates at a daily volume), :func:`evaluate_dates` runs the
rules of each (date, table) as one task in a thread pool; the results are the same as one
after the other, in rule order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Generic, TypeVar

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


K = TypeVar("K")
V = TypeVar("V")


class Once(Generic[K, V]):
    """A cache whose values are computed once per key, even when several threads ask at once."""

    def __init__(self, initial: Mapping[K, V] | None = None) -> None:
        self._values: dict[K, V] = dict(initial or {})
        self._locks: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                value = compute()
                with self._lock:
                    self._values[key] = value
            return self._values[key]


def _error(rule: Rule, err: Exception, sql: str = "") -> CheckResult:
    return make_result(rule, Status.FAIL, None, expected="the check runs", detail=f"could not evaluate: {err}", sql=sql)


class Evaluator:
    """Evaluates rules on one engine for one date, caching each table's partition profile.

    ``shared`` (one for every date of an audit) keeps the results of rules on the
    unpartitioned tables, which do not depend on the date: a backfill checks the
    dimensions once, not once per date. Safe to use from several threads.
    """

    def __init__(
        self,
        engine: Engine,
        rules: Sequence[Rule],
        day: str,
        facts: LakeFacts,
        shared: Once[str, CheckResult] | None = None,
    ) -> None:
        self.engine, self.rules, self.day, self.facts, self.shared = engine, rules, day, facts, shared
        # A table the engine could not open fails every check on it, with the reason.
        self._profiles: Once[str, dict[str, Any] | QueryError] = Once(
            {table: TableUnavailableError(message) for table, message in engine.unavailable.items()}
        )

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
        return self._profiles.get(table, lambda: self._scan(table))

    def _scan(self, table: str) -> dict[str, Any] | QueryError:
        row_rules = [r for r in self.rules if r.table == table and r.kind in ROW_LEVEL_KINDS]
        try:
            return self.one(profile_sql(table, row_rules, self.day))
        except QueryError as err:
            # One broken rule must not hide the others: fall back to the row count alone.
            try:
                return self.one(profile_sql(table, [], self.day))
            except QueryError:
                return err

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
        return self.shared.get(rule.id, lambda: self.measure(rule))

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
) -> list[CheckResult]:
    """Run ``rules`` for ``day`` on an open engine, in rule order."""
    return evaluate_dates(engine, rules, {day: facts or LakeFacts()})[day]


def evaluate_dates(
    engine: Engine, rules: Iterable[Rule], facts: Mapping[str, LakeFacts]
) -> dict[str, list[CheckResult]]:
    """Every rule on every date of ``facts`` (date -> its facts), in rule order per date.

    Rules on the unpartitioned tables are measured once for all the dates; with
    ``engine.concurrency`` above 1 the (date, table) groups run at the same time.
    """
    chosen = list(rules)
    shared: Once[str, CheckResult] = Once()
    evaluators = {day: Evaluator(engine, chosen, day, day_facts, shared) for day, day_facts in facts.items()}
    groups: dict[str, list[int]] = {}
    for index, rule in enumerate(chosen):
        groups.setdefault(rule.table, []).append(index)
    tasks = [(day, indexes) for day in evaluators for indexes in groups.values()]

    def run(task: tuple[str, list[int]]) -> list[tuple[int, CheckResult]]:
        day, indexes = task
        return [(i, evaluators[day].evaluate(chosen[i])) for i in indexes]

    if engine.concurrency > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=engine.concurrency) as pool:
            done = list(pool.map(run, tasks))
    else:
        done = [run(task) for task in tasks]
    results: dict[str, list[CheckResult | None]] = {day: [None] * len(chosen) for day in evaluators}
    for (day, _indexes), found in zip(tasks, done, strict=True):
        for index, result in found:
            results[day][index] = result
    return {day: [r for r in found if r is not None] for day, found in results.items()}
