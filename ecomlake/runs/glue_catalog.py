"""The Glue Data Catalog follows the published snapshot: what Athena reads is what was published.

Every table partition a run writes is a version folder (``<zone>/<table>/date=D/run=R/``) that
no reader looks at until a snapshot names it (``ecomlake.snapshots``). Athena finds data
through the Glue catalog, so after each publication the catalog is switched to the versions
the new snapshot names:

* a partitioned table has **registered partitions** (no partition projection: projection
  computes ``.../date=D/`` and cannot know which ``run=R/`` folder is current); each
  partition's location is its current version folder. :func:`sync_catalog` compares the
  registered partitions with the snapshot and creates, updates (location or columns) and
  deletes exactly the ones that differ (``BatchCreatePartition`` / ``BatchUpdatePartition`` /
  ``BatchDeletePartition``);
* an unpartitioned table (the dimensions) has its *table* location switched to its version
  folder (``UpdateTable``); with nothing published it points at an empty folder
  (:data:`UNPUBLISHED_FOLDER`), never at the table's root, which holds every version;
* every table records the snapshot it shows in the table parameter :data:`SNAPSHOT_PARAMETER`.

The sync is a diff, so it is idempotent and converges from any state: the publish step runs
it right after the snapshot commit; the plan step of every run first runs it again when any
table's parameter is behind the published snapshot (a publish step that died between the
commit and the switch, a ``pulumi up`` that rewrote a table). A table never moves backwards:
a table already showing a newer snapshot is left alone.

Glue has no multi-table transaction: the tables switch one after another, within
milliseconds, after the snapshot commit (which *is* atomic). A query that starts in that
window may see one table before and another after; the versions of both snapshots are kept
(garbage collection keeps the current and the previous snapshot's versions), so it never
reads a deleted file. Readers of our own that need one state across tables read the snapshot
itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ecomlake.contract import CURATED_TABLES, PROCESSED_TABLES, Table, table_zone
from ecomlake.exceptions import EcomlakeError
from ecomlake.schemas import TABLES
from ecomlake.snapshots import Snapshot, table_unit

SNAPSHOT_PARAMETER: Final = "ecomlake.snapshot"  # table parameter: the snapshot seq the table shows
PUBLISHER_PARAMETER: Final = "ecomlake.published_by"  # table parameter: the run that published that snapshot
RUN_PARAMETER: Final = "ecomlake.run_id"  # partition parameter: the run whose version the partition is
# Where an unpartitioned table points while no version of it is published: a folder nothing writes.
UNPUBLISHED_FOLDER: Final = "_unpublished/"
CATALOG_TABLES: Final = tuple(Table(t) for t in (*PROCESSED_TABLES, *CURATED_TABLES))

# Glue API batch limits.
CREATE_BATCH: Final = 100
UPDATE_BATCH: Final = 100
DELETE_BATCH: Final = 25
# TableInput fields UpdateTable accepts, as GetTable returns them.
_TABLE_INPUT_FIELDS: Final = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
)
_STORAGE_FIELDS: Final = ("Columns", "InputFormat", "OutputFormat", "Compressed", "SerdeInfo", "Parameters")

# key -> URI of that key (``S3Storage.uri``: ``s3://<zone bucket>/<key>``).
UriOf = Callable[[str], str]


class CatalogSyncError(EcomlakeError):
    """The catalog refused a change, or a table the snapshot names is not in it."""


def unpublished_location(uri_of: UriOf, table: Table | str) -> str:
    """Where an unpartitioned table points while nothing of it is published (an empty folder)."""
    return uri_of(f"{table_zone(table)}/{Table(table)}/{UNPUBLISHED_FOLDER}")


def desired_partitions(snapshot: Snapshot, table: Table | str, uri_of: UriOf) -> dict[str, str]:
    """date -> location of every partition ``snapshot`` publishes for a partitioned table."""
    return {day: uri_of(prefix) for day, prefix in snapshot.prefixes(table_unit(table)) if day is not None}


def desired_location(snapshot: Snapshot, table: Table | str, uri_of: UriOf) -> str:
    """The location of an unpartitioned table under ``snapshot``."""
    found = snapshot.prefixes(table_unit(table))
    return uri_of(found[0][1]) if found else unpublished_location(uri_of, table)


def shown_seq(table: Mapping[str, Any]) -> int | None:
    """The snapshot a catalog table (``GetTable``'s ``Table``) says it shows; None if it never synced."""
    value = (table.get("Parameters") or {}).get(SNAPSHOT_PARAMETER)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class TableSync:
    """What one table's sync changed."""

    table: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    location: str | None = None  # an unpartitioned table's new location, when it moved
    skipped: str | None = None  # why nothing was done (the table shows a newer snapshot)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.location)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": len(self.created), "updated": len(self.updated), "deleted": len(self.deleted)}
        if self.location:
            out["location"] = self.location
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass
class CatalogSync:
    """The whole catalog's sync to snapshot ``seq``."""

    database: str
    seq: int
    tables: list[TableSync] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        changed = [t for t in self.tables if t.changed]
        return {
            "database": self.database,
            "snapshot": self.seq,
            "tables_changed": len(changed),
            "partitions_created": sum(len(t.created) for t in self.tables),
            "partitions_updated": sum(len(t.updated) for t in self.tables),
            "partitions_deleted": sum(len(t.deleted) for t in self.tables),
            "tables": {t.table: t.to_dict() for t in self.tables if t.changed or t.skipped},
        }


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns(descriptor: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(c.get("Name")), str(c.get("Type"))) for c in descriptor.get("Columns") or []]


class GlueCatalog:
    """The stack's Glue database, through a boto3 Glue client."""

    def __init__(self, glue: Any, database: str) -> None:
        self.glue, self.database = glue, database

    def table(self, name: str) -> dict[str, Any]:
        try:
            return dict(self.glue.get_table(DatabaseName=self.database, Name=name)["Table"])
        except self.glue.exceptions.EntityNotFoundException:
            raise CatalogSyncError(
                f"table {self.database}.{name} is not in the Glue catalog; deploy the stack (pulumi up) first"
            ) from None

    def tables(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=self.database):
            found.update({t["Name"]: t for t in page.get("TableList", [])})
        return found

    def partitions(self, table: str) -> dict[str, dict[str, Any]]:
        """date -> partition, for every registered partition of ``table``."""
        found: dict[str, dict[str, Any]] = {}
        paginator = self.glue.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=self.database, TableName=table):
            for partition in page.get("Partitions", []):
                found[partition["Values"][0]] = partition
        return found

    def create(self, table: str, inputs: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(inputs, CREATE_BATCH):
            response = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=table, PartitionInputList=list(chunk)
            )
            self._check(table, "create", response.get("Errors"))

    def update(self, table: str, inputs: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(inputs, UPDATE_BATCH):
            entries = [{"PartitionValueList": p["Values"], "PartitionInput": p} for p in chunk]
            response = self.glue.batch_update_partition(DatabaseName=self.database, TableName=table, Entries=entries)
            self._check(table, "update", response.get("Errors"))

    def delete(self, table: str, days: Sequence[str]) -> None:
        for chunk in _chunks(days, DELETE_BATCH):
            response = self.glue.batch_delete_partition(
                DatabaseName=self.database,
                TableName=table,
                PartitionsToDelete=[{"Values": [d]} for d in chunk],
            )
            self._check(table, "delete", response.get("Errors"))

    def update_table(self, table: Mapping[str, Any]) -> None:
        table_input = {k: table[k] for k in _TABLE_INPUT_FIELDS if k in table}
        # Our snapshot history is the catalog's history: no archived table version per publication.
        self.glue.update_table(DatabaseName=self.database, TableInput=table_input, SkipArchive=True)

    def _check(self, table: str, verb: str, errors: Iterable[Mapping[str, Any]] | None) -> None:
        errors = list(errors or [])
        if not errors:
            return
        shown = "; ".join(
            f"{(e.get('PartitionValues') or e.get('PartitionValueList') or ['?'])[0]}: "
            f"{(e.get('ErrorDetail') or {}).get('ErrorCode')} {(e.get('ErrorDetail') or {}).get('ErrorMessage')}"
            for e in errors[:5]
        )
        raise CatalogSyncError(f"Glue refused to {verb} {len(errors)} partition(s) of {self.database}.{table}: {shown}")


def partition_input(table: Mapping[str, Any], day: str, location: str, run_id: str) -> dict[str, Any]:
    """A partition of ``table`` for ``day`` at ``location``: the table's format and columns, its own folder."""
    descriptor = {k: v for k, v in (table.get("StorageDescriptor") or {}).items() if k in _STORAGE_FIELDS}
    descriptor["Location"] = location
    return {"Values": [day], "StorageDescriptor": descriptor, "Parameters": {RUN_PARAMETER: run_id}}


def _partition_current(partition: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    have, want = partition.get("StorageDescriptor") or {}, wanted["StorageDescriptor"]
    return (
        have.get("Location") == want["Location"]
        and _columns(have) == _columns(want)
        and have.get("InputFormat") == want.get("InputFormat")
        and (have.get("SerdeInfo") or {}).get("SerializationLibrary")
        == (want.get("SerdeInfo") or {}).get("SerializationLibrary")
    )


def sync_table(catalog: GlueCatalog, table: Table, snapshot: Snapshot, uri_of: UriOf) -> TableSync:
    """Bring one table to ``snapshot`` (see the module docstring); returns what changed."""
    current = catalog.table(str(table))
    result = TableSync(str(table))
    shown = shown_seq(current)
    if shown is not None and shown > snapshot.seq:
        result.skipped = f"shows snapshot {shown}, newer than {snapshot.seq}"
        return result
    unit = table_unit(table)
    if TABLES[table].partition_key:
        wanted = {
            day: partition_input(current, day, location, snapshot.version(unit, day) or "")
            for day, location in desired_partitions(snapshot, table, uri_of).items()
        }
        registered = catalog.partitions(str(table))
        result.created = sorted(d for d in wanted if d not in registered)
        stale = [d for d in wanted if d in registered and not _partition_current(registered[d], wanted[d])]
        result.updated = sorted(stale)
        result.deleted = sorted(d for d in registered if d not in wanted)
        catalog.create(str(table), [wanted[d] for d in result.created])
        catalog.update(str(table), [wanted[d] for d in result.updated])
        catalog.delete(str(table), result.deleted)
    else:
        location = desired_location(snapshot, table, uri_of)
        descriptor = dict(current.get("StorageDescriptor") or {})
        if descriptor.get("Location") != location:
            result.location = location
        current["StorageDescriptor"] = {**descriptor, "Location": location}
    parameters = dict(current.get("Parameters") or {})
    stamp = {SNAPSHOT_PARAMETER: str(snapshot.seq), PUBLISHER_PARAMETER: snapshot.run_id or ""}
    if result.location or any(parameters.get(k) != v for k, v in stamp.items()):
        current["Parameters"] = {**parameters, **stamp}
        catalog.update_table(current)
    return result


def sync_catalog(
    glue: Any, database: str, snapshot: Snapshot, uri_of: UriOf, tables: Iterable[Table] = CATALOG_TABLES
) -> CatalogSync:
    """Switch every catalog table to the versions ``snapshot`` names (idempotent)."""
    catalog = GlueCatalog(glue, database)
    result = CatalogSync(database, snapshot.seq)
    for table in tables:
        result.tables.append(sync_table(catalog, Table(table), snapshot, uri_of))
    return result


def lagging_tables(glue: Any, database: str, snapshot: Snapshot, tables: Iterable[Table] = CATALOG_TABLES) -> list[str]:
    """Tables whose catalog entry shows an older snapshot than ``snapshot`` (or none at all)."""
    found = GlueCatalog(glue, database).tables()
    missing = [str(t) for t in tables if str(t) not in found]
    if missing:
        raise CatalogSyncError(
            f"table(s) {', '.join(missing)} of {database} are not in the Glue catalog; "
            "deploy the stack (pulumi up) first"
        )
    lagging = []
    for name in map(str, tables):
        shown = shown_seq(found[name])
        if shown is None or shown < snapshot.seq:
            lagging.append(name)
    return lagging


def catch_up(
    glue: Any, database: str, snapshot: Snapshot, uri_of: UriOf, tables: Iterable[Table] = CATALOG_TABLES
) -> CatalogSync | None:
    """Sync the catalog when any table lags ``snapshot``; None when every table already shows it."""
    chosen = [Table(t) for t in tables]
    lagging = lagging_tables(glue, database, snapshot, chosen)
    if not lagging:
        return None
    return sync_catalog(glue, database, snapshot, uri_of, chosen)
