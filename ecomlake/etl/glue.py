"""What every Glue script in ``glue_jobs/`` does: resolve arguments, get a session, run, commit.

On AWS Glue 5.0 the ``awsglue`` package is present: arguments come from
``getResolvedOptions`` and the session from a ``GlueContext``. Anywhere else (tests, a
laptop) the same script parses the ``--key value`` arguments itself and starts a local
Spark session, so the scripts are importable and runnable without Glue.

Zone URIs (``--raw_uri`` etc., ``contract.JobArg``) are ``s3://bucket`` roots in AWS; a
local run passes the lake directory for every zone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ecomlake.contract import Job, JobArg, Zone
from ecomlake.etl.engines import configure_spark, spark_session
from ecomlake.etl.io import LakeIO
from ecomlake.etl.jobs import execute, normalize_dates, open_scope, parse_job
from ecomlake.etl.summary import RunSummary
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.runs.plan import read_plan
from ecomlake.storage import LocalStorage, S3Storage

if TYPE_CHECKING:
    from ecomlake.runs.audit import Audit

ZONE_ARGS: dict[Zone, JobArg] = {
    Zone.RAW: JobArg.RAW_URI,
    Zone.PROCESSED: JobArg.PROCESSED_URI,
    Zone.CURATED: JobArg.CURATED_URI,
    Zone.QUARANTINE: JobArg.QUARANTINE_URI,
    Zone.REPORTS: JobArg.REPORTS_URI,
}
REQUIRED_ARGS: tuple[str, ...] = (JobArg.JOB_NAME, JobArg.DATES, JobArg.RUN_ID, *ZONE_ARGS.values())


def argv_options(argv: Sequence[str]) -> dict[str, str]:
    """Every ``--key value`` (or ``--key=value``) pair of ``argv``, as getResolvedOptions reads them."""
    found: dict[str, str] = {}
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            key, eq, value = item[2:].partition("=")
            if not eq:
                if i + 1 >= len(items):
                    raise InvalidArgumentError(f"argument --{key} has no value")
                value = items[i + 1]
                i += 1
            found[key] = value
        i += 1
    return found


def _parse_argv(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """``names``, each required, from ``argv`` (:func:`argv_options`)."""
    found = argv_options(argv)
    missing = [n for n in names if n not in found]
    if missing:
        raise InvalidArgumentError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
    return {n: found[n] for n in names}


def resolve_args(argv: Sequence[str] | None = None) -> dict[str, str]:
    """The job's arguments from Glue's ``sys.argv`` convention (awsglue when available)."""
    args = list(sys.argv if argv is None else argv)
    names = [str(n) for n in REQUIRED_ARGS]
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return _parse_argv(args, names)
    return getResolvedOptions(args, names)


def lake_from_args(args: dict[str, str]) -> LakeIO:
    """Where the job reads and writes: one S3 bucket per zone, or one local lake directory."""
    uris = {zone: args[str(arg)] for zone, arg in ZONE_ARGS.items()}
    schemes = {urlparse(uri).scheme for uri in uris.values()}
    if schemes <= {"s3", "s3a"}:
        buckets = {zone: urlparse(uri).netloc for zone, uri in uris.items()}
        # Run journals and the published snapshot live in the reports bucket (contract.ZONE_BUCKET_ENV).
        buckets[Zone.RUNS] = buckets[Zone.CATALOG] = buckets[Zone.REPORTS]
        return LakeIO(S3Storage(buckets))
    roots = {uri.rstrip("/") for uri in uris.values()}
    if len(roots) != 1 or schemes - {""}:
        raise InvalidArgumentError("a local run passes the same lake directory for every zone URI")
    return LakeIO(LocalStorage(roots.pop()))


def glue_session(job_name: str, args: dict[str, str]) -> tuple[Any, Any]:
    """(SparkSession, awsglue Job or None): Glue's session on Glue, a local one elsewhere."""
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job as GlueJob
        from pyspark.context import SparkContext
    except ImportError:
        return configure_spark(spark_session(app_name=job_name)), None
    context = GlueContext(SparkContext.getOrCreate())
    glue_job = GlueJob(context)
    glue_job.init(args[str(JobArg.JOB_NAME)], args)
    return configure_spark(context.spark_session), glue_job


def main(job: str, argv: Sequence[str] | None = None) -> list[RunSummary] | Audit:
    """Entry point of ``glue_jobs/<job>.py``: run the job for its run and commit.

    The run's plan (``_runs/<run_id>/plan.json``, written by the plan step) decides the
    dates -- those asked for plus any repairs -- and the snapshot the run is based on;
    ``--dates`` serves when there is no plan (a job started by hand). The ``data_quality``
    job audits the run instead (``ecomlake.dq.glue_job``) and returns its :class:`Audit`.
    """
    args = resolve_args(argv)
    name = parse_job(job)
    if name is Job.DATA_QUALITY:
        from ecomlake.dq import glue_job as audit_job

        return audit_job.main(args, list(sys.argv if argv is None else argv))
    run_id = args[str(JobArg.RUN_ID)]
    storage = lake_from_args(args).storage
    plan = read_plan(storage, run_id)
    asked = [d for d in args[str(JobArg.DATES)].split(",") if d.strip()]
    dates = normalize_dates(plan.dates if plan else asked)
    lake = LakeIO(storage, open_scope(storage, run_id, name, base_seq=plan.base_seq if plan else None))
    spark, glue_job = glue_session(str(name), args)
    summaries = execute(spark, name, dates, lake)
    if glue_job is not None:
        glue_job.commit()
    for summary in summaries:
        print(summary.to_dict())  # lands in the job's CloudWatch output log
    return summaries
