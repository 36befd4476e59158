"""Which objects a date's checks read, and copying exactly those into a local lake directory.

The cloud DQ step runs the same DuckDB checks as the CLI. Rather than a second
implementation over S3, it copies the objects the rules need -- the date's partitions,
the anomaly window, the catalog snapshots up to the date, the run summaries, quarantine
and validation reports of the date -- into a temporary directory with the lake's key
layout, and points the local catalog at it. Which objects those are follows from the
rules, so adding a rule cannot silently read data the step did not fetch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ecomlake.contract import (
    PARALLEL_ETL_JOBS,
    Dataset,
    Table,
    Zone,
    partition_prefix,
    run_summary_key,
    table_prefix,
    table_zone,
    to_date,
    validation_report_key,
)
from ecomlake.dq.rules import Kind, Rule
from ecomlake.schemas import PROCESSED_FOR_DATASET, TABLES
from ecomlake.storage import LocalStorage, Storage

_DATE_IN_KEY = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True, order=True)
class Input:
    """Objects under ``prefix``; with ``up_to`` only those in partitions dated on or before it."""

    prefix: str
    up_to: str | None = None

    def wants(self, key: str) -> bool:
        if not key.startswith(self.prefix):
            return False
        if self.up_to is None:
            return True
        match = _DATE_IN_KEY.search(key)
        return bool(match) and match.group(1) <= self.up_to


def _table_partitions(table: str, days: Iterable[str]) -> list[Input]:
    zone = table_zone(table)
    if TABLES[Table(table)].partition_key is None:
        return [Input(table_prefix(zone, table))]
    return [Input(partition_prefix(zone, table, d)) for d in days]


def inputs_for(rules: Iterable[Rule], day: str) -> list[Input]:
    """The object prefixes ``rules`` read for ``day`` (deduplicated, sorted)."""
    wanted: set[Input] = set()
    for rule in rules:
        if rule.kind in {Kind.CONSERVATION, Kind.QUARANTINE_RATE, Kind.SCHEMA_DRIFT}:
            dataset = Dataset(rule.table)
            wanted.add(Input(partition_prefix(Zone.QUARANTINE, dataset, day)))
            wanted.add(Input(validation_report_key(dataset, day, "_").rsplit("/", 1)[0] + "/"))
            wanted.update(_table_partitions(str(PROCESSED_FOR_DATASET[dataset].name), [day]))
            continue
        if rule.kind is Kind.ANOMALY:
            start = to_date(day) - timedelta(days=int(rule.params["window_days"]))
            window = [(start + timedelta(days=i)).isoformat() for i in range((to_date(day) - start).days + 1)]
            wanted.update(_table_partitions(rule.table, window))
            continue
        wanted.update(_table_partitions(rule.table, [day]))
        if rule.kind is Kind.REFERENTIAL_INTEGRITY:
            parent = str(rule.params["ref_table"])
            if TABLES[Table(parent)].partition_key is None or rule.params.get("ref_dates") == "same":
                wanted.update(_table_partitions(parent, [day]))
            else:
                wanted.add(Input(table_prefix(table_zone(parent), parent), up_to=day))
    wanted.update(Input(run_summary_key(job, day)) for job in PARALLEL_ETL_JOBS)
    return sorted(wanted)


def stage(source: Storage, inputs: Iterable[Input], dest: Path) -> list[str]:
    """Copy every object ``inputs`` select from ``source`` into the directory ``dest``; returns the keys."""
    target = LocalStorage(dest)
    copied: dict[str, None] = {}
    for item in inputs:
        for key in source.list(item.prefix):
            if item.wants(key) and key not in copied:
                target.write_bytes(key, source.read_bytes(key))
                copied[key] = None
    return list(copied)
