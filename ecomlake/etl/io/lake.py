"""Where a run reads and writes (``LakeIO``) and which raw files it reads (``raw_files``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecomlake.contract import (
    RAW_FILE_NAMES,
    Dataset,
    Table,
    Zone,
    table_prefix,
    table_zone,
)
from ecomlake.storage import LocalStorage, Storage

# --------------------------------------------------------------------------- the lake


@dataclass(frozen=True)
class LakeIO:
    """Where a run reads and writes: a Storage for small objects, URIs for the engines."""

    storage: Storage

    @classmethod
    def local(cls, lake: str | Path) -> LakeIO:
        return cls(LocalStorage(Path(lake)))

    @property
    def is_local(self) -> bool:
        return isinstance(self.storage, LocalStorage)

    def uri(self, key: str) -> str:
        return self.storage.uri(key)

    def table_uri(self, table: Table | str) -> str:
        return self.uri(table_prefix(table_zone(table), str(Table(table))).rstrip("/"))

    def quarantine_uri(self, dataset: Dataset | str) -> str:
        return self.uri(table_prefix(Zone.QUARANTINE, str(Dataset(dataset))).rstrip("/"))


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
