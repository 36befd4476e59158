"""A lake on moto S3 with the stack's Glue catalog, and runs written into it the way the jobs write them.

The catalog tables are created from ``components.catalog.table_definition`` -- what the Pulumi
program declares -- so the sync is tested against the tables a deployment really has. A run's
"jobs" write small version folders and record them in the run's journal
(``ecomlake.snapshots.journal``), as ``ecomlake.etl`` does; the audit's verdict is written with
``ecomlake.runs.audit.write_verdict``, the function the audit engines use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import boto3

from components.catalog import table_definition
from ecomlake import schemas
from ecomlake.contract import ZONE_BUCKET_ENV, EnvVar, raw_key, version_prefix
from ecomlake.runs.audit import write_verdict
from ecomlake.snapshots import Changes
from ecomlake.snapshots.journal import JobOutput, write_output
from ecomlake.storage import S3Storage

REGION = "us-east-1"
DATABASE = "ecomlake_test"
# One bucket per environment variable, as the stack has it (_runs and _catalog share the reports bucket).
BUCKET_OF_VAR = {
    str(var): "ecomlake-test-" + str(var).removeprefix("ECOMLAKE_").removesuffix("_BUCKET").lower().replace("_", "-")
    for var in set(ZONE_BUCKET_ENV.values())
}
BUCKETS = {zone: BUCKET_OF_VAR[str(var)] for zone, var in ZONE_BUCKET_ENV.items()}


class CloudLake:
    """Buckets, a Glue database with every table, and helpers to write and inspect runs."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.glue = boto3.client("glue", region_name=REGION)
        for bucket in BUCKET_OF_VAR.values():
            self.s3.create_bucket(Bucket=bucket)
        self.glue.create_database(DatabaseInput={"Name": DATABASE})
        for schema in schemas.TABLES.values():
            self.glue.create_table(DatabaseName=DATABASE, TableInput=self.declared(schema.name))
        self.storage = S3Storage(BUCKETS)

    @staticmethod
    def declared(table: str) -> dict[str, Any]:
        schema = schemas.TABLES[table]  # type: ignore[index]
        return table_definition(BUCKETS[schema.zone], schema)

    @staticmethod
    def environment() -> dict[str, str]:
        return {**BUCKET_OF_VAR, str(EnvVar.GLUE_DATABASE): DATABASE, str(EnvVar.STAGE): "test"}

    # -- writing

    def land(self, dataset: str, day: str, body: bytes) -> None:
        self.storage.write_bytes(raw_key(dataset, day, f"{dataset}.csv"), body)

    def write_run(
        self,
        run_id: str,
        partitions: Mapping[str, Mapping[str, bool]],
        whole: Iterable[str] = (),
        job: str = "master_data_merge",
    ) -> Changes:
        """Versions of ``run_id``: a file per partition marked True, an emptied partition per False."""
        changes = Changes()
        for unit, days in partitions.items():
            for day, present in days.items():
                if present:
                    self.storage.write_bytes(version_prefix(unit, run_id, day) + "part-0.parquet", b"PAR1 rows PAR1")
                changes.set_partition(unit, day, run_id if present else None)
        for unit in whole:
            self.storage.write_bytes(version_prefix(unit, run_id) + "part-0.parquet", b"PAR1 rows PAR1")
            changes.set_whole(unit, run_id)
        write_output(self.storage, JobOutput(job=job, run_id=run_id, changes=changes))
        return changes

    def audit(self, run_id: str, *, passed: bool, dates: list[str]) -> None:
        failures = [] if passed else [(dates[0], "transactions.row_count", "0 rows, expected at least 1")]
        summary = {"dates": dates, "checks": 10, "critical_failed": len(failures), "warnings": 0, "passed": passed}
        write_verdict(self.storage, run_id, summary, failures)

    # -- reading the catalog

    def table(self, name: str) -> dict[str, Any]:
        return self.glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]

    def locations(self, name: str) -> dict[str, str]:
        """date -> location of every registered partition of ``name``."""
        partitions = self.glue.get_partitions(DatabaseName=DATABASE, TableName=name)["Partitions"]
        return {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in partitions}

    def partitions(self, name: str) -> list[dict[str, Any]]:
        found = self.glue.get_partitions(DatabaseName=DATABASE, TableName=name)["Partitions"]
        return sorted(found, key=lambda p: p["Values"])

    def shown(self, name: str) -> str | None:
        return (self.table(name).get("Parameters") or {}).get("ecomlake.snapshot")

    def keys(self, zone_bucket: str, prefix: str = "") -> list[str]:
        found = self.s3.list_objects_v2(Bucket=zone_bucket, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in found)
