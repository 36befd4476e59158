"""What the program tests read from a ``ProgramRun``: resource types, lookups, policy statements."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_harness import ProgramRun

from components.lake import BUCKET_ZONES
from components.naming import slug
from ecomlake.contract import (
    Job,
    Zone,
)

# Every program test module's marks: one xdist worker runs them all (they share the program's
# run, built once per worker), and pulumi_aws warns about its own deprecated classes when its
# modules are imported.
PROGRAM_MARKS = [pytest.mark.xdist_group("infra"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# The stack's Lambda functions, by the purpose in their names (a literal: the program must make these).
FUNCTION_PURPOSES = (
    "validator",
    "router",
    "run-lock",
    "plan",
    "small-date",
    "data-quality",
    "publish",
    "api",
    "dashboard-refresh",
)

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
DEFAULT_DQ_THRESHOLDS = (
    '{"orphan_critical_above": 0.05, "orphan_warning_above": 0.0, "quarantine_critical_above": 0.2, '
    '"quarantine_warning_above": 0.05, "volume_critical_below": 0.1, "volume_warning_below": 0.5}'
)
ROLE_BASE_SIDS = {"WriteOwnLogs", "SendToOwnDeadLetterQueue", "XRayTraces"}  # every function's own


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


def lake_bucket_names(run: ProgramRun) -> set[str]:
    """The DataLake's buckets: one per zone plus the server-access-log bucket."""
    names = {b.inputs["bucket"] for b in run.of_type(BUCKET) if b.inputs["bucket"] != run.outputs["dashboardBucket"]}
    assert len(names) == len(BUCKET_ZONES) + 1
    return names


def role_policy(run: ProgramRun, role_name: str) -> dict[str, Any]:
    (pol,) = [r for r in run.of_type(ROLE_POLICY) if r.inputs["name"] == f"{role_name}-policy"]
    return json.loads(pol.inputs["policy"])


def glue_job(run: ProgramRun, job: Job) -> dict[str, Any]:
    return run.one("aws:glue/job:Job", f"etl-{slug(job)}").inputs


def own_statements(run: ProgramRun, purpose: str) -> dict[str, dict[str, Any]]:
    """A function role's statements beyond the ones every function gets, by Sid."""
    doc = role_policy(run, f"ecomlake-{run.stack}-{purpose}")
    by_sid = {st["Sid"]: st for st in statements(doc)}
    assert set(by_sid) >= ROLE_BASE_SIDS
    return {sid: st for sid, st in by_sid.items() if sid not in ROLE_BASE_SIDS}


def rule_named(run: ProgramRun, logical: str) -> Any:
    return run.one("aws:cloudwatch/eventRule:EventRule", logical)


def cost_section(run: ProgramRun) -> dict[str, dict[str, Any]]:
    (dash,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(dash.inputs["dashboardBody"])["widgets"][8:]
    assert widgets[0]["type"] == "text"
    assert widgets[0]["properties"]["markdown"].startswith("## Cost drivers")
    return {w["properties"]["title"]: w for w in widgets[1:]}
