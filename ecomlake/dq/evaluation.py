"""Evaluate rules for one date or many on any engine: the compiled SQL in, the judges' results out.

Engine-neutral on purpose: the same evaluator runs on DuckDB and on Spark, so the two can
differ only in what an engine does (``ecomlake.dq.engine``), never in how a measurement is
judged. A query that cannot run (for example a column missing from the data) fails that
check with the error as its detail instead of aborting the report.

An audit checks many dates at once (a backfill: 30 or more), so what can be measured for
every date in one query is (:class:`Prefetch`): each partitioned table's row count and
row-level violations, each uniqueness rule's duplicates, each reference's orphans and each
anomaly or volume rule's daily series -- one scan per table or rule grouped by date,
instead of one small query per date. The numbers are the ones the per-date SQL of
``ecomlake.dq.checks`` measures (that SQL is still what a report shows, and what runs if a
batched query fails); the judges are the same.

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
    date_expr,
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
    predicate,
    profile_sql,
    referential_sql,
    unique_sql,
    violations_sample_sql,
    violations_sql,
)
from ecomlake.dq.engine import Engine, QueryError, plain
from ecomlake.dq.rules import ROW_LEVEL_KINDS, Kind, Rule
from ecomlake.schemas import PROCESSED_FOR_DATASET
from ecomlake.sqltext import ident, literal

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


_DAY = "__day"


def _day_key(value: Any) -> str:
    return str(value)[:10]


def _days_in(days: Sequence[str]) -> str:
    return ", ".join(f"DATE {literal(d)}" for d in days)


class Prefetch:
    """What the rules measure for every date of an audit, measured with one query per table or rule.

    Each ``*_sql`` is pure (dates -> SQL over the catalog views, DuckDB's dialect); a query
    that fails leaves its numbers out, and the evaluator then measures those dates one at a
    time with the per-date SQL, which says which rule broke.
    """

    def __init__(self, engine: Engine, rules: Sequence[Rule], days: Sequence[str]) -> None:
        self.days = sorted(set(days))
        self.profiles: dict[str, dict[str, dict[str, Any]]] = {}
        self.unique: dict[str, dict[str, tuple[int, int]]] = {}
        self.orphans: dict[str, dict[str, tuple[int, int]]] = {}
        self.series: dict[str, dict[str, float | None]] = {}
        if len(self.days) < 2:
            return  # one date: the per-date queries are the batch
        tables = sorted({r.table for r in rules if is_partitioned(r.table) and r.table not in engine.unavailable})
        for table in tables:
            if not any(r.table == table and r.kind not in FACT_KINDS for r in rules):
                continue
            row_rules = [r for r in rules if r.table == table and r.kind in ROW_LEVEL_KINDS]
            found = self._fetch(engine, self.profile_sql(table, row_rules, self.days))
            if found is not None:
                names = [r.id for r in row_rules]
                empty = {"__rows": 0, **dict.fromkeys(names, 0)}
                self.profiles[table] = {d: dict(empty) for d in self.days}
                for row in found:
                    self.profiles[table][row[_DAY]] = {k: v for k, v in row.items() if k != _DAY}
        for rule in rules:
            if not is_partitioned(rule.table) or rule.table in engine.unavailable:
                continue
            if rule.kind is Kind.UNIQUE:
                found = self._fetch(engine, self.unique_sql(rule, self.days))
                if found is not None:
                    got = {row[_DAY]: (int(row["dup_keys"]), int(row["extra_rows"])) for row in found}
                    self.unique[rule.id] = {d: got.get(d, (0, 0)) for d in self.days}
            elif rule.kind is Kind.REFERENTIAL_INTEGRITY and rule.params["ref_table"] not in engine.unavailable:
                found = self._fetch(engine, self.orphans_sql(rule, self.days))
                if found is not None:
                    got = {row[_DAY]: (int(row["orphans"]), int(row["orphan_keys"])) for row in found}
                    self.orphans[rule.id] = {d: got.get(d, (0, 0)) for d in self.days}
            elif rule.kind in (Kind.ANOMALY, Kind.VOLUME):
                found = self._fetch(engine, self.series_sql(rule, self.days))
                if found is not None:
                    self.series[rule.id] = {
                        row[_DAY]: (None if row["value"] is None else float(row["value"])) for row in found
                    }

    @staticmethod
    def _fetch(engine: Engine, sql: str) -> list[dict[str, Any]] | None:
        try:
            columns, rows = engine.fetch(sql)
        except QueryError:
            return None
        out = []
        for row in rows:
            found = dict(zip(columns, row, strict=True))
            found[_DAY] = _day_key(found[_DAY])
            out.append(found)
        return out

    # ------------------------------------------------------------------ the SQL, all dates at once

    @staticmethod
    def profile_sql(table: str, rules: Sequence[Rule], days: Sequence[str]) -> str:
        """``checks.profile_sql`` for every date of ``days``, grouped by date."""
        measures = [f"count(*) AS {ident('__rows')}"]
        measures += [f"count(*) FILTER (WHERE {predicate(r)}) AS {ident(r.id)}" for r in rules]
        return (
            f"SELECT {date_expr()} AS {_DAY}, {', '.join(measures)} FROM {ident(table)} "
            f"WHERE {date_expr()} IN ({_days_in(days)}) GROUP BY {date_expr()}"
        )

    @staticmethod
    def unique_sql(rule: Rule, days: Sequence[str]) -> str:
        """``checks.unique_sql`` for every date of ``days``: key values repeated within a date's partition."""
        keys = ", ".join(ident(c) for c in rule.params["columns"])
        return (
            f"SELECT {_DAY}, count(*) AS dup_keys, coalesce(sum(n) - count(*), 0) AS extra_rows FROM ("
            f"SELECT {date_expr()} AS {_DAY}, {keys}, count(*) AS n FROM {ident(rule.table)} "
            f"WHERE {date_expr()} IN ({_days_in(days)}) GROUP BY {date_expr()}, {keys} HAVING count(*) > 1"
            f") AS repeated GROUP BY {_DAY}"
        )

    @staticmethod
    def orphans_sql(rule: Rule, days: Sequence[str]) -> str:
        """``checks.orphans_sql`` counted for every date of ``days``.

        A child row of date D is an orphan when its key is in no parent row the per-date
        query reads: none at all (an unpartitioned parent), none of date D (``same``), or
        none of a date up to D -- that is, the key's first parent date is after D, or there
        is none.
        """
        p = rule.params
        child, parent = ident(rule.table), ident(p["ref_table"])
        column, ref = ident(p["column"]), ident(p["ref_column"])
        where = f"{date_expr()} IN ({_days_in(days)}) AND {column} IS NOT NULL"
        kids = f"SELECT {date_expr()} AS {_DAY}, {column} AS k FROM {child} WHERE {where}"
        if not is_partitioned(p["ref_table"]):
            found = f"SELECT DISTINCT {ref} AS k FROM {parent}"
            on, missing = "c.k = p.k", "p.k IS NULL"
        elif p.get("ref_dates") == "same":
            found = (
                f"SELECT DISTINCT {ref} AS k, {date_expr()} AS {_DAY} FROM {parent} "
                f"WHERE {date_expr()} IN ({_days_in(days)})"
            )
            on, missing = f"c.k = p.k AND c.{_DAY} = p.{_DAY}", "p.k IS NULL"
        else:
            found = (
                f"SELECT {ref} AS k, min({date_expr()}) AS first_day FROM {parent} "
                f"WHERE {date_expr()} <= DATE {literal(max(days))} GROUP BY {ref}"
            )
            on, missing = "c.k = p.k", f"(p.k IS NULL OR p.first_day > c.{_DAY})"
        return (
            f"SELECT c.{_DAY} AS {_DAY}, count(*) AS orphans, count(DISTINCT c.k) AS orphan_keys "
            f"FROM ({kids}) AS c LEFT JOIN ({found}) AS p ON {on} WHERE {missing} GROUP BY c.{_DAY}"
        )

    @staticmethod
    def series_sql(rule: Rule, days: Sequence[str]) -> str:
        """``checks.anomaly_sql``'s daily values over every window the dates need."""
        from datetime import timedelta

        from ecomlake.contract import to_date

        start = min(to_date(d) for d in days) - timedelta(days=int(rule.params["window_days"]))
        return (
            f"SELECT {date_expr()} AS {_DAY}, {rule.params['expr']} AS value FROM {ident(rule.table)} "
            f"WHERE {date_expr()} BETWEEN DATE {literal(start.isoformat())} AND DATE {literal(max(days))} "
            f"GROUP BY {date_expr()}"
        )

    def window(self, rule: Rule, day: str) -> dict[str, float | None] | None:
        """The series ``checks.anomaly_sql`` returns for ``day``, from the prefetched one."""
        from datetime import timedelta

        from ecomlake.contract import to_date

        series = self.series.get(rule.id)
        if series is None or day not in self.days:
            return None
        start = (to_date(day) - timedelta(days=int(rule.params["window_days"]))).isoformat()
        return {d: v for d, v in series.items() if start <= d <= day}


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
        prefetch: Prefetch | None = None,
    ) -> None:
        self.engine, self.rules, self.day, self.facts, self.shared = engine, rules, day, facts, shared
        self.prefetch = prefetch
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
        prefetched = self.prefetch.profiles.get(table, {}).get(self.day) if self.prefetch else None
        if prefetched is not None:
            return prefetched
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
                batched = self.prefetch.unique.get(rule.id, {}).get(day) if self.prefetch else None
                if batched is not None:
                    got = {"dup_keys": batched[0], "extra_rows": batched[1]}
                else:
                    got = self.one(unique_sql(rule, day)) if rows else {"dup_keys": 0, "extra_rows": 0}
                sql = duplicates_sql(rule, day)
                result = judge_unique(rule, rows, int(got["dup_keys"]), int(got["extra_rows"]), day, sql)
                return self.samples(result, duplicates_sample_sql(rule, day))
            if kind is Kind.REFERENTIAL_INTEGRITY:
                batched = self.prefetch.orphans.get(rule.id, {}).get(day) if self.prefetch else None
                if batched is not None:
                    got = {"orphans": batched[0], "orphan_keys": batched[1]}
                else:
                    got = self.one(referential_sql(rule, day)) if rows else {"orphans": 0, "orphan_keys": 0}
                sql = orphans_sql(rule, day)
                result = judge_referential(rule, rows, int(got["orphans"]), int(got["orphan_keys"]), day, sql)
                return self.samples(result, orphans_sample_sql(rule, day))
            if kind in (Kind.ANOMALY, Kind.VOLUME):
                sql = anomaly_sql(rule, day)
                series = self.prefetch.window(rule, day) if self.prefetch else None
                if series is None:
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
    prefetch = Prefetch(engine, chosen, list(facts))
    evaluators = {day: Evaluator(engine, chosen, day, day_facts, shared, prefetch) for day, day_facts in facts.items()}
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
