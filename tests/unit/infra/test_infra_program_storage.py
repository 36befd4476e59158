"""The program's buckets, keys and Glue catalog tables (see test_infra_program.py)."""

from __future__ import annotations

import json
from typing import Any

from infra_harness import ACCOUNT, ProgramRun
from program_helpers import (
    BUCKET,
    LIFECYCLE,
    LOGGING,
    OWNERSHIP,
    PAB,
    POLICY,
    PROGRAM_MARKS,
    SSE,
    VERSIONING,
    bucket_name,
    cfg,
    for_bucket,
    lake_bucket_names,
    statements,
)

from components import iam
from components.catalog import PARQUET_SERDE, definitions_digest, table_definition
from components.lake import BUCKET_ZONES
from ecomlake import schemas
from ecomlake.contract import (
    PARTITION_KEY,
    Table,
    Zone,
    glue_database,
)

pytestmark = PROGRAM_MARKS


# --------------------------------------------------------------------------- buckets


def test_every_bucket_is_encrypted_versioned_private_and_tls_only(run: ProgramRun) -> None:
    buckets = run.of_type(BUCKET)
    # 7 zone buckets + access logs + dashboard site
    assert len(buckets) == len(BUCKET_ZONES) + 2
    keys = {r.state["arn"] for r in run.of_type("aws:kms/key:Key")}
    for b in buckets:
        name = b.inputs["bucket"]
        (sse,) = for_bucket(run, SSE, name)
        rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        if "access-logs" in name:
            # S3 server access log delivery cannot write to an SSE-KMS bucket.
            assert rule == {"sseAlgorithm": "AES256"}
        else:
            assert rule["sseAlgorithm"] == "aws:kms"
            assert rule["kmsMasterKeyId"] in keys
            assert sse.inputs["rules"][0]["bucketKeyEnabled"] is True
        (ver,) = for_bucket(run, VERSIONING, name)
        assert ver.inputs["versioningConfiguration"]["status"] == "Enabled"
        (pab,) = for_bucket(run, PAB, name)
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert pab.inputs[flag] is True, (name, flag)
        (own,) = for_bucket(run, OWNERSHIP, name)
        assert own.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        (pol,) = for_bucket(run, POLICY, name)
        doc = json.loads(pol.inputs["policy"])
        deny = [s for s in statements(doc) if s["Effect"] == "Deny"]
        assert deny == [iam.deny_insecure_transport(f"arn:aws:s3:::{name}")]
        assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Resource"] == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
        assert b.inputs["forceDestroy"] is (cfg(run, "forceDestroy") == "true")


def test_buckets_log_to_the_access_log_bucket(run: ProgramRun) -> None:
    log_bucket = next(b.inputs["bucket"] for b in run.of_type(BUCKET) if "access-logs" in b.inputs["bucket"])
    logged = {r.inputs["bucket"]: r.inputs for r in run.of_type(LOGGING)}
    for b in run.of_type(BUCKET):
        name = b.inputs["bucket"]
        if name == log_bucket:
            assert name not in logged
            continue
        assert logged[name]["targetBucket"] == log_bucket
        assert logged[name]["targetPrefix"] == f"{name}/"
    (pol,) = for_bucket(run, POLICY, log_bucket)
    grant = next(s for s in statements(json.loads(pol.inputs["policy"])) if s["Effect"] == "Allow")
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_lifecycle_rules_follow_the_stack_config(run: ProgramRun) -> None:
    def rules(zone: Zone) -> list[dict[str, Any]]:
        (lc,) = for_bucket(run, LIFECYCLE, bucket_name(run, zone))
        return lc.inputs["rules"]

    (raw,) = rules(Zone.RAW)
    assert [(t["days"], t["storageClass"]) for t in raw["transitions"]] == [
        (int(cfg(run, "rawInfrequentAccessDays")), "STANDARD_IA"),
        (int(cfg(run, "rawGlacierDays")), "GLACIER_IR"),
    ]
    assert "expiration" not in raw  # raw is immutable: never expired
    assert raw["noncurrentVersionExpiration"]["noncurrentDays"] == int(cfg(run, "noncurrentVersionExpirationDays"))
    (results,) = rules(Zone.ATHENA_RESULTS)
    assert results["expiration"]["days"] == int(cfg(run, "athenaResultsExpirationDays"))
    (quarantine,) = rules(Zone.QUARANTINE)
    assert quarantine["expiration"]["days"] == int(cfg(run, "quarantineExpirationDays"))
    for zone in (Zone.PROCESSED, Zone.CURATED, Zone.REPORTS, Zone.ARTIFACTS):
        (rule,) = rules(zone)
        assert "expiration" not in rule
        assert "transitions" not in rule
        assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_only_the_raw_bucket_sends_events_to_eventbridge(run: ProgramRun) -> None:
    notes = run.of_type("aws:s3/bucketNotification:BucketNotification")
    assert [(n.inputs["bucket"], n.inputs["eventbridge"]) for n in notes] == [(bucket_name(run, Zone.RAW), True)]


def test_kms_keys_rotate(run: ProgramRun) -> None:
    keys = run.of_type("aws:kms/key:Key")
    assert len(keys) == 2
    assert all(k.inputs["enableKeyRotation"] is True for k in keys)
    lake = run.one("aws:kms/key:Key", "lake-key")
    assert lake.inputs["deletionWindowInDays"] == int(cfg(run, "kmsDeletionWindowDays"))


# Every resource that hardens a bucket (a retained bucket must keep all of them).
BUCKET_HARDENING = (SSE, VERSIONING, PAB, POLICY, OWNERSHIP, LOGGING, LIFECYCLE)


def test_prod_keeps_the_lake_through_pulumi_destroy(programs: dict[str, ProgramRun]) -> None:
    """prod: the lake key, its alias, every lake bucket and each bucket's hardening are protected
    and retained on delete; nothing else is (the dashboard site and its key are re-creatable)."""
    prod = programs["prod"]
    assert cfg(prod, "protectData") == "true"
    lake = lake_bucket_names(prod)
    kept = {(r.typ, r.name) for r in prod.resources if r.protect is True and r.retain_on_delete is True}
    expected = {("aws:kms/key:Key", "lake-key"), ("aws:kms/alias:Alias", "lake-key-alias")}
    expected |= {(BUCKET, b.name) for b in prod.of_type(BUCKET) if b.inputs["bucket"] in lake}
    for typ in BUCKET_HARDENING:
        expected |= {(typ, r.name) for r in prod.of_type(typ) if r.inputs["bucket"] in lake}
    expected |= {
        ("aws:s3/bucketNotification:BucketNotification", n.name)
        for n in prod.of_type("aws:s3/bucketNotification:BucketNotification")
    }
    # The run lock's table: deleting it under a running execution would let a second writer in.
    expected.add(("aws:dynamodb/table:Table", "orchestration-run-lock"))
    assert kept == expected
    # 8 buckets, each with encryption, versioning, access block, policy, ownership and lifecycle;
    # 7 of them log to the eighth; the lock table.
    assert len(kept) == 2 + 8 * 7 + 7 + 1 + 1
    # A protected resource is always retained too, and the other way round.
    assert {(r.typ, r.name) for r in prod.resources if r.protect or r.retain_on_delete} == kept
    site_key = prod.one("aws:kms/key:Key", "dashboard-key")
    assert not site_key.protect


def test_dev_is_disposable(programs: dict[str, ProgramRun]) -> None:
    dev = programs["dev"]
    assert cfg(dev, "protectData") == "false"
    assert [r.name for r in dev.resources if r.protect or r.retain_on_delete] == []
    assert dev.one("aws:kms/key:Key", "lake-key").inputs["deletionWindowInDays"] == 7


# --------------------------------------------------------------------------- catalog


def test_catalog_tables_match_the_schemas(run: ProgramRun) -> None:
    (db,) = run.of_type("aws:glue/catalogDatabase:CatalogDatabase")
    assert db.inputs["name"] == glue_database(run.stack)
    tables = {r.inputs["name"]: r.inputs for r in run.of_type("aws:glue/catalogTable:CatalogTable")}
    assert set(tables) == {str(t) for t in Table}
    for name, schema in schemas.TABLES.items():
        t = tables[str(name)]
        assert t["databaseName"] == glue_database(run.stack)
        sd = t["storageDescriptor"]
        assert sd["columns"] == schemas.glue_columns(schema)
        assert sd["serDeInfo"]["serializationLibrary"] == PARQUET_SERDE
        zone = (
            Zone.PROCESSED
            if name in (Table.TRANSACTIONS, Table.PRODUCTS, Table.CLICKSTREAM, Table.REVIEWS, Table.SESSIONS)
            else Zone.CURATED
        )
        root = f"s3://{bucket_name(run, zone)}/{zone}/{name}/"
        params = t["parameters"]
        assert params == {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}
        # No partition projection: it would read every version under date=D/ (docs/infrastructure.md).
        assert not any(k.startswith("projection.") or k == "storage.location.template" for k in params)
        if schema.partition_key:
            assert t["partitionKeys"] == [
                {"name": PARTITION_KEY, "type": "date", "comment": "Business date (partition, YYYY-MM-DD)"}
            ]
            assert sd["location"] == root  # metadata only: Athena reads the registered partitions
        else:
            assert "partitionKeys" not in t
            # Never the root, which holds every version: an empty folder until a publication.
            assert sd["location"] == root + "_unpublished/"
    unpartitioned = {str(n) for n, s in schemas.TABLES.items() if not s.partition_key}
    assert unpartitioned == {"product_activity", "dim_products", "dim_customers"}


def test_catalog_tables_are_what_the_glue_api_shape_declares(run: ProgramRun) -> None:
    """The Pulumi table and ``table_definition`` (what the tests create in moto, what the digest hashes) agree."""
    tables = {r.inputs["name"]: r.inputs for r in run.of_type("aws:glue/catalogTable:CatalogTable")}
    for name, schema in schemas.TABLES.items():
        declared = table_definition(bucket_name(run, Zone(schema.zone)), schema)
        t, sd = tables[str(name)], tables[str(name)]["storageDescriptor"]
        dsd: dict[str, Any] = declared["StorageDescriptor"]  # type: ignore[assignment]
        assert t["tableType"] == declared["TableType"] == "EXTERNAL_TABLE"
        assert t["parameters"] == declared["Parameters"]
        assert sd["location"] == dsd["Location"]
        columns = [{"name": c["Name"], "type": c["Type"], "comment": c["Comment"]} for c in dsd["Columns"]]
        assert sd["columns"] == columns
        assert sd["inputFormat"] == dsd["InputFormat"]
        assert sd["serDeInfo"]["serializationLibrary"] == dsd["SerdeInfo"]["SerializationLibrary"]
        declared_keys: list[dict[str, str]] = declared.get("PartitionKeys", [])  # type: ignore[assignment]
        keys = [{"name": k["Name"], "type": k["Type"], "comment": k["Comment"]} for k in declared_keys]
        assert t.get("partitionKeys", []) == keys


def test_the_publish_step_owns_table_locations_and_snapshot_stamps(run: ProgramRun) -> None:
    """``pulumi up`` must not reset what the publish step switched; a deploy that rewrites a table re-syncs."""
    for table in run.of_type("aws:glue/catalogTable:CatalogTable"):
        assert table.ignore_changes == [
            "storageDescriptor.location",
            'parameters["ecomlake.snapshot"]',
            'parameters["ecomlake.published_by"]',
        ], table.name
    (database,) = run.of_type("aws:glue/catalogDatabase:CatalogDatabase")
    assert database.ignore_changes == []
    (sync,) = run.of_type("aws:lambda/invocation:Invocation")
    assert json.loads(sync.inputs["input"]) == {"action": "sync_catalog"}
    assert sync.inputs["functionName"] == f"ecomlake-{run.stack}-publish"
    # The trigger is the digest of every declared table: a changed schema re-invokes the sync.
    buckets = {t: bucket_name(run, Zone(schemas.TABLES[t].zone)) for t in schemas.TABLES}
    assert sync.inputs["triggers"] == {"catalog": definitions_digest(buckets)}
    changed = {**buckets, Table.DIM_CUSTOMERS: "another-bucket"}
    assert definitions_digest(changed) != definitions_digest(buckets)
