"""The program's Glue jobs, their roles, security configuration and logs (see test_infra_program.py)."""

from __future__ import annotations

import json
from pathlib import Path

from infra_harness import ACCOUNT, REPO_ROOT, ProgramRun, run_program
from program_helpers import (
    DEFAULT_DQ_THRESHOLDS,
    LOG_GROUP,
    PROGRAM_MARKS,
    as_list,
    bucket_name,
    cfg,
    glue_job,
    role_policy,
    statements,
)

from components.naming import slug
from ecomlake.contract import (
    Job,
    JobArg,
    Zone,
)

pytestmark = PROGRAM_MARKS


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
