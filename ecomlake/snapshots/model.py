"""The snapshot: which version of every table partition readers see. Pure data, no I/O.

A run writes each table partition it produces as a new *version* -- a folder
``<unit>/date=D/run=<run_id>/`` (``<unit>/run=<run_id>/`` for an unpartitioned table) --
that no reader looks at until a snapshot names it. A snapshot maps:

* every partitioned unit (``processed/transactions``, ``curated/fact_sales``, the quarantined
  rows ``quarantine/transactions`` ...) to ``{date: run_id}``: the version of each partition;
* every unpartitioned unit (``curated/dim_customers`` ...) to the ``run_id`` of its version;
* every raw dataset to ``{date: fingerprint}``: which accepted raw files the published
  partitions of that date were computed from (so a date whose files changed since is known),
  and to ``{date: run_id}``: the run that computed them, whose journal holds the date's
  row-conservation summary (even when the date came out with no rows at all).

Publishing a run replaces the current snapshot by ``published.overlay(changes)`` in one
atomic write (``ecomlake.snapshots.store``); a reader resolves every table from one
snapshot, so it sees all of a run's output or none of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ecomlake.contract import (
    CURATED_TABLES,
    PROCESSED_TABLES,
    Dataset,
    Table,
    Zone,
    parse_date,
    parse_run_id,
    table_zone,
    unit_name,
    version_prefix,
)
from ecomlake.exceptions import EcomlakeError
from ecomlake.schemas import TABLES

FORMAT_VERSION: Final = 1


class SnapshotError(EcomlakeError):
    """A snapshot document that cannot be read, or a change that does not fit the lake's units."""


def table_unit(table: Table | str) -> str:
    """The unit of a catalog table: ``processed/<table>`` or ``curated/<table>``."""
    return unit_name(table_zone(table), str(Table(table)))


def quarantine_unit(dataset: Dataset | str) -> str:
    """The unit holding a dataset's quarantined rows (``rows.parquet`` per date)."""
    return unit_name(Zone.QUARANTINE, str(Dataset(dataset)))


PARTITIONED_UNITS: Final = frozenset(
    [table_unit(t) for t in (*PROCESSED_TABLES, *CURATED_TABLES) if TABLES[t].partition_key]
    + [quarantine_unit(d) for d in Dataset]
)
WHOLE_UNITS: Final = frozenset(
    table_unit(t) for t in (*PROCESSED_TABLES, *CURATED_TABLES) if not TABLES[t].partition_key
)
UNITS: Final = PARTITIONED_UNITS | WHOLE_UNITS


def is_partitioned(unit: str) -> bool:
    if unit in PARTITIONED_UNITS:
        return True
    if unit in WHOLE_UNITS:
        return False
    raise SnapshotError(f"unknown unit {unit!r}; expected one of: {', '.join(sorted(UNITS))}")


@dataclass
class Changes:
    """What a run wrote, unit by unit: the new version of each partition, or its removal.

    ``partitions[unit][date]`` is the run id of the new version, or ``None`` when the run
    found no rows for that date (the partition disappears on publication, so no stale rows
    survive a re-run). ``whole[unit]`` is the run id of an unpartitioned unit's new version.
    ``inputs[dataset][date]`` records the raw files a date was computed from, and
    ``computed[dataset][date]`` the run that computed it.
    """

    partitions: dict[str, dict[str, str | None]] = field(default_factory=dict)
    whole: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    computed: dict[str, dict[str, str]] = field(default_factory=dict)

    def set_partition(self, unit: str, day: str, run_id: str | None) -> None:
        if not is_partitioned(unit):
            raise SnapshotError(f"{unit} is not partitioned")
        self.partitions.setdefault(unit, {})[parse_date(day)] = None if run_id is None else parse_run_id(run_id)

    def set_whole(self, unit: str, run_id: str) -> None:
        if is_partitioned(unit):
            raise SnapshotError(f"{unit} is partitioned; set its partitions")
        self.whole[unit] = parse_run_id(run_id)

    def set_input(self, dataset: Dataset | str, day: str, fingerprint: str, run_id: str) -> None:
        ds, d = str(Dataset(dataset)), parse_date(day)
        self.inputs.setdefault(ds, {})[d] = fingerprint
        self.computed.setdefault(ds, {})[d] = parse_run_id(run_id)

    def update(self, other: Changes) -> None:
        """Fold ``other`` (a later job's changes) into these; the later one wins per partition."""
        for unit, days in other.partitions.items():
            self.partitions.setdefault(unit, {}).update(days)
        self.whole.update(other.whole)
        for dataset, days in other.inputs.items():
            self.inputs.setdefault(dataset, {}).update(days)
        for dataset, days in other.computed.items():
            self.computed.setdefault(dataset, {}).update(days)

    def dates(self, unit: str) -> list[str]:
        """Dates of ``unit`` this run wrote or removed."""
        return sorted(self.partitions.get(unit, {}))

    @property
    def empty(self) -> bool:
        return not (self.partitions or self.whole or self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "partitions": {u: dict(sorted(d.items())) for u, d in sorted(self.partitions.items())},
            "whole": dict(sorted(self.whole.items())),
            "inputs": {ds: dict(sorted(d.items())) for ds, d in sorted(self.inputs.items())},
            "computed": {ds: dict(sorted(d.items())) for ds, d in sorted(self.computed.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Changes:
        out = cls()
        for unit, days in (data.get("partitions") or {}).items():
            for day, run in days.items():
                out.set_partition(unit, day, run)
        for unit, run in (data.get("whole") or {}).items():
            out.set_whole(unit, run)
        computed = data.get("computed") or {}
        for dataset, days in (data.get("inputs") or {}).items():
            for day, fingerprint in days.items():
                out.set_input(dataset, day, str(fingerprint), computed[dataset][day])
        return out


@dataclass(frozen=True)
class Snapshot:
    """One published state of the lake (see the module docstring). ``seq`` 0 is the empty lake."""

    seq: int = 0
    run_id: str | None = None
    published_at: str | None = None
    partitions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    whole: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    computed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    # -- reading

    def computed_by(self, dataset: Dataset | str, day: str) -> str | None:
        """The run that computed ``dataset`` for ``day`` (its journal holds the day's summary)."""
        return self.computed.get(str(Dataset(dataset)), {}).get(day)

    def version(self, unit: str, day: str | None = None) -> str | None:
        """The run id of the current version of a partition (or of an unpartitioned unit)."""
        if is_partitioned(unit):
            if day is None:
                raise SnapshotError(f"{unit} is partitioned; name a date")
            return self.partitions.get(unit, {}).get(day)
        return self.whole.get(unit)

    def dates(self, unit: str) -> list[str]:
        """Dates with a published partition of ``unit``, in order."""
        return sorted(self.partitions.get(unit, {}))

    def prefixes(self, unit: str, dates: Iterable[str] | None = None) -> list[tuple[str | None, str]]:
        """(date, key prefix) of every current version of ``unit`` (restricted to ``dates`` if given)."""
        if not is_partitioned(unit):
            run = self.whole.get(unit)
            return [] if run is None else [(None, version_prefix(unit, run))]
        current = self.partitions.get(unit, {})
        wanted = sorted(current) if dates is None else sorted(set(dates) & set(current))
        return [(day, version_prefix(unit, current[day], day)) for day in wanted]

    def referenced(self) -> set[str]:
        """Every version prefix this snapshot names (what garbage collection must keep)."""
        keys = {version_prefix(unit, run) for unit, run in self.whole.items()}
        keys.update(
            version_prefix(unit, run, day) for unit, days in self.partitions.items() for day, run in days.items()
        )
        return keys

    def iter_versions(self) -> Iterator[tuple[str, str | None, str]]:
        """(unit, date or None, run id) of every current version."""
        for unit, days in sorted(self.partitions.items()):
            for day, run in sorted(days.items()):
                yield unit, day, run
        for unit, run in sorted(self.whole.items()):
            yield unit, None, run

    @property
    def empty(self) -> bool:
        return not (self.partitions or self.whole)

    # -- changing (pure: a new snapshot)

    def overlay(self, changes: Changes) -> Snapshot:
        """This snapshot with ``changes`` applied: what readers would see once they are published."""
        partitions = {unit: dict(days) for unit, days in self.partitions.items()}
        for unit, days in changes.partitions.items():
            current = partitions.setdefault(unit, {})
            for day, run in days.items():
                if run is None:
                    current.pop(day, None)
                else:
                    current[day] = run
        inputs = {ds: dict(days) for ds, days in self.inputs.items()}
        for ds, days in changes.inputs.items():
            inputs.setdefault(ds, {}).update(days)
        computed = {ds: dict(days) for ds, days in self.computed.items()}
        for ds, days in changes.computed.items():
            computed.setdefault(ds, {}).update(days)
        return Snapshot(
            seq=self.seq,
            run_id=self.run_id,
            published_at=self.published_at,
            partitions={u: d for u, d in partitions.items() if d},
            whole={**self.whole, **changes.whole},
            inputs=inputs,
            computed=computed,
        )

    def without(self, unit: str, day: str | None = None) -> Snapshot:
        """This snapshot forgetting one version (a published version found missing on disk)."""
        if is_partitioned(unit):
            changes = Changes()
            changes.set_partition(unit, day or "", None)
            return self.overlay(changes)
        whole = {u: r for u, r in self.whole.items() if u != unit}
        return replace(self, whole=whole)

    def successor(self, run_id: str, published_at: str) -> Snapshot:
        """The same content as the next published snapshot, made by ``run_id``."""
        return replace(self, seq=self.seq + 1, run_id=parse_run_id(run_id), published_at=published_at)

    # -- JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "seq": self.seq,
            "run_id": self.run_id,
            "published_at": self.published_at,
            "partitions": {u: dict(sorted(d.items())) for u, d in sorted(self.partitions.items())},
            "whole": dict(sorted(self.whole.items())),
            "inputs": {ds: dict(sorted(d.items())) for ds, d in sorted(self.inputs.items())},
            "computed": {ds: dict(sorted(d.items())) for ds, d in sorted(self.computed.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Snapshot:
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise SnapshotError(f"not a format-{FORMAT_VERSION} snapshot document")
        try:
            changes = Changes.from_dict(data)
            seq = int(data["seq"])
        except (KeyError, TypeError, ValueError, AttributeError, EcomlakeError) as err:
            raise SnapshotError(f"malformed snapshot document: {err}") from None
        run_id = data.get("run_id")
        return cls(seq=seq, run_id=run_id, published_at=data.get("published_at")).overlay(changes)

    @classmethod
    def from_json(cls, text: str | bytes) -> Snapshot:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise SnapshotError(f"the snapshot is not valid JSON ({err})") from None
        return cls.from_dict(data)
