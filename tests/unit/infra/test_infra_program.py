"""The whole Pulumi program, run offline for the dev and prod stacks (see conftest.py).

Each test reads what the program registered (resource inputs as the provider would
receive them) and checks it against the stack file, the contract and the schemas.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_harness import ACCOUNT, REPO_ROOT, ProgramRun, run_program
from parliament import analyze_policy_string, enhance_finding
from pulumi.runtime import rpc

from components import iam
from components.analytics import sql_files
from components.catalog import PARQUET_SERDE, definitions_digest, table_definition
from components.dashboard import CONTENT_SECURITY_POLICY, MIN_TLS_CUSTOM_DOMAIN
from components.lake import BUCKET_ZONES
from components.naming import slug
from components.observability import freshness_tables
from components.orchestration import REJECTED_ALERT_PATHS
from ecomlake import asl, schemas, sqlcache
from ecomlake.contract import (
    DATASETS,
    EVENT_FILE_ACCEPTED,
    EVENT_FILE_REJECTED,
    EVENT_SOURCE,
    METRICS_NAMESPACE,
    PARTITION_KEY,
    ZONE_BUCKET_ENV,
    EnvVar,
    Job,
    JobArg,
    Metric,
    Table,
    Zone,
    glue_database,
)
from ecomlake.ingest.events import file_event
from ecomlake.ingest.report import Rejection, ValidationReport
from ecomlake.pipeline import PIPELINE, PipelineFunction, Setting

pytestmark = [
    pytest.mark.xdist_group("infra"),
    # pulumi_aws warns about its own deprecated classes when its modules are imported.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

COMPONENTS = {
    "ecomlake:index:DataLake": 1,
    "ecomlake:index:Catalog": 1,
    "ecomlake:index:Alerts": 1,
    "ecomlake:index:Etl": 1,
    "ecomlake:index:Analytics": 1,
    "ecomlake:index:Dashboard": 1,
    "ecomlake:index:Orchestration": 1,
    "ecomlake:index:Observability": 1,
    "ecomlake:index:LambdaFunction": 9,
}
# Every resource document the program writes (the value is the input holding the JSON).
RESOURCE_POLICIES = {
    ROLE_POLICY: "policy",
    POLICY: "policy",
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
}


def cfg(run: ProgramRun, key: str) -> str:
    return run.config[f"ecomlake:{key}"]


def for_bucket(run: ProgramRun, typ: str, bucket: str) -> list[Any]:
    return [r for r in run.of_type(typ) if r.inputs.get("bucket") == bucket]


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for typ, field in RESOURCE_POLICIES.items():
        for r in run.of_type(typ):
            if r.inputs.get(field):
                docs.append((f"{typ} {r.name}", json.loads(r.inputs[field])))
    return docs


def function(run: ProgramRun, purpose: str) -> Any:
    return run.one(FUNCTION, f"{_component(purpose)}-{purpose}-function")


def _component(purpose: str) -> str:
    return "dashboard" if purpose in ("api", "refresh") else "orchestration"


def bucket_name(run: ProgramRun, zone: Zone) -> str:
    return run.outputs["buckets"][slug(zone)]


# --------------------------------------------------------------------------- structure


def test_component_type_tokens_and_counts(run: ProgramRun) -> None:
    found: dict[str, int] = {}
    for r in run.resources:
        if r.typ.startswith("ecomlake:"):
            found[r.typ] = found.get(r.typ, 0) + 1
    assert found == COMPONENTS


def test_every_aws_resource_is_a_child_of_a_component(run: ProgramRun) -> None:
    # The mock engine's URN type is "<parent type>$<type>" (the stack's type at top level).
    orphans, components = [], []
    for urn in run.urns:
        chain, name = urn.split("::")[-2:]
        parent, _, typ = chain.rpartition("$")
        if typ.startswith("ecomlake:index:"):
            components.append(typ)
        elif typ.startswith("aws:") and parent == "pulumi:pulumi:Stack":
            orphans.append(name)
        elif typ.startswith("aws:"):
            assert parent.startswith("ecomlake:index:"), urn
    # The dependency layers are shared by two components and live at stack level on purpose.
    assert sorted(orphans) == ["layer-duckdb-etl", "layer-sqlglot"]
    assert len(components) == sum(COMPONENTS.values())


def test_stack_outputs(run: ProgramRun) -> None:
    out = run.outputs
    assert set(out["buckets"]) == {slug(z) for z in BUCKET_ZONES}
    assert out["glueDatabase"] == glue_database(run.stack)
    assert out["stateMachineArn"] == f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:ecomlake-{run.stack}-pipeline"
    assert out["athenaWorkgroup"] == f"ecomlake-{run.stack}-analytics"
    assert out["dashboardUrl"].startswith("https://")
    assert out["dashboardUrl"].endswith(".cloudfront.net")
    assert set(out["glueJobs"]) == {str(j) for j in Job}
    assert set(out["functions"]) == {
        "validator",
        "router",
        "run-lock",
        "plan",
        "small-date",
        "data-quality",
        "publish",
        "api",
        "dashboard-refresh",
    }
    assert out["lockTable"] == f"ecomlake-{run.stack}-run-lock"


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


def lake_bucket_names(run: ProgramRun) -> set[str]:
    """The DataLake's buckets: one per zone plus the server-access-log bucket."""
    names = {b.inputs["bucket"] for b in run.of_type(BUCKET) if b.inputs["bucket"] != run.outputs["dashboardBucket"]}
    assert len(names) == len(BUCKET_ZONES) + 1
    return names


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


# --------------------------------------------------------------------------- IAM


def test_no_policy_allows_any_action_on_any_resource(run: ProgramRun) -> None:
    docs = policy_documents(run) + [(r.name, json.loads(r.inputs["assumeRolePolicy"])) for r in run.of_type(ROLE)]
    kinds = [where.split(" ")[0] for where, _ in policy_documents(run)]
    # 12 roles (9 functions, Glue ETL, Glue audit, Step Functions), 9 buckets, 2 keys, the topic and the DLQ.
    assert {k: kinds.count(k) for k in set(kinds)} == {
        ROLE_POLICY: 12,
        POLICY: 9,
        "aws:kms/key:Key": 1,
        "aws:kms/keyPolicy:KeyPolicy": 1,
        "aws:sns/topicPolicy:TopicPolicy": 1,
        "aws:sqs/queuePolicy:QueuePolicy": 1,
    }
    assert len(run.of_type(ROLE)) == 12
    for where, doc in docs:
        assert iam.allows_everything(doc) == [], where
        for st in statements(doc):
            actions = as_list(st.get("Action", []))
            assert "*" not in actions, where


# The one LOW finding accepted: RESOURCE_STAR in KMS key policies, where "Resource": "*"
# means "this key" (a key policy cannot name its own ARN before the key exists).
ACCEPTED_LOW = {("RESOURCE_STAR", "aws:kms/key:Key"), ("RESOURCE_STAR", "aws:kms/keyPolicy:KeyPolicy")}
SEVERITY = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


def test_every_policy_passes_parliament(run: ProgramRun) -> None:
    """No finding above LOW in any identity or resource policy the program writes.

    Role trust policies are left to test_trust_policies: they name no Resource by design,
    which parliament (an identity-policy linter) reports as MALFORMED.
    """
    low = set()
    for where, doc in policy_documents(run):
        policy = analyze_policy_string(json.dumps(doc))
        for finding in policy.findings:
            enhance_finding(finding)
            assert SEVERITY[finding.severity] <= SEVERITY["LOW"], (where, finding.issue, finding.detail)
            low.add((finding.issue, where.split(" ")[0]))
    assert low <= ACCEPTED_LOW
    assert low  # the linter did run on the key policies


def test_trust_policies(run: ProgramRun) -> None:
    services = {}
    for role in run.of_type(ROLE):
        (st,) = statements(json.loads(role.inputs["assumeRolePolicy"]))
        assert st["Action"] == "sts:AssumeRole"
        assert st["Effect"] == "Allow"
        services[role.inputs["name"]] = st["Principal"]["Service"]
        if st["Principal"]["Service"] == "states.amazonaws.com":
            # Step Functions sends the confused-deputy keys: pin the account and the machine.
            assert st["Condition"] == {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": run.outputs["stateMachineArn"]},
            }
        else:
            assert "Condition" not in st
    assert services[f"ecomlake-{run.stack}-glue-etl"] == "glue.amazonaws.com"
    assert services[f"ecomlake-{run.stack}-glue-dq"] == "glue.amazonaws.com"
    assert services[f"ecomlake-{run.stack}-pipeline"] == "states.amazonaws.com"
    lambdas = [n for n, s in services.items() if s == "lambda.amazonaws.com"]
    assert len(lambdas) == 9


def role_policy(run: ProgramRun, role_name: str) -> dict[str, Any]:
    (pol,) = [r for r in run.of_type(ROLE_POLICY) if r.inputs["name"] == f"{role_name}-policy"]
    return json.loads(pol.inputs["policy"])


def test_state_machine_role_is_scoped_to_its_jobs_functions_and_topic(run: ProgramRun) -> None:
    doc = role_policy(run, f"ecomlake-{run.stack}-pipeline")
    by_sid = {s["Sid"]: s for s in statements(doc)}
    jobs = sorted(f"arn:aws:glue:us-east-1:{ACCOUNT}:job/{n}" for n in run.outputs["glueJobs"].values())
    assert as_list(by_sid["RunGlueJobs"]["Resource"]) == jobs
    assert by_sid["RunGlueJobs"]["Action"] == [
        "glue:BatchStopJobRun",
        "glue:GetJobRun",
        "glue:GetJobRuns",
        "glue:StartJobRun",
    ]
    fns = [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ecomlake-{run.stack}-{p}"
        for p in ("dashboard-refresh", "data-quality", "plan", "publish", "run-lock", "small-date")
    ]
    assert by_sid["InvokePipelineFunctions"]["Resource"] == [*fns, *(f"{f}:*" for f in fns)]
    assert by_sid["NotifyAlerts"]["Resource"] == run.outputs["alertsTopicArn"]
    assert by_sid["NotifyAlerts"]["Action"] == "sns:Publish"


def test_glue_role_reads_raw_and_writes_only_output_zones(run: ProgramRun) -> None:
    doc = role_policy(run, f"ecomlake-{run.stack}-glue-etl")
    writes = {r for s in statements(doc) if "s3:PutObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    expected = {
        f"arn:aws:s3:::{bucket_name(run, z)}/*" for z in (Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS)
    }
    expected.add(f"arn:aws:s3:::{bucket_name(run, Zone.ARTIFACTS)}/glue/tmp*")
    assert writes == expected
    raw_objects = f"arn:aws:s3:::{bucket_name(run, Zone.RAW)}/*"
    raw = [s for s in statements(doc) if raw_objects in as_list(s["Resource"])]
    assert [s["Action"] for s in raw] == [["s3:GetObject", "s3:GetObjectVersion"]]


# --------------------------------------------------------------------------- Glue


def test_glue_jobs(run: ProgramRun) -> None:
    jobs = {r.inputs["name"]: r.inputs for r in run.of_type("aws:glue/job:Job")}
    artifacts = bucket_name(run, Zone.ARTIFACTS)
    scripts = {r.inputs["key"]: r.inputs for r in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert len(jobs) == len(Job)
    for job in Job:
        j = jobs[f"ecomlake-{run.stack}-{slug(job)}"]
        assert j["glueVersion"] == "5.0"
        assert j["command"] == {
            "name": "glueetl",
            "pythonVersion": "3",
            "scriptLocation": f"s3://{artifacts}/glue/scripts/{job}.py",
        }
        script = scripts[f"glue/scripts/{job}.py"]
        assert script["bucket"] == artifacts
        assert Path(script["source"].path) == REPO_ROOT / "glue_jobs" / f"{job}.py"
        args = j["defaultArguments"]
        for arg, zone in (
            (JobArg.RAW_URI, Zone.RAW),
            (JobArg.PROCESSED_URI, Zone.PROCESSED),
            (JobArg.CURATED_URI, Zone.CURATED),
            (JobArg.QUARANTINE_URI, Zone.QUARANTINE),
            (JobArg.REPORTS_URI, Zone.REPORTS),
        ):
            assert args[f"--{arg}"] == f"s3://{bucket_name(run, zone)}"
        assert f"--{JobArg.DATES}" not in args  # every run passes its own dates ...
        assert f"--{JobArg.RUN_ID}" not in args  # ... and its run id (the execution name)
        assert args["--job-bookmark-option"] == "job-bookmark-disable"
        assert args["--extra-py-files"] == f"s3://{artifacts}/glue/libs/ecomlake.zip"
        # Glue 5.0 logging: one prefix for the job's error and output groups; the Glue 4.0
        # continuous-logging switches are gone (5.0 always logs in real time).
        assert args["--custom-logGroup-prefix"] == f"/aws-glue/jobs/ecomlake-{run.stack}-etl"
        assert "--enable-continuous-cloudwatch-log" not in args
        assert "--continuous-log-logGroup" not in args
        audit = job is Job.DATA_QUALITY
        prefix = "dqGlue" if audit else "glue"
        assert j["workerType"] == cfg(run, f"{prefix}WorkerType")
        assert j["numberOfWorkers"] == int(cfg(run, f"{prefix}NumberOfWorkers"))
        assert j["timeout"] == int(cfg(run, f"{prefix}TimeoutMinutes"))
        # Glue times a run out before the state does (ETL 3600 s, audit 1800 s), so the TaskFailed retry applies.
        assert j["timeout"] * 60 < (1800 if audit else 3600)
        assert j["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/ecomlake-{run.stack}-{'glue-dq' if audit else 'glue-etl'}"
        assert (f"--{JobArg.DQ_THRESHOLDS}" in args) is audit
        assert j["maxRetries"] == 0
        assert j["jobRunQueuingEnabled"] is True
        assert j["securityConfiguration"] == f"ecomlake-{run.stack}-etl-security"
    package = scripts["glue/libs/ecomlake.zip"]
    assert package["bucket"] == artifacts
    assert Path(package["source"].path).name == "ecomlake-glue.zip"


DEFAULT_DQ_THRESHOLDS = (
    '{"orphan_critical_above": 0.05, "orphan_warning_above": 0.0, "quarantine_critical_above": 0.2, '
    '"quarantine_warning_above": 0.05, "volume_critical_below": 0.1, "volume_warning_below": 0.5}'
)


def glue_job(run: ProgramRun, job: Job) -> dict[str, Any]:
    return run.one("aws:glue/job:Job", f"etl-{slug(job)}").inputs


def test_the_audit_job_has_its_own_small_capacity_timeout_and_thresholds(run: ProgramRun) -> None:
    audit = glue_job(run, Job.DATA_QUALITY)
    # 2 x G.1X in both stacks: a daily audit is ~35 small queries, priced by Glue's 1-minute minimum.
    assert (audit["workerType"], audit["numberOfWorkers"], audit["timeout"]) == ("G.1X", 2, 25)
    assert audit["defaultArguments"]["--dq_thresholds"] == DEFAULT_DQ_THRESHOLDS
    assert audit["executionProperty"] == {"maxConcurrentRuns": int(cfg(run, "glueMaxConcurrentRuns"))}
    assert audit["securityConfiguration"] == f"ecomlake-{run.stack}-etl-security"
    etl = glue_job(run, Job.MASTER_DATA_MERGE)
    assert (etl["workerType"], etl["numberOfWorkers"], etl["timeout"]) == {
        "dev": ("G.1X", 2, 30),
        "prod": ("G.2X", 10, 55),
    }[run.stack]
    # Glue 5.0 has neither DuckDB, which an ETL job validates an unreported raw file with, nor
    # sqlglot, which the audit's Spark engine transpiles the rules with: pip installs them at
    # the project's pins (tests/unit/glue_support.py runs the jobs without the others).
    assert audit["defaultArguments"]["--additional-python-modules"] == "sqlglot==30.29.0"
    for job in (j for j in Job if j is not Job.DATA_QUALITY):
        assert glue_job(run, job)["defaultArguments"]["--additional-python-modules"] == "duckdb==2.0.1"
    # Everything else the ETL jobs get, the audit gets too (zones, code, temp dir, log groups).
    own = {"--dq_thresholds", "--additional-python-modules"}
    assert {k: v for k, v in audit["defaultArguments"].items() if k not in own} == {
        k: v for k, v in etl["defaultArguments"].items() if k not in own
    }


def test_dq_thresholds_from_the_stack_reach_the_audit_job(layers_dir: Path) -> None:
    stricter = run_program("dev", layers_dir, overrides={"ecomlake:dqThresholds": '{"quarantine_critical_above": 0.1}'})
    assert json.loads(glue_job(stricter, Job.DATA_QUALITY)["defaultArguments"]["--dq_thresholds"]) == {
        "quarantine_warning_above": 0.05,
        "quarantine_critical_above": 0.1,
        "orphan_warning_above": 0.0,
        "orphan_critical_above": 0.05,
        "volume_warning_below": 0.5,
        "volume_critical_below": 0.1,
    }


def test_the_audit_job_role_reads_the_tables_and_writes_only_its_verdict(run: ProgramRun) -> None:
    """glue_jobs/data_quality.py: no raw, no write to a data bucket; reports and verdict under _runs/."""
    doc = role_policy(run, f"ecomlake-{run.stack}-glue-dq")
    processed, curated, quarantine, reports, artifacts = (
        f"arn:aws:s3:::{bucket_name(run, z)}"
        for z in (Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS, Zone.ARTIFACTS)
    )
    logs = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws-glue/jobs/ecomlake-{run.stack}-etl"
    read, listing = ["s3:GetObject", "s3:GetObjectVersion"], ["s3:GetBucketLocation", "s3:ListBucket"]
    expected = {}
    for i, bucket in enumerate((processed, curated, quarantine)):
        expected[f"ReadTables{i}Objects"] = {"Action": read, "Resource": f"{bucket}/*"}
        expected[f"ReadTables{i}List"] = {"Action": listing, "Resource": bucket}
    expected |= {
        "ReadRunRecords": {
            "Action": read,
            "Resource": [f"{reports}/_catalog*", f"{reports}/_runs*", f"{reports}/_reports/validation*"],
        },
        "WriteAuditResults": {
            "Action": ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"],
            "Resource": [f"{reports}/_runs/*/dq/*", f"{reports}/_runs/*/audit.json"],
        },
        "ListReportsBucket": {"Action": listing, "Resource": reports},
        "ReadCodeObjects": {"Action": read, "Resource": [f"{artifacts}/glue/scripts*", f"{artifacts}/glue/libs*"]},
        "ReadCodeList": {
            "Action": "s3:ListBucket",
            "Resource": artifacts,
            "Condition": {"StringLike": {"s3:prefix": ["glue/libs*", "glue/scripts*"]}},
        },
        "TempDirObjects": {
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            "Resource": f"{artifacts}/glue/tmp*",
        },
        "TempDirList": {
            "Action": "s3:ListBucket",
            "Resource": artifacts,
            "Condition": {"StringLike": {"s3:prefix": ["glue/tmp*"]}},
        },
        "UseLakeKey": {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": run.outputs["kmsKeyArn"]},
        "GlueLogGroups": {"Action": "logs:CreateLogGroup", "Resource": [f"{logs}/error", f"{logs}/output"]},
        "GlueLogStreams": {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{logs}/error:log-stream:*", f"{logs}/output:log-stream:*"],
        },
        "PublishMetrics": {
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": ["Glue"]}},
        },
    }
    found = {st["Sid"]: {k: v for k, v in st.items() if k not in ("Sid", "Effect")} for st in statements(doc)}
    assert found == expected
    assert all(st["Effect"] == "Allow" for st in statements(doc))
    raw = bucket_name(run, Zone.RAW)
    assert raw not in json.dumps(doc)


def test_glue_security_configuration_uses_the_lake_key(run: ProgramRun) -> None:
    (sec,) = run.of_type("aws:glue/securityConfiguration:SecurityConfiguration")
    enc = sec.inputs["encryptionConfiguration"]
    key = run.outputs["kmsKeyArn"]
    assert enc["s3Encryption"] == {"s3EncryptionMode": "SSE-KMS", "kmsKeyArn": key}
    # Off on purpose: with it Glue renames the log group (role + configuration) and bypasses
    # the encrypted, retention-bound groups below, which carry the lake key themselves.
    assert enc["cloudwatchEncryption"] == {"cloudwatchEncryptionMode": "DISABLED"}
    assert enc["jobBookmarksEncryption"] == {"jobBookmarksEncryptionMode": "CSE-KMS", "kmsKeyArn": key}


def test_glue_logs_land_in_encrypted_retained_groups_the_role_may_write(run: ProgramRun) -> None:
    prefix = f"/aws-glue/jobs/ecomlake-{run.stack}-etl"
    groups = {g.inputs["name"]: g.inputs for g in run.of_type(LOG_GROUP) if g.inputs["name"].startswith("/aws-glue/")}
    assert sorted(groups) == [f"{prefix}/error", f"{prefix}/output"]
    for group in groups.values():
        assert group["kmsKeyId"] == run.outputs["kmsKeyArn"]
        assert group["retentionInDays"] == int(cfg(run, "logRetentionDays"))
    doc = role_policy(run, f"ecomlake-{run.stack}-glue-etl")
    by_sid = {s["Sid"]: s for s in statements(doc)}
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{prefix}"
    assert by_sid["GlueLogGroups"] == {
        "Sid": "GlueLogGroups",
        "Effect": "Allow",
        "Action": "logs:CreateLogGroup",
        "Resource": [f"{arn}/error", f"{arn}/output"],
    }
    assert by_sid["GlueLogStreams"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert by_sid["GlueLogStreams"]["Resource"] == [f"{arn}/error:log-stream:*", f"{arn}/output:log-stream:*"]
    # No other statement of the role touches CloudWatch Logs (no /aws-glue/* wildcard left).
    logs = [s["Sid"] for s in statements(doc) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert sorted(logs) == ["GlueLogGroups", "GlueLogStreams"]


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


# --------------------------------------------------------------------------- orchestration


def test_state_machine_definition_is_the_generated_asl(run: ProgramRun) -> None:
    (sm,) = run.of_type("aws:sfn/stateMachine:StateMachine")
    fn_arn = {
        PipelineFunction.RUN_LOCK: function(run, "run-lock").state["arn"],
        PipelineFunction.PLAN: function(run, "plan").state["arn"],
        PipelineFunction.SMALL_DATE: function(run, "small-date").state["arn"],
        PipelineFunction.DATA_QUALITY: function(run, "data-quality").state["arn"],
        PipelineFunction.PUBLISH: function(run, "publish").state["arn"],
        PipelineFunction.DASHBOARD_REFRESH: function(run, "refresh").state["arn"],
    }
    expected = asl.definition(
        asl.PipelineResources(
            glue_jobs={j: run.outputs["glueJobs"][str(j)] for j in PIPELINE.glue_jobs},
            functions={f: fn_arn[f] for f in PIPELINE.functions},
            alerts_topic_arn=run.outputs["alertsTopicArn"],
            stage=run.stack,
            settings={Setting.SMALL_DATE_MAX_BYTES: int(cfg(run, "smallDateMaxBytes"))},
        )
    )
    assert json.loads(sm.inputs["definition"]) == expected
    # The stack's threshold, written into the Choice as a literal.
    (rule,) = expected["States"]["small_enough"]["Choices"]
    assert rule["And"][2] == {
        "Variable": "$.plan.payload.staged_bytes",
        "NumericLessThanEquals": {"dev": 268435456, "prod": 1073741824}[run.stack],
    }
    assert sm.inputs["type"] == "STANDARD"
    assert sm.inputs["tracingConfiguration"] == {"enabled": True}
    logging = sm.inputs["loggingConfiguration"]
    assert logging["level"] == cfg(run, "stateMachineLogLevel")
    group = run.one(LOG_GROUP, "orchestration-pipeline-logs")
    assert logging["logDestination"] == group.state["arn"] + ":*"
    assert group.inputs["name"].startswith("/aws/vendedlogs/states/")


def test_eventbridge_rules_route_raw_files(run: ProgramRun) -> None:
    rules = {r.name: r.inputs for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    raw = json.loads(rules["orchestration-raw-object-created"]["eventPattern"])
    assert raw == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name(run, Zone.RAW)]}, "object": {"key": [{"prefix": "raw/"}]}},
    }
    accepted = json.loads(rules["orchestration-raw-file-accepted"]["eventPattern"])
    assert accepted == {"source": [EVENT_SOURCE], "detail-type": [EVENT_FILE_ACCEPTED]}
    targets = {r.inputs["rule"]: r.inputs for r in run.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert targets[rules["orchestration-raw-object-created"]["name"]]["arn"] == function(run, "validator").state["arn"]
    assert targets[rules["orchestration-raw-file-accepted"]["name"]]["arn"] == function(run, "router").state["arn"]
    perms = [
        p.inputs
        for p in run.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "events.amazonaws.com"
    ]
    assert sorted(p["function"] for p in perms) == [f"ecomlake-{run.stack}-router", f"ecomlake-{run.stack}-validator"]


ROLE_BASE_SIDS = {"WriteOwnLogs", "SendToOwnDeadLetterQueue", "XRayTraces"}  # every function's own


def own_statements(run: ProgramRun, purpose: str) -> dict[str, dict[str, Any]]:
    """A function role's statements beyond the ones every function gets, by Sid."""
    doc = role_policy(run, f"ecomlake-{run.stack}-{purpose}")
    by_sid = {st["Sid"]: st for st in statements(doc)}
    assert set(by_sid) >= ROLE_BASE_SIDS
    return {sid: st for sid, st in by_sid.items() if sid not in ROLE_BASE_SIDS}


def test_router_role_is_exactly_what_the_handler_needs(run: ProgramRun) -> None:
    """handlers/file_router.py: start + describe executions, list raw/reports, read reports, decrypt."""
    machine = f"ecomlake-{run.stack}-pipeline"
    raw, reports = (f"arn:aws:s3:::{bucket_name(run, z)}" for z in (Zone.RAW, Zone.REPORTS))
    assert own_statements(run, "router") == {
        "StartPipeline": {
            "Sid": "StartPipeline",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": run.outputs["stateMachineArn"],
        },
        "DescribePipelineExecutions": {
            "Sid": "DescribePipelineExecutions",
            "Effect": "Allow",
            "Action": "states:DescribeExecution",
            "Resource": [
                f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:*",
                f"arn:aws:states:us-east-1:{ACCOUNT}:express:{machine}:*:*",
            ],
        },
        "ListRawPartitions": {
            "Sid": "ListRawPartitions",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": raw,
            "Condition": {"StringLike": {"s3:prefix": ["raw/*"]}},
        },
        "ListReportsBucket": {
            "Sid": "ListReportsBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": reports,
        },
        "ReadValidationReports": {
            "Sid": "ReadValidationReports",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{reports}/_reports/validation/*",
        },
        "DecryptLakeKey": {
            "Sid": "DecryptLakeKey",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": run.outputs["kmsKeyArn"],
        },
    }
    # The execution ARNs are the ones the state machine really has.
    assert run.outputs["stateMachineArn"].endswith(f":stateMachine:{machine}")


def test_lock_table_is_encrypted_with_the_lake_key_and_kept_in_prod(run: ProgramRun) -> None:
    (table,) = run.of_type("aws:dynamodb/table:Table")
    prod = run.stack == "prod"
    assert table.inputs["name"] == f"ecomlake-{run.stack}-run-lock"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "lake"
    assert table.inputs["attributes"] == [{"name": "lake", "type": "S"}]
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": run.outputs["kmsKeyArn"]}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": prod}
    assert table.inputs["deletionProtectionEnabled"] is prod
    assert (table.protect, table.retain_on_delete) == ((True, True) if prod else (False, False))


def test_run_lock_role_is_exactly_what_the_handler_needs(run: ProgramRun) -> None:
    """handlers/run_lock.py: the lease item, the holder's execution, the table's key through DynamoDB only."""
    machine = f"ecomlake-{run.stack}-pipeline"
    assert own_statements(run, "run-lock") == {
        "LockItem": {
            "Sid": "LockItem",
            "Effect": "Allow",
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"],
            "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ecomlake-{run.stack}-run-lock",
        },
        "DescribeHolderExecution": {
            "Sid": "DescribeHolderExecution",
            "Effect": "Allow",
            "Action": "states:DescribeExecution",
            "Resource": [
                f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:*",
                f"arn:aws:states:us-east-1:{ACCOUNT}:express:{machine}:*:*",
            ],
        },
        "LockTableKey": {
            "Sid": "LockTableKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": run.outputs["kmsKeyArn"],
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        },
    }
    env = function(run, "run-lock").inputs["environment"]["variables"]
    assert env[EnvVar.LOCK_TABLE] == f"ecomlake-{run.stack}-run-lock"
    assert env[EnvVar.STAGE] == run.stack  # the lease item's key


def test_the_audit_gate_role_reads_run_records_and_warns_and_nothing_else(run: ProgramRun) -> None:
    """handlers/data_quality.py reads the verdict and reports, publishes one warning message, writes EMF logs."""
    reports = f"arn:aws:s3:::{bucket_name(run, Zone.REPORTS)}"
    key, topic = run.outputs["kmsKeyArn"], run.outputs["alertsTopicArn"]
    assert own_statements(run, "data-quality") == {
        "ReadRunRecords": {
            "Sid": "ReadRunRecords",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{reports}/_runs*",
        },
        # Unconditioned: a verdict not written yet must read as absent (404), not denied.
        "ListReportsBucket": {
            "Sid": "ListReportsBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": reports,
        },
        "WarnAlerts": {"Sid": "WarnAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
        "DecryptLakeObjects": {
            "Sid": "DecryptLakeObjects",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
        },
        # Data keys only for the alerts topic (SNS names it in the encryption context).
        "EncryptForAlertsTopic": {
            "Sid": "EncryptForAlertsTopic",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": key,
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic}},
        },
    }
    base = {st["Sid"]: st for st in statements(role_policy(run, f"ecomlake-{run.stack}-data-quality"))}
    # Its metrics are EMF lines in its own log group: logs, its DLQ and X-Ray are all it has beyond that.
    assert base["WriteOwnLogs"]["Resource"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/ecomlake-{run.stack}-data-quality:log-stream:*"
    )


def test_the_small_date_function_is_sized_for_the_stack_threshold(run: ProgramRun) -> None:
    """Memory 4 MB per MB staged (at least 2048), /tmp twice the threshold plus 512 MB for DuckDB's spill."""
    fn = function(run, "small-date").inputs
    assert int(cfg(run, "smallDateMaxBytes")) == {"dev": 256, "prod": 1024}[run.stack] * 1024 * 1024
    assert (fn["memorySize"], fn["ephemeralStorage"]) == {
        "dev": (2048, {"size": 1024}),
        "prod": (4096, {"size": 2560}),
    }[run.stack]
    # DuckDB's cap is 70 % of the function's memory: it spills to /tmp before Lambda kills it.
    assert fn["environment"]["variables"][EnvVar.DUCKDB_MEMORY_LIMIT] == {"dev": "1433MB", "prod": "2867MB"}[run.stack]
    assert fn["environment"]["variables"][EnvVar.DQ_THRESHOLDS] == DEFAULT_DQ_THRESHOLDS
    # Every other function keeps Lambda's default /tmp.
    assert function(run, "plan").inputs["ephemeralStorage"] == {"size": 512}


def test_the_small_date_role_stages_and_uploads_one_run_and_nothing_else(run: ProgramRun) -> None:
    """handlers/small_date.py: read raw and published versions, write the run's versions and records."""
    raw, processed, curated, quarantine, reports = (
        f"arn:aws:s3:::{bucket_name(run, z)}"
        for z in (Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS)
    )
    read = ["s3:GetObject", "s3:GetObjectVersion"]
    write = ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"]
    expected: dict[str, Any] = {
        "ReadRawObjects": {"Action": read, "Resource": f"{raw}/raw*"},
        "ListRawPartitions": {
            "Action": "s3:ListBucket",
            "Resource": raw,
            "Condition": {"StringLike": {"s3:prefix": ["raw/*"]}},
        },
        "ReadRunRecords": {
            "Action": read,
            "Resource": [f"{reports}/_catalog*", f"{reports}/_runs*", f"{reports}/_reports/validation*"],
        },
        "WriteRunRecords": {"Action": write, "Resource": [f"{reports}/_runs*", f"{reports}/_reports/validation*"]},
        "ListReportsBucket": {"Action": "s3:ListBucket", "Resource": reports},
        "UseLakeKey": {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": run.outputs["kmsKeyArn"]},
    }
    for i, (bucket, zone) in enumerate(((processed, "processed"), (curated, "curated"), (quarantine, "quarantine"))):
        expected[f"TableVersions{i}Objects"] = {
            "Action": sorted([*read, *write, "s3:DeleteObject"]),
            "Resource": f"{bucket}/{zone}*",
        }
        expected[f"TableVersions{i}List"] = {
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": [f"{zone}*"]}},
        }
    found = {
        sid: {k: v for k, v in st.items() if k not in ("Sid", "Effect")}
        for sid, st in own_statements(run, "small-date").items()
    }
    assert found == expected


@pytest.mark.parametrize("purpose", ["plan", "publish"])
def test_plan_and_publish_roles_are_exactly_what_the_run_steps_need(run: ProgramRun, purpose: str) -> None:
    """ecomlake.runs.cloud_steps: list raw, check / collect versions, the snapshot and run folders, the catalog."""
    raw, processed, curated, quarantine, reports = (
        f"arn:aws:s3:::{bucket_name(run, z)}"
        for z in (Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS)
    )
    glue = f"arn:aws:glue:us-east-1:{ACCOUNT}"
    database = glue_database(run.stack)
    expected = {
        "ListRawPartitions": {
            "Sid": "ListRawPartitions",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": raw,
            "Condition": {"StringLike": {"s3:prefix": ["raw/*"]}},
        },
        "RunRecordsObjects": {
            "Sid": "RunRecordsObjects",
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            "Resource": [f"{reports}/_catalog*", f"{reports}/_runs*", f"{reports}/_reports/dq*"],
        },
        # Unconditioned: HeadObject of a key not written yet (the first snapshot) is 404 only with it.
        "RunRecordsList": {
            "Sid": "RunRecordsList",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": reports,
        },
        "SwitchCatalog": {
            "Sid": "SwitchCatalog",
            "Effect": "Allow",
            "Action": [
                "glue:BatchCreatePartition",
                "glue:BatchDeletePartition",
                "glue:BatchUpdatePartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
                "glue:UpdateTable",
            ],
            "Resource": [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"],
        },
        "UseLakeKey": {
            "Sid": "UseLakeKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": run.outputs["kmsKeyArn"],
        },
    }
    for i, (bucket, zone) in enumerate(((processed, "processed"), (curated, "curated"), (quarantine, "quarantine"))):
        expected[f"TableVersions{i}Objects"] = {
            "Sid": f"TableVersions{i}Objects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket}/{zone}*",
        }
        expected[f"TableVersions{i}List"] = {
            "Sid": f"TableVersions{i}List",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": [f"{zone}*"]}},
        }
    assert own_statements(run, purpose) == expected


def test_pipeline_functions_time_out_inside_their_states(run: ProgramRun) -> None:
    stack_timeout = int(cfg(run, "lambdaTimeoutSeconds"))
    purposes = ("run-lock", "plan", "small-date", "publish", "data-quality", "refresh")
    timeouts = {p: function(run, p).inputs["timeout"] for p in purposes}
    # State TimeoutSeconds: lock 60, plan 120, small date 900, publish 300, audit gate 120, refresh 300
    # (ecomlake/pipeline.py). The small date's is Lambda's maximum, whatever the stack's default.
    assert timeouts == {
        "run-lock": 55,
        "plan": 115,
        "small-date": 895,
        "publish": 295,
        "data-quality": 115,
        "refresh": 295,
    }
    assert function(run, "router").inputs["timeout"] == stack_timeout


def test_router_environment(run: ProgramRun) -> None:
    env = function(run, "router").inputs["environment"]["variables"]
    assert env[EnvVar.STATE_MACHINE_ARN] == run.outputs["stateMachineArn"]
    assert env[EnvVar.REPORTS_BUCKET] == bucket_name(run, Zone.REPORTS)
    assert env[EnvVar.RAW_BUCKET] == bucket_name(run, Zone.RAW)
    # Neither stack file sets requiredDatasets: the router requires every dataset.
    assert "ecomlake:requiredDatasets" not in run.config
    assert EnvVar.REQUIRED_DATASETS not in env


def test_required_datasets_setting_reaches_the_router(layers_dir: Path) -> None:
    run = run_program("dev", layers_dir, overrides={"ecomlake:requiredDatasets": " reviews,transactions "})
    env = function(run, "router").inputs["environment"]["variables"]
    # Normalised to contract order, so the router parses it as the stack meant.
    assert env[EnvVar.REQUIRED_DATASETS] == "transactions,reviews"
    assert [d for d in DATASETS if d in env[EnvVar.REQUIRED_DATASETS].split(",")] == ["transactions", "reviews"]
    for purpose in ("validator", "data-quality"):
        assert EnvVar.REQUIRED_DATASETS not in function(run, purpose).inputs["environment"]["variables"]


def test_validator_role_and_environment(run: ProgramRun) -> None:
    """handlers/file_validator.py as docs/ingestion.md wires it."""
    own = own_statements(run, "validator")
    assert own["AnnounceFiles"] == {
        "Sid": "AnnounceFiles",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default",
    }
    raw, quarantine, reports = (
        f"arn:aws:s3:::{bucket_name(run, z)}" for z in (Zone.RAW, Zone.QUARANTINE, Zone.REPORTS)
    )
    assert own["ReadRawObjects"]["Resource"] == f"{raw}/*"
    assert own["ReadRawObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert own["ReadRawList"]["Resource"] == raw  # re-validating a partition lists it
    assert "s3:PutObject" in own["QuarantineObjects"]["Action"]
    assert own["QuarantineObjects"]["Resource"] == f"{quarantine}/quarantine*"
    assert "s3:PutObject" in own["ValidationReportsObjects"]["Action"]
    assert own["ValidationReportsObjects"]["Resource"] == f"{reports}/_reports/validation*"
    # Copying a file between SSE-KMS buckets decrypts the source and encrypts the copy.
    assert own["UseLakeKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert own["UseLakeKey"]["Resource"] == run.outputs["kmsKeyArn"]
    env = function(run, "validator").inputs["environment"]["variables"]
    for zone in (Zone.RAW, Zone.QUARANTINE, Zone.REPORTS):
        assert env[ZONE_BUCKET_ENV[zone]] == bucket_name(run, zone)
    assert env[EnvVar.MAX_FILE_BYTES] == cfg(run, "maxFileBytes")


def rule_named(run: ProgramRun, logical: str) -> Any:
    return run.one("aws:cloudwatch/eventRule:EventRule", logical)


def test_rejected_files_alert_the_topic(run: ProgramRun) -> None:
    rule = rule_named(run, "orchestration-raw-file-rejected")
    assert rule.inputs["name"] == f"ecomlake-{run.stack}-raw-file-rejected"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": [EVENT_SOURCE],
        "detail-type": [EVENT_FILE_REJECTED],
    }
    (target,) = [
        t.inputs
        for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["rule"] == rule.inputs["name"]
    ]
    assert target["arn"] == run.outputs["alertsTopicArn"]
    assert "roleArn" not in target  # SNS admits the rule through its topic policy
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 86400, "maximumRetryAttempts": 185}
    (dlq,) = [q for q in run.of_type("aws:sqs/queue:Queue") if q.inputs["name"] == f"ecomlake-{run.stack}-events-dlq"]
    assert target["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    transformer = target["inputTransformer"]
    assert transformer["inputPaths"] == {
        "time": "$.time",
        "bucket": "$.detail.bucket.name",
        "key": "$.detail.object.key",
        "dataset": "$.detail.dataset",
        "date": "$.detail.date",
        "rule": "$.detail.rejection.rule",
        "detail": "$.detail.rejection.detail",
        "quarantine": "$.detail.quarantine_key",
        "report": "$.detail.report_key",
    }
    lines = transformer["inputTemplate"].split("\n")
    assert all(line.startswith('"') and line.endswith('"') and line.count('"') == 2 for line in lines)
    text = "\n".join(line[1:-1] for line in lines)
    assert text.startswith(f"ecomlake {run.stack}: a raw file was rejected.")
    assert "File: s3://<bucket>/<key>" in text
    assert "Dataset: <dataset>, business date: <date>" in text
    assert "Rule: <rule>" in text
    assert "Detail: <detail>" in text
    assert f"Quarantined copy: s3://{bucket_name(run, Zone.QUARANTINE)}/<quarantine>" in text
    assert f"Validation report: s3://{bucket_name(run, Zone.REPORTS)}/<report>" in text
    # Every placeholder is a defined variable.
    assert set(re.findall(r"<([a-z_]+)>", text)) == set(transformer["inputPaths"])


def test_rejected_alert_paths_exist_in_the_validators_event() -> None:
    """The transformer's JSON paths resolve, in a real "Raw File Rejected" entry, to the report's values."""
    report = ValidationReport(
        key="raw/reviews/date=2025-01-15/reviews.csv",
        file="reviews.csv",
        dataset="reviews",
        date="2025-01-15",
        size=34,
        etag="b1946ac92492d2347c6235b4d2611184",
        report_key="_reports/validation/reviews/date=2025-01-15/reviews.csv.json",
        quarantine_key="quarantine/reviews/date=2025-01-15/reviews.csv",
    )
    report.reject(Rejection("missing_columns", "the header lacks required columns product_id", 1, "product_id"))
    entry = file_event(report, "ecomlake-dev-raw-123456789012-us-east-1")
    assert (entry["Source"], entry["DetailType"]) == (EVENT_SOURCE, EVENT_FILE_REJECTED)
    # What EventBridge delivers: the envelope, with the entry's Detail as "detail".
    event = {"time": "2025-01-15T06:00:02Z", "source": entry["Source"], "detail": json.loads(entry["Detail"])}

    def resolve(path: str) -> Any:
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        return value

    values = {name: resolve(path) for name, path in REJECTED_ALERT_PATHS.items()}
    assert values == {
        "time": "2025-01-15T06:00:02Z",
        "bucket": "ecomlake-dev-raw-123456789012-us-east-1",
        "key": "raw/reviews/date=2025-01-15/reviews.csv",
        "dataset": "reviews",
        "date": "2025-01-15",
        "rule": "missing_columns",
        "detail": "the header lacks required columns product_id",
        "quarantine": "quarantine/reviews/date=2025-01-15/reviews.csv",
        "report": "_reports/validation/reviews/date=2025-01-15/reviews.csv.json",
    }


def test_topic_policy_admits_exactly_the_rejected_files_rule(run: ProgramRun) -> None:
    (topic_policy,) = run.of_type("aws:sns/topicPolicy:TopicPolicy")
    by_sid = {st["Sid"]: st for st in statements(json.loads(topic_policy.inputs["policy"]))}
    rule = rule_named(run, "orchestration-raw-file-rejected")
    # The ARN the policy was written with (from the rule's name) is the rule's real ARN.
    assert by_sid["AllowEventRulePublishing"] == {
        "Sid": "AllowEventRulePublishing",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": run.outputs["alertsTopicArn"],
        "Condition": {"ArnEquals": {"aws:SourceArn": [rule.state["arn"]]}},
    }
    assert by_sid["AllowAlarmPublishing"]["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"
    assert set(by_sid) == {
        "AllowAlarmPublishing",
        "AllowEventRulePublishing",
        "AllowBudgetsPublishing",
        "DenyInsecureTransport",
    }
    # AWS Budgets may publish the budget alerts, for this account's budgets only.
    assert by_sid["AllowBudgetsPublishing"] == {
        "Sid": "AllowBudgetsPublishing",
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": run.outputs["alertsTopicArn"],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
        },
    }


def test_lake_key_lets_budgets_encrypt_for_this_account_only(run: ProgramRun) -> None:
    key = run.one("aws:kms/key:Key", "lake-key")
    by_sid = {st["Sid"]: st for st in statements(json.loads(key.inputs["policy"]))}
    assert by_sid["BudgetsPublishToEncryptedTopic"] == {
        "Sid": "BudgetsPublishToEncryptedTopic",
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
        },
    }


def test_lake_key_lets_eventbridge_encrypt_for_the_alerts_topic_only(run: ProgramRun) -> None:
    key = run.one("aws:kms/key:Key", "lake-key")
    by_sid = {st["Sid"]: st for st in statements(json.loads(key.inputs["policy"]))}
    (topic,) = run.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert by_sid["EventBridgePublishToEncryptedTopic"] == {
        "Sid": "EventBridgePublishToEncryptedTopic",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        # The ARN the key policy was written with is the topic's real ARN.
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic.state["arn"]}},
    }


def test_events_dead_letter_queue_admits_every_rule(run: ProgramRun) -> None:
    (queue_policy,) = run.of_type("aws:sqs/queuePolicy:QueuePolicy")
    allow = statements(json.loads(queue_policy.inputs["policy"]))[0]
    rules = sorted(r.state["arn"] for r in run.of_type("aws:cloudwatch/eventRule:EventRule"))
    assert len(rules) == 3
    assert set(allow["Condition"]) == {"ArnEquals"}
    assert sorted(allow["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules


# --------------------------------------------------------------------------- Lambda


@pytest.mark.parametrize(
    ("purpose", "handler", "specific"),
    [
        ("validator", "handlers.file_validator.handler", {EnvVar.MAX_FILE_BYTES}),
        (
            "router",
            "handlers.file_router.handler",
            {EnvVar.STATE_MACHINE_ARN, EnvVar.REPORTS_BUCKET, EnvVar.RAW_BUCKET},
        ),
        ("data-quality", "handlers.data_quality.handler", {EnvVar.ALERTS_TOPIC_ARN}),
        ("small-date", "handlers.small_date.handler", {EnvVar.DQ_THRESHOLDS, EnvVar.DUCKDB_MEMORY_LIMIT}),
        ("run-lock", "handlers.run_lock.handler", {EnvVar.LOCK_TABLE}),
        ("plan", "handlers.plan.handler", set()),
        ("publish", "handlers.publish.handler", set()),
        ("api", "handlers.api.handler", {EnvVar.ATHENA_WORKGROUP}),
        ("refresh", "handlers.dashboard_refresh.handler", {EnvVar.ATHENA_WORKGROUP, EnvVar.DASHBOARD_BUCKET}),
    ],
)
def test_lambda_functions(run: ProgramRun, purpose: str, handler: str, specific: set[EnvVar]) -> None:
    fn = function(run, purpose).inputs
    assert fn["handler"] == handler
    assert (REPO_ROOT / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")).is_file()
    env = fn["environment"]["variables"]
    # Every variable is one the contract names, and every zone's bucket is there.
    assert set(env) <= {str(v) for v in EnvVar}
    for zone, var in ZONE_BUCKET_ENV.items():
        assert env[str(var)] == bucket_name(run, Zone.REPORTS if zone in (Zone.RUNS, Zone.CATALOG) else zone)
    assert env[EnvVar.STAGE] == run.stack
    assert env[EnvVar.GLUE_DATABASE] == glue_database(run.stack)
    assert specific <= set(env)
    values = {
        EnvVar.STATE_MACHINE_ARN: run.outputs["stateMachineArn"],
        EnvVar.ALERTS_TOPIC_ARN: run.outputs["alertsTopicArn"],
        EnvVar.ATHENA_WORKGROUP: run.outputs["athenaWorkgroup"],
        EnvVar.DASHBOARD_BUCKET: run.outputs["dashboardBucket"],
        EnvVar.MAX_FILE_BYTES: cfg(run, "maxFileBytes"),
        EnvVar.REPORTS_BUCKET: bucket_name(run, Zone.REPORTS),
        EnvVar.RAW_BUCKET: bucket_name(run, Zone.RAW),
        EnvVar.LOCK_TABLE: run.outputs["lockTable"],
        EnvVar.DQ_THRESHOLDS: DEFAULT_DQ_THRESHOLDS,
        EnvVar.DUCKDB_MEMORY_LIMIT: {"dev": "1433MB", "prod": "2867MB"}[run.stack],
    }
    for var in specific:
        assert env[var] == values[var]
    assert env[EnvVar.SERVICE_NAME] == fn["name"]
    assert fn["tracingConfig"] == {"mode": "Active"}
    assert fn["deadLetterConfig"]["targetArn"].endswith(f":{fn['name']}-dlq")
    assert fn["loggingConfig"]["logGroup"] == f"/aws/lambda/{fn['name']}"
    # DuckDB 2.x needs Amazon Linux 2023's glibc: only the small-date function runs python3.12.
    assert fn["runtime"] == ("python3.12" if purpose == "small-date" else "python3.11")
    archive = fn["code"].assets
    assert {"handlers/file_validator.py", "ecomlake/contract.py", "sql/daily_kpis.sql"} <= set(archive)
    assert not any("__pycache__" in k for k in archive)
    # The SQL the code renders ships with it, where the function's SQL cache points.
    assert env[EnvVar.SQL_CACHE] == "/var/task/sqlcache"
    rendered = {k.split("/")[2] for k in archive if k.startswith("sqlcache/")}
    assert {"etl-statements-transactions.json", "planned-merge-incremental-fact_sales.json"} <= rendered
    assert {k.split("/")[1] for k in archive if k.startswith("sqlcache/")} == {sqlcache.fingerprint()}


@pytest.mark.parametrize(
    ("purpose", "zones"),
    [
        ("validator", {Zone.RAW, Zone.QUARANTINE, Zone.REPORTS}),
        ("router", {Zone.RAW, Zone.REPORTS}),
        ("data-quality", {Zone.REPORTS}),
        ("small-date", {Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS}),
        ("run-lock", set()),
        ("plan", {Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS}),
        ("publish", {Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS}),
        ("api", {Zone.PROCESSED, Zone.CURATED, Zone.REPORTS, Zone.ATHENA_RESULTS}),
        ("dashboard-refresh", {Zone.PROCESSED, Zone.CURATED, Zone.REPORTS, Zone.ATHENA_RESULTS, "site"}),
    ],
)
def test_function_roles_touch_only_their_buckets(run: ProgramRun, purpose: str, zones: set[Any]) -> None:
    doc = role_policy(run, f"ecomlake-{run.stack}-{purpose}")
    names = {bucket_name(run, z) if z != "site" else run.outputs["dashboardBucket"] for z in zones}
    touched = {
        r.split(":::", 1)[1].split("/", 1)[0]
        for st in statements(doc)
        for r in as_list(st["Resource"])
        if r.startswith("arn:aws:s3:::")
    }
    assert touched == names
    # Writes: only where the handler writes.
    writes = {
        r.split(":::", 1)[1]
        for st in statements(doc)
        if "s3:PutObject" in as_list(st["Action"])
        for r in as_list(st["Resource"])
    }
    expected_writes = {
        "validator": {
            f"{bucket_name(run, Zone.QUARANTINE)}/quarantine*",
            f"{bucket_name(run, Zone.REPORTS)}/_reports/validation*",
        },
        "router": set(),
        "data-quality": set(),
        # The run's versions in the table zones, its records and (for a file landed without one)
        # a validation report; never raw.
        "small-date": {
            f"{bucket_name(run, Zone.PROCESSED)}/processed*",
            f"{bucket_name(run, Zone.CURATED)}/curated*",
            f"{bucket_name(run, Zone.QUARANTINE)}/quarantine*",
            f"{bucket_name(run, Zone.REPORTS)}/_runs*",
            f"{bucket_name(run, Zone.REPORTS)}/_reports/validation*",
        },
        "run-lock": set(),
        # The snapshot, the run folders and the published DQ reports; table versions are only deleted.
        "plan": {f"{bucket_name(run, Zone.REPORTS)}/{p}*" for p in ("_catalog", "_runs", "_reports/dq")},
        "publish": {f"{bucket_name(run, Zone.REPORTS)}/{p}*" for p in ("_catalog", "_runs", "_reports/dq")},
        "api": {f"{bucket_name(run, Zone.ATHENA_RESULTS)}/athena-results*"},
        "dashboard-refresh": {
            f"{bucket_name(run, Zone.ATHENA_RESULTS)}/athena-results*",
            f"{run.outputs['dashboardBucket']}/data*",
        },
    }[purpose]
    assert writes == expected_writes


POWERTOOLS_311 = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"
POWERTOOLS_312 = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"


def test_function_layers(run: ProgramRun) -> None:
    # Every function runs with the AWS-managed Powertools layer of its runtime, last.
    # The audit gate reads a verdict: no engine, no dependency layer.
    assert function(run, "data-quality").inputs["layers"] == [POWERTOOLS_311]
    # The small-date function carries the DuckDB engine of the ETL (python3.12, Amazon Linux 2023).
    assert function(run, "small-date").inputs["layers"] == [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:ecomlake-{run.stack}-duckdb-etl:1",
        POWERTOOLS_312,
    ]
    (layer,) = [r for r in run.of_type("aws:lambda/layerVersion:LayerVersion") if "duckdb" in r.inputs["layerName"]]
    assert layer.inputs["compatibleRuntimes"] == ["python3.12"]
    assert layer.inputs["compatibleArchitectures"] == ["x86_64"]
    sqlglot = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:ecomlake-{run.stack}-sqlglot:1"
    assert function(run, "api").inputs["layers"] == [cfg(run, "pandasLayerArn"), sqlglot, POWERTOOLS_311]
    assert function(run, "refresh").inputs["layers"] == [cfg(run, "pandasLayerArn"), sqlglot, POWERTOOLS_311]
    assert function(run, "validator").inputs["layers"] == [POWERTOOLS_311]
    assert function(run, "router").inputs["layers"] == [POWERTOOLS_311]
    reserved = int(cfg(run, "validatorReservedConcurrency"))
    assert function(run, "validator").inputs["reservedConcurrentExecutions"] == reserved
    # The library comes from the layer: the code package never bundles it.
    archive = function(run, "validator").inputs["code"].assets
    assert "handlers/_powertools.py" in archive
    assert not any(name.startswith(("aws_lambda_powertools/", "aws_xray_sdk/")) for name in archive)


def test_metrics_are_emf_so_no_function_may_call_put_metric_data(run: ProgramRun) -> None:
    for purpose in (
        "validator",
        "router",
        "run-lock",
        "plan",
        "small-date",
        "data-quality",
        "publish",
        "api",
        "dashboard-refresh",
    ):
        doc = role_policy(run, f"ecomlake-{run.stack}-{purpose}")
        actions = {a for st in statements(doc) for a in as_list(st["Action"])}
        assert "cloudwatch:PutMetricData" not in actions, purpose


def test_log_groups_are_encrypted_and_retained(run: ProgramRun) -> None:
    groups = run.of_type(LOG_GROUP)
    assert len(groups) == 9 + 1 + 2  # functions + state machine + Glue (error, output)
    for g in groups:
        assert g.inputs["kmsKeyId"] == run.outputs["kmsKeyArn"]
        assert g.inputs["retentionInDays"] == int(cfg(run, "logRetentionDays"))


# --------------------------------------------------------------------------- analytics


def test_athena_workgroup_enforces_encrypted_results_and_a_cutoff(run: ProgramRun) -> None:
    (wg,) = run.of_type("aws:athena/workgroup:Workgroup")
    conf = wg.inputs["configuration"]
    assert conf["enforceWorkgroupConfiguration"] is True
    assert conf["bytesScannedCutoffPerQuery"] == int(cfg(run, "athenaBytesScannedCutoff"))
    assert (
        conf["resultConfiguration"]["outputLocation"] == f"s3://{bucket_name(run, Zone.ATHENA_RESULTS)}/athena-results/"
    )
    assert conf["resultConfiguration"]["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": run.outputs["kmsKeyArn"],
    }
    assert conf["engineVersion"]["selectedEngineVersion"] == "Athena engine version 3"


def test_named_queries_are_the_sql_files(run: ProgramRun) -> None:
    files = {f.name: f.text for f in sql_files(REPO_ROOT / "sql")}
    queries = {q.inputs["name"]: q.inputs for q in run.of_type("aws:athena/namedQuery:NamedQuery")}
    assert files
    assert set(queries) == set(files)
    for name, q in queries.items():
        assert q["query"] == files[name]
        assert q["database"] == glue_database(run.stack)
        assert q["workgroup"] == run.outputs["athenaWorkgroup"]


# --------------------------------------------------------------------------- observability


def test_alerts_topic_and_subscription(run: ProgramRun) -> None:
    (topic,) = run.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == run.outputs["kmsKeyArn"]
    subs = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [(s.inputs["protocol"], s.inputs["endpoint"]) for s in subs] == [("email", cfg(run, "alertEmail"))]


# Alarms that alert (the topic on ALARM and OK); every other alarm is a signal with no action, so a
# failed run is announced once -- by the pipeline's failure notification.
ALERTING = {
    "pipeline-executionstimedout",
    "validator-errors",
    "router-errors",
    "api-errors",
    "invalid-events",
    "data-freshness",
}
SIGNALS = {
    "pipeline-executionsfailed",
    "dq-critical-failed",
    "run-lock-errors",
    "plan-errors",
    "small-date-errors",
    "data-quality-errors",
    "publish-errors",
    "dashboard-refresh-errors",
}


def test_alarms(run: ProgramRun) -> None:
    alarms = {a.name.removeprefix("observability-"): a.inputs for a in run.of_type(ALARM)}
    topic = run.outputs["alertsTopicArn"]
    dead_letters = {k for k in alarms if k.endswith("-dead-letters")}
    assert len(dead_letters) == 10  # 9 functions + the events queue: each alerts
    assert set(alarms) == ALERTING | SIGNALS | dead_letters
    for name in ALERTING | dead_letters:
        assert (alarms[name]["alarmActions"], alarms[name]["okActions"]) == ([topic], [topic]), name
        assert alarms[name]["actionsEnabled"] is True, name
    for name in SIGNALS:
        assert (alarms[name]["alarmActions"], alarms[name]["okActions"]) == ([], []), name
        assert alarms[name]["actionsEnabled"] is False, name
    assert alarms["dq-critical-failed"]["alarmDescription"] == (
        "A critical data-quality check failed and the run published nothing. Signal only: the run's "
        "failure notification names the checks."
    )
    assert alarms["data-quality-errors"]["alarmDescription"] == (
        "The data-quality function raised errors. Signal only: a pipeline step's errors end in the run's "
        "failure notification."
    )
    failed = alarms["pipeline-executionsfailed"]
    assert (failed["namespace"], failed["metricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["dimensions"] == {"StateMachineArn": run.outputs["stateMachineArn"]}
    dq = alarms["dq-critical-failed"]
    assert (dq["namespace"], dq["metricName"]) == (METRICS_NAMESPACE, str(Metric.DQ_CRITICAL_FAILED))
    assert dq["dimensions"] == {"Stage": run.stack}
    invalid = alarms["invalid-events"]
    assert (invalid["namespace"], invalid["metricName"], invalid["statistic"]) == (
        METRICS_NAMESPACE,
        "InvalidEvents",
        "Sum",
    )
    assert invalid["dimensions"] == {"Stage": run.stack}
    assert (invalid["threshold"], invalid["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    for purpose, fn in run.outputs["functions"].items():
        errors = alarms[f"{purpose}-errors"]
        assert errors["dimensions"] == {"FunctionName": fn}
        assert errors["threshold"] == int(cfg(run, "lambdaErrorsThreshold"))
    fresh = alarms["data-freshness"]
    assert fresh["threshold"] == int(cfg(run, "freshnessHoursThreshold"))
    assert fresh["treatMissingData"] == (
        "breaching" if cfg(run, "freshnessAlarmOnMissingData") == "true" else "notBreaching"
    )
    tables = [q["metric"]["dimensions"]["Dataset"] for q in fresh["metricQueries"] if "metric" in q]
    assert tables == freshness_tables()
    assert fresh["metricQueries"][-1]["expression"] == "MAX([t0, t1, t2, t3, t4])"


def test_cloudwatch_dashboard_names_the_real_resources(run: ProgramRun) -> None:
    (dash,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = dash.inputs["dashboardBody"]
    assert run.outputs["stateMachineArn"] in body
    assert all(job in body for job in run.outputs["glueJobs"].values())
    assert run.outputs["athenaWorkgroup"] in body
    assert len(json.loads(body)["widgets"]) == 8 + 4  # the pipeline, then the cost section


def cost_section(run: ProgramRun) -> dict[str, dict[str, Any]]:
    (dash,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(dash.inputs["dashboardBody"])["widgets"][8:]
    assert widgets[0]["type"] == "text"
    assert widgets[0]["properties"]["markdown"].startswith("## Cost drivers")
    return {w["properties"]["title"]: w for w in widgets[1:]}


def test_cost_section_converts_raw_metrics_with_metric_math(run: ProgramRun) -> None:
    section = cost_section(run)
    assert all(w["y"] == 25 and w["properties"]["period"] == 86400 for w in section.values())
    wg = run.outputs["athenaWorkgroup"]
    athena = section["Athena data scanned (GiB) and its price"]["properties"]["metrics"]
    assert athena[0][0]["expression"] == (
        f'SEARCH(\'{{AWS/Athena,QueryState,QueryType,WorkGroup}} WorkGroup="{wg}" '
        "MetricName=\"ProcessedBytes\"', 'Sum', 86400)"
    )
    assert athena[1] == [{"expression": "SUM(scanned)/1073741824", "id": "gib", "label": "GiB scanned"}]
    assert athena[2] == [{"expression": "SUM(scanned)/1099511627776*5.0", "id": "athenausd", "label": "USD at 5.0/TB"}]
    # Glue: wall time (ms) of each job's runs x that job's DPUs (workers x DPUs per worker type):
    # the ETL jobs 2 x G.1X = 2 (dev) or 10 x G.2X = 20 (prod); the audit job 2 x G.1X = 2 in both.
    etl_dpus = {"dev": "2", "prod": "20"}[run.stack]
    glue = section["Glue DPU-seconds per job (largest run of the day)"]["properties"]["metrics"]
    jobs = list(run.outputs["glueJobs"].values())
    assert jobs == [f"ecomlake-{run.stack}-{slug(j)}" for j in Job]
    assert [m[3] for m in glue[0::2]] == jobs
    assert [m[-1] for m in glue[0::2]] == [{"id": f"elapsed{i}", "stat": "Maximum", "visible": False} for i in range(5)]
    dpus = [etl_dpus] * 4 + ["2"]
    assert [m[0] for m in glue[1::2]] == [
        {"expression": f"elapsed{i}/1000*{dpus[i]}", "id": f"dpus{i}", "label": job} for i, job in enumerate(jobs)
    ]
    # Lambda: summed Duration (ms) x memory (MB) / 1024 = GB-seconds, per function (the small-date
    # function has its own memory, sized from the threshold).
    memory = cfg(run, "lambdaMemoryMb")
    lam = section["Lambda GB-seconds per function"]["properties"]["metrics"]
    functions = sorted(run.outputs["functions"].values())
    assert [m[3] for m in lam[0::2]] == functions
    small = {"dev": "2048", "prod": "4096"}[run.stack]
    memories = [small if fn.endswith("-small-date") else memory for fn in functions]
    assert [m[0]["expression"] for m in lam[1::2]] == [f"ms{i}/1000*{m}/1024" for i, m in enumerate(memories)]


def test_monthly_budget_alerts_the_topic_at_the_configured_threshold(run: ProgramRun) -> None:
    (budget,) = run.of_type("aws:budgets/budget:Budget")
    b = budget.inputs
    topic = run.outputs["alertsTopicArn"]
    assert (b["name"], b["budgetType"], b["timeUnit"]) == (f"ecomlake-{run.stack}-monthly-cost", "COST", "MONTHLY")
    assert (b["limitAmount"], b["limitUnit"]) == ({"dev": "50.00", "prod": "1000.00"}[run.stack], "USD")
    assert b["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:Stage${run.stack}"]}]
    assert b["notifications"] == [
        {
            "comparisonOperator": "GREATER_THAN",
            "threshold": 80,
            "thresholdType": "PERCENTAGE",
            "notificationType": "ACTUAL",
            "subscriberSnsTopicArns": [topic],
        },
        {
            "comparisonOperator": "GREATER_THAN",
            "threshold": 100,
            "thresholdType": "PERCENTAGE",
            "notificationType": "FORECASTED",
            "subscriberSnsTopicArns": [topic],
        },
    ]
    assert run.outputs["budgetName"] == f"ecomlake-{run.stack}-monthly-cost"


def test_functions_get_the_stack_prices(run: ProgramRun, layers_dir: Path) -> None:
    env = function(run, "data-quality").inputs["environment"]["variables"]
    assert json.loads(env[EnvVar.PRICES])["glue_per_dpu_hour"] == 0.44
    cheaper = run_program(run.stack, layers_dir, overrides={"ecomlake:prices": '{"athena_per_tb_scanned": 6.25}'})
    env = function(cheaper, "validator").inputs["environment"]["variables"]
    assert json.loads(env[EnvVar.PRICES])["athena_per_tb_scanned"] == 6.25
    athena = cost_section(cheaper)["Athena data scanned (GiB) and its price"]["properties"]["metrics"]
    assert athena[2][0]["expression"] == "SUM(scanned)/1099511627776*6.25"


# --------------------------------------------------------------------------- dashboard / CloudFront


def test_cloudfront_uses_origin_access_control_and_https(run: ProgramRun) -> None:
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    d = dist.inputs
    oacs = {o.state["id"]: o.inputs for o in run.of_type("aws:cloudfront/originAccessControl:OriginAccessControl")}
    assert {o["originAccessControlOriginType"] for o in oacs.values()} == {"s3", "lambda"}
    assert all(o["signingProtocol"] == "sigv4" and o["signingBehavior"] == "always" for o in oacs.values())
    origins = {o["originId"]: o for o in d["origins"]}
    assert oacs[origins["site"]["originAccessControlId"]]["originAccessControlOriginType"] == "s3"
    assert oacs[origins["api"]["originAccessControlId"]]["originAccessControlOriginType"] == "lambda"
    assert origins["site"]["domainName"] == f"{run.outputs['dashboardBucket']}.s3.us-east-1.amazonaws.com"
    assert "s3OriginConfig" not in origins["site"]  # OAC, not a legacy origin access identity
    assert origins["api"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert origins["api"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    behaviors = [d["defaultCacheBehavior"], *d["orderedCacheBehaviors"]]
    assert all(b["viewerProtocolPolicy"] == "redirect-to-https" for b in behaviors)
    assert d["orderedCacheBehaviors"][0]["pathPattern"] == "/api/*"
    assert d["defaultRootObject"] == "index.html"
    assert d["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    (headers,) = run.of_type("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    sec = headers.inputs["securityHeadersConfig"]
    assert sec["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31536000
    assert sec["contentSecurityPolicy"]["contentSecurityPolicy"] == CONTENT_SECURITY_POLICY
    assert sec["frameOptions"]["frameOption"] == "DENY"
    assert all(b["responseHeadersPolicyId"] == headers.state["id"] for b in behaviors)


def test_api_is_reachable_only_through_cloudfront(run: ProgramRun) -> None:
    (url,) = run.of_type("aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "AWS_IAM"
    assert url.inputs["functionName"] == f"ecomlake-{run.stack}-api"
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    cf = [
        p.inputs
        for p in run.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "cloudfront.amazonaws.com"
    ]
    assert sorted(p["action"] for p in cf) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert all(p["sourceArn"] == dist.state["arn"] for p in cf)
    site = run.outputs["dashboardBucket"]
    (pol,) = for_bucket(run, POLICY, site)
    assert iam.cloudfront_read(f"arn:aws:s3:::{site}", dist.state["arn"]) in statements(
        json.loads(pol.inputs["policy"])
    )
    (key_policy,) = run.of_type("aws:kms/keyPolicy:KeyPolicy")
    decrypt = statements(json.loads(key_policy.inputs["policy"]))[1]
    assert decrypt["Condition"] == {"StringEquals": {"AWS:SourceArn": dist.state["arn"]}}


def test_site_files_and_deployed_config(run: ProgramRun) -> None:
    objects = {
        o.inputs["key"]: o.inputs
        for o in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if o.inputs["bucket"] == run.outputs["dashboardBucket"]
    }
    scripts = {"app.js", "js/core.js", "js/panels-sales.js", "js/panels-customers.js"}
    assert {"index.html", "config.js", "vendor/chart-4.6.1.umd.min.js", *scripts} <= set(objects)
    assert objects["index.html"]["contentType"] == "text/html; charset=utf-8"
    assert {objects[k]["contentType"] for k in scripts} == {"text/javascript; charset=utf-8"}
    assert {objects[k]["cacheControl"] for k in scripts} == {"public, max-age=300"}
    assert 'apiBase: "/api"' in objects["config.js"]["content"]
    assert not any(k.startswith("data/") for k in objects)


# --------------------------------------------------------------------------- stacks differ


def test_dev_and_prod_differ_where_they_should(programs: dict[str, ProgramRun]) -> None:
    dev, prod = programs["dev"], programs["prod"]
    assert all(b.inputs["forceDestroy"] is True for b in dev.of_type(BUCKET))
    assert all(b.inputs["forceDestroy"] is False for b in prod.of_type(BUCKET))
    retention = {r.stack: r.of_type(LOG_GROUP)[0].inputs["retentionInDays"] for r in (dev, prod)}
    assert retention["dev"] < retention["prod"]
    workers = {r.stack: glue_job(r, Job.MASTER_DATA_MERGE)["numberOfWorkers"] for r in (dev, prod)}
    assert workers["dev"] < workers["prod"]
    assert dev.outputs["buckets"]["raw"] != prod.outputs["buckets"]["raw"]


def test_custom_domain_and_secret_webhook(layers_dir: Path) -> None:
    """Optional settings: a custom domain (TLSv1.2_2021 minimum) and a secret HTTPS alert endpoint."""
    cert = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    run = run_program(
        "prod",
        layers_dir,
        overrides={"ecomlake:dashboardDomain": "dashboard.example.com", "ecomlake:dashboardCertificateArn": cert},
        secrets={"ecomlake:alertsHttpsEndpoint": "https://hooks.example.com/T0KEN"},
    )
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    assert dist.inputs["viewerCertificate"] == {
        "acmCertificateArn": cert,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": MIN_TLS_CUSTOM_DOMAIN,
    }
    assert dist.inputs["aliases"] == ["dashboard.example.com"]
    assert run.outputs["dashboardUrl"] == "https://dashboard.example.com"
    assert function(run, "api").inputs["environment"]["variables"][EnvVar.DASHBOARD_ORIGIN] == (
        "https://dashboard.example.com"
    )
    subs = {
        s.inputs["protocol"]: s.inputs["endpoint"] for s in run.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    # The endpoint reaches the engine as a secret (so it is encrypted in the stack's state).
    assert subs["https"] == {rpc._special_sig_key: rpc._special_secret_sig, "value": "https://hooks.example.com/T0KEN"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_of_a_new_stack_registers_the_same_resources(
    stack: str, layers_dir: Path, programs: dict[str, ProgramRun]
) -> None:
    """As in ``pulumi preview`` before anything exists: every ARN, URL and domain is unknown.

    The program must not need any of them to decide *what* to create (only ``apply``
    callbacks may use them), so the same resources are registered either way.
    """
    preview = run_program(stack, layers_dir, preview=True)
    assert sorted((r.typ, r.name) for r in preview.resources) == sorted(
        (r.typ, r.name) for r in programs[stack].resources
    )
