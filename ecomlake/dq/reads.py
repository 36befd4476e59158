"""Which partitions of which table the rules read for a set of dates: derived from the rules.

The Spark engine registers each table's view over exactly these versions, so a Glue audit
lists and opens only what its checks need, however long the lake's history: the checked
dates of every table a rule names, the anomaly window before each of them, catalog
snapshots up to the last checked date for the references that need them, and the
dimensions whole. Deriving it from the rules means a new rule cannot read data the view
does not hold -- and the parity test (DuckDB over every version, Spark over these) would
catch it if it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from ecomlake.contract import Dataset, to_date
from ecomlake.dq.checks import is_partitioned
from ecomlake.dq.rules import Kind, Rule
from ecomlake.schemas import PROCESSED_FOR_DATASET
from ecomlake.snapshots import Snapshot, table_unit

# table -> the dates of its partitions the rules read; None: the table is read whole (unpartitioned)
Reads = dict[str, set[str] | None]


def _window(day: str, days: int) -> set[str]:
    first = to_date(day)
    return {(first - timedelta(days=i)).isoformat() for i in range(days + 1)}


def _add(reads: Reads, table: str, dates: Iterable[str]) -> None:
    if not is_partitioned(table):
        reads[table] = None
        return
    current = reads.setdefault(table, set())
    if current is not None:
        current.update(dates)


def partitions_read(rules: Iterable[Rule], dates: Iterable[str], view: Snapshot) -> Reads:
    """The partitions ``rules`` read to check ``dates`` in ``view`` (see the module docstring)."""
    days = sorted(set(dates))
    reads: Reads = {}
    if not days:
        return reads
    for rule in rules:
        if rule.kind is Kind.CONSERVATION:
            # Conservation compares the summary with the rows of the processed partition.
            _add(reads, str(PROCESSED_FOR_DATASET[Dataset(rule.table)].name), days)
            continue
        if rule.kind in {Kind.QUARANTINE_RATE, Kind.SCHEMA_DRIFT}:
            continue  # run summaries and validation reports only
        _add(reads, rule.table, days)  # every other kind profiles the checked partition
        if rule.kind in {Kind.ANOMALY, Kind.VOLUME}:
            window = int(rule.params["window_days"])
            _add(reads, rule.table, {d for day in days for d in _window(day, window)})
        elif rule.kind is Kind.REFERENTIAL_INTEGRITY:
            parent = str(rule.params["ref_table"])
            if rule.params.get("ref_dates") == "same" or not is_partitioned(parent):
                _add(reads, parent, days)
            else:
                _add(reads, parent, [d for d in view.dates(table_unit(parent)) if d <= days[-1]])
    return reads
