"""Etl: one Glue 5.0 (Spark 3.5, Python 3.11) job per ``ecomlake.contract.Job``.

Two kinds of job, two roles and two capacities:

- the ETL jobs (``transaction_etl``, ``product_enrichment``, ``clickstream_aggregation``,
  ``master_data_merge``) share the stack's ETL capacity (``glueWorkerType`` /
  ``glueNumberOfWorkers`` / ``glueTimeoutMinutes``) and the ETL role (read raw, write the zones
  they produce);
- the audit job ``data_quality`` (every data-quality check on Spark over the run's
  unpublished view) has its own small capacity and timeout (``dqGlueWorkerType`` /
  ``dqGlueNumberOfWorkers`` / ``dqGlueTimeoutMinutes``, below its 30-minute task state), the
  stack's thresholds as the default argument ``--dq_thresholds`` (``dqThresholds``), and its own
  role: read the tables and the run records, write only ``_runs/*/dq/*`` and
  ``_runs/*/audit.json``; no raw, no write to a data bucket (``iam.glue_audit_policy``).

Code shipping:
- each entry point ``glue_jobs/<job>.py`` is uploaded to the artifacts bucket as
  ``glue/scripts/<job>.py`` (``BucketObjectv2`` + ``FileAsset``; a changed file re-uploads);
- the ``ecomlake`` package (transforms, schemas, contract) is zipped by
  ``components.packaging.build_zip`` into ``build/ecomlake-glue.zip`` -- reproducible bytes,
  so an unchanged package never re-uploads -- and uploaded as ``glue/libs/ecomlake.zip``,
  which every job imports through ``--extra-py-files``.

Python modules: Glue 5.0 provides PySpark, boto3, pandas, pyarrow and numpy; what the jobs
import beyond those is installed by Glue with pip at job start, at the project's pins
(``--additional-python-modules``): DuckDB for the ETL jobs (a raw file without a current
validation report is validated in the job, by the validator's classifier), sqlglot for the
audit (the rules' SQL transpiled to Spark SQL). So the jobs need to reach PyPI, or a mirror
given with ``--python-modules-installer-option``.

Job arguments: the zone roots (``JobArg.*_URI`` = ``s3://<zone bucket>``) are default
arguments; ``--dates`` and ``--run_id`` (the execution name) are passed per run by the state
machine. A job reads the run's plan (``_runs/<run_id>/plan.json``) for the dates it computes
and writes only versions named after the run, recorded in the run's journal. Job bookmarks
are disabled on purpose: runs name their dates explicitly, which is what makes re-runs
idempotent -- a bookmark would silently skip data on a re-run.

Concurrency: one execution holds the lake's lock at a time, so a job normally runs once at a
time. Job run queuing is on: a run that would exceed the job's ``MaxConcurrentRuns`` or an
account limit (concurrent runs, DPUs) waits in Glue's queue (``WAITING``) instead of failing
at once with ``ConcurrentRunsExceededException`` (which the state machine still retries, for
the accounts and Regions where queuing does not apply). The job's ``Timeout`` stays below the
state's ``TimeoutSeconds`` (``components.settings.MAX_GLUE_TIMEOUT_MINUTES``), so a run that
takes too long ends ``TIMEOUT`` in Glue and the state machine's one job-run retry applies.

Logging (Glue 5.0): every job logs in real time -- there is no continuous-logging switch
any more (``--enable-continuous-cloudwatch-log`` / ``--continuous-log-logGroup`` are Glue 4.0
and earlier settings). System, Spark and GlueLogger lines go to ``<prefix>/error`` and the
script's stdout/stderr to ``<prefix>/output``, where ``<prefix>`` is the job argument
``--custom-logGroup-prefix`` (default ``/aws-glue/jobs``). Both groups are created here,
encrypted with the lake key and bound to the stack's retention, so the jobs' logs land in
them and nowhere else. The security configuration does *not* enable its own CloudWatch
encryption: with it, Glue writes to a log group whose name carries the role and the
security configuration (``/aws-glue/jobs-<role>-<configuration>/...``), which would bypass the
groups created here; the groups' own KMS key encrypts every event written to them instead.

Security: the security configuration encrypts S3 output (SSE-KMS) and (unused) bookmarks
with the lake key; the role reads raw and its code, reads/writes/deletes only the zones
the jobs produce, and writes only to the two log groups above.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from components import iam, naming
from components.packaging import build_zip, package_sources, pinned
from components.settings import DataQualitySettings, EtlSettings
from ecomlake.contract import METRICS_NAMESPACE, Job, JobArg, Zone
from ecomlake.cost import GLUE_WORKER_DPUS

GLUE_VERSION: Final = "5.0"
SCRIPTS_PREFIX: Final = "glue/scripts/"
LIBS_PREFIX: Final = "glue/libs/"
TEMP_PREFIX: Final = "glue/tmp/"
PACKAGE_KEY: Final = f"{LIBS_PREFIX}ecomlake.zip"
PACKAGE_ZIP: Final = Path("build") / "ecomlake-glue.zip"
# Glue 5.0 writes to "<--custom-logGroup-prefix>/error" and ".../output".
LOG_STREAMS: Final = ("error", "output")

# The zone each URI argument points at (the argument names are the contract's).
ZONE_ARGS: Final[dict[JobArg, Zone]] = {
    JobArg.RAW_URI: Zone.RAW,
    JobArg.PROCESSED_URI: Zone.PROCESSED,
    JobArg.CURATED_URI: Zone.CURATED,
    JobArg.QUARANTINE_URI: Zone.QUARANTINE,
    JobArg.REPORTS_URI: Zone.REPORTS,
}
# Zones the jobs only read, and zones they write (and overwrite).
READ_ZONES: Final = (Zone.RAW,)
WRITE_ZONES: Final = (Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.REPORTS)
# The tables the audit job reads (it reads the run records in the reports bucket too).
AUDIT_TABLE_ZONES: Final = (Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE)
# What the jobs import that Glue 5.0 does not provide, installed with pip at job start at the
# project's pins. An ETL job validates a raw file whose validation report is missing or stale
# itself, with the validator's classifier, which runs on DuckDB; the audit job transpiles the
# rules' SQL to Spark SQL with sqlglot (pure Python).
ETL_PYTHON_MODULES: Final = ("duckdb",)
AUDIT_PYTHON_MODULES: Final = ("sqlglot",)


@dataclass(frozen=True)
class EtlArgs:
    project: str
    stage: str
    account_id: str
    region: str
    partition: str
    repo_root: Path
    settings: EtlSettings
    data_quality: DataQualitySettings
    log_retention_days: int
    kms_key_arn: pulumi.Input[str]
    zone_buckets: Mapping[Zone, pulumi.Input[str]]  # bucket name per zone (incl. ARTIFACTS)
    zone_bucket_arns: Mapping[Zone, pulumi.Input[str]]


def script_key(job: Job) -> str:
    return f"{SCRIPTS_PREFIX}{job}.py"


def script_path(repo_root: Path, job: Job) -> Path:
    path = repo_root / "glue_jobs" / f"{job}.py"
    if not path.is_file():
        raise FileNotFoundError(f"Glue entry point {path} is missing (one script per ecomlake.contract.Job)")
    return path


def log_group_prefix(project: str, stage: str) -> str:
    """The ``--custom-logGroup-prefix`` of the stack's jobs (Glue appends ``/error`` and ``/output``)."""
    return naming.log_group_name("aws-glue/jobs", naming.resource_name(project, stage, "etl"))


def log_group_names(prefix: str) -> list[str]:
    return [f"{prefix}/{stream}" for stream in LOG_STREAMS]


def default_arguments(
    *,
    zone_buckets: Mapping[Zone, str],
    artifacts_bucket: str,
    log_group_prefix: str,
    dq_thresholds: str | None = None,
    python_modules: Sequence[str] = (),
) -> dict[str, str]:
    """Arguments every run gets; the state machine adds ``--dates`` and ``--run_id``.

    ``dq_thresholds`` (the audit job only) is the stack's ``--dq_thresholds`` JSON object;
    ``python_modules`` (``name==version``) are what Glue installs with pip before the job
    starts (``--additional-python-modules``).
    """
    args = {
        "--job-language": "python",
        "--job-bookmark-option": "job-bookmark-disable",
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--custom-logGroup-prefix": log_group_prefix,
        "--enable-spark-ui": "false",
        "--extra-py-files": naming.s3_uri(artifacts_bucket, PACKAGE_KEY),
        "--TempDir": naming.s3_uri(artifacts_bucket, TEMP_PREFIX),
    }
    args.update({f"--{arg}": naming.s3_uri(zone_buckets[zone]) for arg, zone in ZONE_ARGS.items()})
    if dq_thresholds is not None:
        args[f"--{JobArg.DQ_THRESHOLDS}"] = dq_thresholds
    if python_modules:
        args["--additional-python-modules"] = ",".join(python_modules)
    return args


class Etl(pulumi.ComponentResource):
    """Scripts + package upload, security configuration, role, log group and the jobs."""

    jobs: dict[Job, aws.glue.Job]
    role: aws.iam.Role

    def __init__(self, name: str, args: EtlArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:Etl", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        artifacts = args.zone_buckets[Zone.ARTIFACTS]

        scripts = {
            job: aws.s3.BucketObjectv2(
                f"{name}-script-{naming.slug(job)}",
                bucket=artifacts,
                key=script_key(job),
                source=pulumi.FileAsset(str(script_path(args.repo_root, job))),
                content_type="text/x-python",
                opts=child,
            )
            for job in Job
        }
        zip_path = build_zip(package_sources(args.repo_root), args.repo_root / PACKAGE_ZIP)
        package = aws.s3.BucketObjectv2(
            f"{name}-package",
            bucket=artifacts,
            key=PACKAGE_KEY,
            source=pulumi.FileAsset(str(zip_path)),
            content_type="application/zip",
            opts=child,
        )

        prefix = log_group_prefix(args.project, args.stage)
        self.log_groups = {
            stream: aws.cloudwatch.LogGroup(
                f"{name}-logs-{stream}",
                name=group,
                retention_in_days=args.log_retention_days,
                kms_key_id=args.kms_key_arn,
                opts=child,
            )
            for stream, group in zip(LOG_STREAMS, log_group_names(prefix), strict=True)
        }
        self.security_configuration = aws.glue.SecurityConfiguration(
            f"{name}-security",
            name=naming.resource_name(args.project, args.stage, "etl-security"),
            encryption_configuration=aws.glue.SecurityConfigurationEncryptionConfigurationArgs(
                s3_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationS3EncryptionArgs(
                    s3_encryption_mode="SSE-KMS", kms_key_arn=args.kms_key_arn
                ),
                # The log groups carry the lake key themselves (see the module docstring).
                cloudwatch_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationCloudwatchEncryptionArgs(
                    cloudwatch_encryption_mode="DISABLED"
                ),
                job_bookmarks_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationJobBookmarksEncryptionArgs(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=args.kms_key_arn
                ),
            ),
            opts=child,
        )

        glue_logs = [
            iam.log_group_arn(args.partition, args.region, args.account_id, group) for group in log_group_names(prefix)
        ]
        arns = args.zone_bucket_arns

        def glue_role(kind: str, suffix: str, description: str, policy: pulumi.Output[str]) -> tuple[Any, Any]:
            """A role Glue assumes, ``<project>-<stage>-<kind>``, and its one inline policy."""
            role_name = naming.resource_name(args.project, args.stage, kind)
            role = aws.iam.Role(
                f"{name}-{suffix}role",
                name=role_name,
                description=description,
                assume_role_policy=json.dumps(iam.assume_role_policy("glue"), sort_keys=True),
                opts=child,
            )
            attached = aws.iam.RolePolicy(
                f"{name}-{suffix}policy", name=f"{role_name}-policy", role=role.id, policy=policy, opts=child
            )
            return role, attached

        def render(values: list[str]) -> str:
            key_arn, artifacts_arn, *zone_arns = values
            reads = zone_arns[: len(READ_ZONES)]
            writes = zone_arns[len(READ_ZONES) :]
            return json.dumps(
                iam.glue_job_policy(
                    read_buckets=reads,
                    write_buckets=writes,
                    artifacts_bucket=artifacts_arn,
                    code_prefixes=[SCRIPTS_PREFIX, LIBS_PREFIX],
                    temp_prefix=TEMP_PREFIX,
                    key_arn=key_arn,
                    log_group_arns=glue_logs,
                    metric_namespaces=["Glue", METRICS_NAMESPACE],
                ),
                sort_keys=True,
            )

        self.role, self.policy = glue_role(
            "glue-etl",
            "",
            "Glue ETL jobs: read raw, write processed/curated/quarantine/reports",
            pulumi.Output.all(
                args.kms_key_arn,
                arns[Zone.ARTIFACTS],
                *(arns[z] for z in READ_ZONES),
                *(arns[z] for z in WRITE_ZONES),
            ).apply(render),
        )

        def render_audit(values: list[str]) -> str:
            key_arn, artifacts_arn, reports_arn, *table_arns = values
            return json.dumps(
                iam.glue_audit_policy(
                    table_buckets=table_arns,
                    reports_bucket=reports_arn,
                    artifacts_bucket=artifacts_arn,
                    code_prefixes=[SCRIPTS_PREFIX, LIBS_PREFIX],
                    temp_prefix=TEMP_PREFIX,
                    key_arn=key_arn,
                    log_group_arns=glue_logs,
                ),
                sort_keys=True,
            )

        self.audit_role, self.audit_policy = glue_role(
            "glue-dq",
            "dq-",
            "Glue audit job: read the tables and run records, write one run's reports and verdict",
            pulumi.Output.all(
                args.kms_key_arn,
                arns[Zone.ARTIFACTS],
                arns[Zone.REPORTS],
                *(arns[z] for z in AUDIT_TABLE_ZONES),
            ).apply(render_audit),
        )

        buckets = pulumi.Output.all(artifacts, *(args.zone_buckets[z] for z in ZONE_ARGS.values()))

        def job_arguments(
            dq_thresholds: str | None = None, python_modules: Sequence[str] = ()
        ) -> pulumi.Output[dict[str, str]]:
            return buckets.apply(
                lambda v: default_arguments(
                    zone_buckets=dict(zip(ZONE_ARGS.values(), v[1:], strict=True)),
                    artifacts_bucket=v[0],
                    log_group_prefix=prefix,
                    dq_thresholds=dq_thresholds,
                    python_modules=python_modules,
                )
            )

        dq = args.data_quality
        pyproject = args.repo_root / "pyproject.toml"
        arguments = job_arguments(python_modules=pinned(pyproject, ETL_PYTHON_MODULES))
        audit_arguments = job_arguments(dq.thresholds_json, pinned(pyproject, AUDIT_PYTHON_MODULES))
        s = args.settings
        # The audit job's capacity and timeout are its own; the ETL jobs share the stack's.
        capacity: dict[Job, EtlSettings | DataQualitySettings] = {
            job: dq if job is Job.DATA_QUALITY else s for job in Job
        }
        self.jobs = {}
        for job in Job:
            audit = job is Job.DATA_QUALITY
            self.jobs[job] = aws.glue.Job(
                f"{name}-{naming.slug(job)}",
                name=job_name(args.project, args.stage, job),
                description=f"ecomlake {job} (glue_jobs/{job}.py)",
                role_arn=self.audit_role.arn if audit else self.role.arn,
                glue_version=GLUE_VERSION,
                command=aws.glue.JobCommandArgs(
                    name="glueetl",
                    python_version="3",
                    script_location=pulumi.Output.from_input(artifacts).apply(
                        lambda b, j=job: naming.s3_uri(b, script_key(j))
                    ),
                ),
                default_arguments=audit_arguments if audit else arguments,
                worker_type=capacity[job].worker_type,
                number_of_workers=capacity[job].number_of_workers,
                timeout=capacity[job].timeout_minutes,
                max_retries=0,  # retries belong to the state machine, which knows the whole run
                job_run_queuing_enabled=True,
                execution_property=aws.glue.JobExecutionPropertyArgs(max_concurrent_runs=s.max_concurrent_runs),
                security_configuration=self.security_configuration.name,
                # The log groups exist (encrypted, with retention) before a run can write to them.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[
                        scripts[job],
                        package,
                        self.audit_policy if audit else self.policy,
                        *self.log_groups.values(),
                    ],
                ),
            )
        # DPUs per run of each job (the cost widgets turn run time into DPU-seconds with it).
        self.job_dpus: dict[Job, float] = {
            job: GLUE_WORKER_DPUS[c.worker_type] * c.number_of_workers for job, c in capacity.items()
        }

        self.job_names: dict[Job, pulumi.Output[str]] = {j: r.name for j, r in self.jobs.items()}
        self.job_arns: dict[Job, pulumi.Output[str]] = {j: r.arn for j, r in self.jobs.items()}
        self.register_outputs(
            {
                "roleArn": self.role.arn,
                "auditRoleArn": self.audit_role.arn,
                "jobNames": {str(j): n for j, n in self.job_names.items()},
                "packageKey": package.key,
            }
        )


def job_name(project: str, stage: str, job: Job) -> str:
    return naming.resource_name(project, stage, str(job))
