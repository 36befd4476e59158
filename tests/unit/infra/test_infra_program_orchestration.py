"""The program's orchestration: the state machine, EventBridge rules, the pipeline functions' roles and
settings, alerts on rejected files (see test_infra_program.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_harness import ACCOUNT, ProgramRun, run_program
from program_helpers import (
    DEFAULT_DQ_THRESHOLDS,
    LOG_GROUP,
    PROGRAM_MARKS,
    bucket_name,
    cfg,
    function,
    own_statements,
    role_policy,
    rule_named,
    statements,
)

from components.orchestration import REJECTED_ALERT_PATHS
from ecomlake import asl
from ecomlake.contract import (
    DATASETS,
    EVENT_FILE_ACCEPTED,
    EVENT_FILE_REJECTED,
    EVENT_SOURCE,
    ZONE_BUCKET_ENV,
    EnvVar,
    Zone,
    glue_database,
)
from ecomlake.ingest.events import file_event
from ecomlake.ingest.report import Rejection, ValidationReport
from ecomlake.pipeline import PIPELINE, PipelineFunction, Setting

pytestmark = PROGRAM_MARKS


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
