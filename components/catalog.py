"""Catalog: the stack's Glue database and one table per ``ecomlake.schemas.TABLES`` entry.

Columns come from ``schemas.glue_columns`` -- the same definitions the validator, the ETL,
the DuckDB views and the DQ rules use -- so the catalog cannot drift from the data.

Partitioned tables use Athena *partition projection* on ``date``: Athena computes the
partition locations from ``storage.location.template`` and the date range instead of
reading them from the catalog. That is why there is no Glue crawler and no
``MSCK REPAIR TABLE``/``ALTER TABLE ADD PARTITION`` step: a partition the ETL writes is
queryable the moment its files land, the catalog never needs a refresh, and nothing
scans S3 to discover schemas (the schema is already known, from ``schemas.py``). A crawler
would only be worth adding for data whose schema is *not* known in advance.
Unpartitioned tables (the current-state dimensions) have no projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components import naming
from ecomlake import schemas
from ecomlake.contract import PARTITION_KEY, Table, Zone

PARQUET_INPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# Hive type of the partition column. Partition values are the directory names
# (date=YYYY-MM-DD); declaring them ``date`` lets SQL compare with DATE literals.
PARTITION_TYPE: Final = "date"
PROJECTION_DATE_FORMAT: Final = "yyyy-MM-dd"  # Java DateTimeFormatter pattern of contract.DATE_FORMAT


@dataclass(frozen=True)
class CatalogArgs:
    project: str
    stage: str
    database_name: str  # ecomlake.contract.glue_database(stage)
    zone_buckets: Mapping[Zone, pulumi.Input[str]]  # processed and curated bucket names
    projection_start: str  # first date partition projection covers (YYYY-MM-DD)


def table_location(bucket: str, schema: schemas.TableSchema) -> str:
    """``s3://<zone bucket>/<zone>/<table>/`` -- the contract's key layout."""
    return naming.s3_uri(bucket, f"{schema.zone}/{schema.name}/")


def table_parameters(bucket: str, schema: schemas.TableSchema, projection_start: str) -> dict[str, str]:
    """Glue table parameters: Parquet, and partition projection when the table is partitioned."""
    params = {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "parquet.compression": "SNAPPY",
    }
    if schema.partition_key:
        key = schema.partition_key
        params.update(
            {
                "projection.enabled": "true",
                f"projection.{key}.type": "date",
                f"projection.{key}.format": PROJECTION_DATE_FORMAT,
                f"projection.{key}.range": f"{projection_start},NOW",
                f"projection.{key}.interval": "1",
                f"projection.{key}.interval.unit": "DAYS",
                "storage.location.template": table_location(bucket, schema) + f"{key}=${{{key}}}/",
            }
        )
    return params


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
        self.register_outputs(
            {"databaseName": self.database.name, "tables": {str(t): r.name for t, r in self.tables.items()}}
        )

    def _table(self, name: str, args: CatalogArgs, schema: schemas.TableSchema) -> aws.glue.CatalogTable:
        bucket = pulumi.Output.from_input(args.zone_buckets[schema.zone])
        columns = [
            aws.glue.CatalogTableStorageDescriptorColumnArgs(name=c["name"], type=c["type"], comment=c["comment"])
            for c in schemas.glue_columns(schema)
        ]
        partition_keys = (
            [
                aws.glue.CatalogTablePartitionKeyArgs(
                    name=PARTITION_KEY, type=PARTITION_TYPE, comment="Business date (partition, YYYY-MM-DD)"
                )
            ]
            if schema.partition_key
            else None
        )
        return aws.glue.CatalogTable(
            f"{name}-{naming.slug(schema.name)}",
            name=str(schema.name),
            database_name=self.database.name,
            description=f"{schema.description} Grain: {schema.grain}.".strip(),
            table_type="EXTERNAL_TABLE",
            parameters=bucket.apply(lambda b: table_parameters(b, schema, args.projection_start)),
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
            opts=pulumi.ResourceOptions(parent=self),
        )
