"""The program's IAM: no wildcard grants, every policy through parliament, trust and scoped roles (see
test_infra_program.py).
"""

from __future__ import annotations

import json

from infra_harness import ACCOUNT, ProgramRun
from parliament import analyze_policy_string, enhance_finding
from program_helpers import (
    POLICY,
    PROGRAM_MARKS,
    ROLE,
    ROLE_POLICY,
    as_list,
    bucket_name,
    policy_documents,
    role_policy,
    statements,
)

from components import iam
from ecomlake.contract import (
    Zone,
)

pytestmark = PROGRAM_MARKS


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
