"""Where a job reads and writes (``LakeIO``) and which raw files it reads (``raw_files``).

A job that belongs to a run carries a :class:`RunScope`: the run's id (every partition it
writes becomes a version ``<unit>/date=D/run=<run_id>/`` no reader sees yet), the snapshot
the run started from, and what the run has written so far. It reads through
``scope.view()`` -- the published snapshot with the run's own writes on top -- so a job
sees the partitions the run's earlier jobs wrote, and readers outside the run do not.
A ``LakeIO`` without a scope only reads, and reads the published snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ecomlake.contract import (
    RAW_FILE_NAMES,
    Dataset,
    Table,
    table_prefix,
    table_zone,
)
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.snapshots import Changes, Snapshot, load_published
from ecomlake.storage import LocalStorage, Storage

# --------------------------------------------------------------------------- the lake


@dataclass
class RunScope:
    """The run a job belongs to: its id, the snapshot the run started from, what was written.

    ``prior`` is what the run's earlier jobs wrote (from the run's journal), ``changes``
    what this job writes; the job reads ``view()``, the published snapshot with both on top.
    """

    run_id: str
    base: Snapshot
    prior: Changes = field(default_factory=Changes)
    changes: Changes = field(default_factory=Changes)

    def view(self) -> Snapshot:
        return self.base.overlay(self.prior).overlay(self.changes)


@dataclass(frozen=True)
class LakeIO:
    """Where a job reads and writes: a Storage for small objects, URIs for the engines."""

    storage: Storage
    scope: RunScope | None = None

    @classmethod
    def local(cls, lake: str | Path, scope: RunScope | None = None) -> LakeIO:
        return cls(LocalStorage(Path(lake)), scope)

    def view(self) -> Snapshot:
        """The snapshot this job reads: its run's view, or the published one."""
        return self.scope.view() if self.scope is not None else load_published(self.storage)

    @property
    def run(self) -> RunScope:
        """The run this job writes for; writing outside a run is a programming error."""
        if self.scope is None:
            raise InvalidArgumentError("writing to the lake needs a run (a LakeIO with a RunScope)")
        return self.scope

    @property
    def is_local(self) -> bool:
        return isinstance(self.storage, LocalStorage)

    def uri(self, key: str) -> str:
        return self.storage.uri(key)

    def table_uri(self, table: Table | str) -> str:
        return self.uri(table_prefix(table_zone(table), str(Table(table))).rstrip("/"))


@dataclass(frozen=True)
class RawFile:
    """One accepted raw file of a dataset partition."""

    dataset: Dataset
    date: str
    key: str

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def raw_files(lake: LakeIO, dataset: Dataset | str, dates: Sequence[str]) -> list[RawFile]:
    """The raw files the ETL reads: every file of each partition not rejected whole.

    The validator decides (``ecomlake.ingest.validator.accepted_keys``); a file landed
    without being validated is validated first, so a rejected file never reaches a job.
    """
    from ecomlake.ingest.validator import accepted_keys

    ds = Dataset(dataset)
    return [RawFile(ds, day, key) for day in dates for key in sorted(accepted_keys(lake.storage, ds, day))]


def raw_file_name(dataset: Dataset | str) -> str:
    """The file name a dataset normally arrives as (any accepted name is read)."""
    return RAW_FILE_NAMES[Dataset(dataset)]
