"""Catalog: the stack's Glue database and one table per ``ecomlake.schemas.TABLES`` entry.

Columns come from ``schemas.glue_columns`` -- the same definitions the validator, the ETL,
the DuckDB views and the DQ rules use -- so the catalog cannot drift from the data.

Runs write versions (``<zone>/<table>/date=D/run=R/``) and publish them with an atomic
snapshot (docs/runs.md); Athena must read exactly the published versions. So:

* partitioned tables have **registered partitions**, no partition projection: projection
  computes ``.../date=D/`` from the date alone and would read every version under it. The
  publish step (``ecomlake.runs.glue_catalog``) creates, moves and drops partitions so each
  points at its current version folder;
* unpartitioned tables (the current-state dimensions) are declared here at an empty folder
  (``<zone>/<table>/_unpublished/``), never at the table root that holds every version; the
  publish step moves the table location to the published version folder;
* the publish step stamps each table with the snapshot it shows (``ecomlake.snapshot``).

Those runtime-owned properties (the location, the two ``ecomlake.*`` parameters) are in
``ignore_changes``, so ``pulumi up`` does not fight the publish step over them; a deploy that
does rewrite a table (a schema change) is followed by ``Orchestration``'s catalog-sync
invocation, and every run's plan step re-syncs any table that lags the snapshot. There is
still no crawler and no ``MSCK REPAIR``: the schema is known (``schemas.py``), and the
partitions are exactly the snapshot's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components import naming
from ecomlake import schemas
from ecomlake.contract import PARTITION_KEY, Table, Zone
from ecomlake.runs.glue_catalog import PUBLISHER_PARAMETER, SNAPSHOT_PARAMETER, UNPUBLISHED_FOLDER

PARQUET_INPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# Hive type of the partition column. Partition values are the business dates (YYYY-MM-DD)
# the snapshot names; declaring them ``date`` lets SQL compare with DATE literals.
PARTITION_TYPE: Final = "date"
PARTITION_COMMENT: Final = "Business date (partition, YYYY-MM-DD)"


# Table properties the publish step owns at run time (``ecomlake.runs.glue_catalog``).
RUNTIME_OWNED: Final = (
    "storageDescriptor.location",
    f'parameters["{SNAPSHOT_PARAMETER}"]',
    f'parameters["{PUBLISHER_PARAMETER}"]',
)


@dataclass(frozen=True)
class CatalogArgs:
    project: str
    stage: str
    database_name: str  # ecomlake.contract.glue_database(stage)
    zone_buckets: Mapping[Zone, pulumi.Input[str]]  # processed and curated bucket names


def table_location(bucket: str, schema: schemas.TableSchema) -> str:
    """The declared location: the table root (partitioned), else an empty folder until a publication."""
    root = naming.s3_uri(bucket, f"{schema.zone}/{schema.name}/")
    return root if schema.partition_key else root + UNPUBLISHED_FOLDER


def table_parameters(schema: schemas.TableSchema) -> dict[str, str]:
    """Glue table parameters: Parquet (partitions are registered by the publish step, not projected)."""
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "parquet.compression": "SNAPPY",
    }


def table_definition(bucket: str, schema: schemas.TableSchema) -> dict[str, object]:
    """The table as declared, in Glue API shape (``TableInput``): what deploys hash and tests create."""
    definition: dict[str, object] = {
        "Name": str(schema.name),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": table_parameters(schema),
        "StorageDescriptor": {
            "Columns": [
                {"Name": c["name"], "Type": c["type"], "Comment": c["comment"]} for c in schemas.glue_columns(schema)
            ],
            "Location": table_location(bucket, schema),
            "InputFormat": PARQUET_INPUT_FORMAT,
            "OutputFormat": PARQUET_OUTPUT_FORMAT,
            "Compressed": True,
            "SerdeInfo": {
                "Name": "parquet",
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
        },
    }
    if schema.partition_key:
        definition["PartitionKeys"] = [{"Name": PARTITION_KEY, "Type": PARTITION_TYPE, "Comment": PARTITION_COMMENT}]
    return definition


def definitions_digest(buckets: Mapping[Table, str]) -> str:
    """A digest of every table's declared definition (``table_definition``), bucket names resolved."""
    documents = {str(t): table_definition(buckets[t], schemas.TABLES[t]) for t in sorted(buckets)}
    return hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()


class Catalog(pulumi.ComponentResource):
    """Glue database + one external Parquet table per schema."""

    database: aws.glue.CatalogDatabase
    tables: dict[Table, aws.glue.CatalogTable]

    def __init__(self, name: str, args: CatalogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:Catalog", name, None, opts)
        self.database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=args.database_name,
            description=f"{args.project} {args.stage}: processed and curated tables (schemas from ecomlake.schemas)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.tables = {}
        for table, schema in schemas.TABLES.items():
            self.tables[Table(table)] = self._table(name, args, schema)

        self.database_name: pulumi.Output[str] = self.database.name
        # Changes whenever a deploy changes what a table declares (columns, format, location):
        # Orchestration re-syncs the catalog with the published snapshot when it does.
        self.definition_digest: pulumi.Output[str] = pulumi.Output.all(
            *(pulumi.Output.from_input(args.zone_buckets[s.zone]) for s in schemas.TABLES.values()),
            *(r.id for r in self.tables.values()),
        ).apply(lambda v: definitions_digest(dict(zip(schemas.TABLES, v[: len(schemas.TABLES)], strict=True))))
        self.register_outputs(
            {
                "databaseName": self.database.name,
                "tables": {str(t): r.name for t, r in self.tables.items()},
                "definitionDigest": self.definition_digest,
            }
        )

    def _table(self, name: str, args: CatalogArgs, schema: schemas.TableSchema) -> aws.glue.CatalogTable:
        bucket = pulumi.Output.from_input(args.zone_buckets[schema.zone])
        columns = [
            aws.glue.CatalogTableStorageDescriptorColumnArgs(name=c["name"], type=c["type"], comment=c["comment"])
            for c in schemas.glue_columns(schema)
        ]
        partition_keys = (
            [aws.glue.CatalogTablePartitionKeyArgs(name=PARTITION_KEY, type=PARTITION_TYPE, comment=PARTITION_COMMENT)]
            if schema.partition_key
            else None
        )
        return aws.glue.CatalogTable(
            f"{name}-{naming.slug(schema.name)}",
            name=str(schema.name),
            database_name=self.database.name,
            description=f"{schema.description} Grain: {schema.grain}.".strip(),
            table_type="EXTERNAL_TABLE",
            parameters=table_parameters(schema),
            partition_keys=partition_keys,
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=bucket.apply(lambda b: table_location(b, schema)),
                input_format=PARQUET_INPUT_FORMAT,
                output_format=PARQUET_OUTPUT_FORMAT,
                compressed=True,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    name="parquet",
                    serialization_library=PARQUET_SERDE,
                    parameters={"serialization.format": "1"},
                ),
                columns=columns,
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(RUNTIME_OWNED)),
        )
