"""The Glue job ``data_quality``: a run's audit on Spark, reading the lake in S3 where it lies.

Started by the state machine after ``master_data_merge`` with the run's ``--run_id`` (and
``--dates``, informative: the audit checks every date the run's journal names). It

1. refuses a run whose plan was made on a snapshot that is no longer the published one
   (another run published meanwhile: this one can never publish, so auditing it is waste);
2. opens the Spark engine on the run's view -- the published snapshot with the run's
   versions on top -- registering each table's view over exactly the version folders the
   rules read (``ecomlake.dq.reads``);
3. runs every rule (``ecomlake.dq.rules``, with the stack's thresholds from
   ``--dq_thresholds``) and writes each date's report and the verdict under
   ``_runs/<run_id>/`` in the reports bucket.

It succeeds whatever the verdict: a failed check is a result, not a job failure (a failed
job run is retried; a verdict is not). The next step reads the verdict and turns a
failing one into the error the failure notification carries (``handlers/data_quality.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ecomlake.contract import EnvVar, JobArg, Zone
from ecomlake.dq.reads import partitions_read
from ecomlake.dq.rules import Rule, Thresholds, default_rules
from ecomlake.runs.audit import Audit, audit_storage
from ecomlake.snapshots import PublishConflictError, Snapshot, load_published
from ecomlake.storage import Storage


def thresholds_from_args(argv: Sequence[str]) -> Thresholds:
    """``--dq_thresholds <json>`` (or ``--dq_thresholds=<json>``) when given, else ``$ECOMLAKE_DQ_THRESHOLDS``."""
    from ecomlake.etl.glue import argv_options

    given = argv_options(argv).get(JobArg.DQ_THRESHOLDS)
    return Thresholds.from_env() if given is None else Thresholds.from_env({EnvVar.DQ_THRESHOLDS: given})


def require_current_base(storage: Storage, run_id: str) -> None:
    """Stop when the run was planned on a snapshot that is no longer published."""
    from ecomlake.runs.plan import read_plan

    plan = read_plan(storage, run_id)
    published = load_published(storage).seq
    if plan is not None and plan.base_seq != published:
        raise PublishConflictError(
            f"run {run_id} was planned on snapshot {plan.base_seq} but snapshot {published} is published now; "
            "nothing of this run can be published: run it again"
        )


def run_audit_job(
    spark: Any, storage: Storage, run_id: str, *, thresholds: Thresholds, now: datetime | None = None
) -> Audit:
    """Audit run ``run_id`` on ``spark`` over ``storage``; write its reports and verdict (see the module docstring)."""
    require_current_base(storage, run_id)
    rules = default_rules(thresholds)

    def open_engine(view: Snapshot, dates: Sequence[str], chosen: Sequence[Rule]) -> Any:
        from ecomlake.dq.engine_spark import SparkEngine

        return SparkEngine(spark, storage, view, partitions_read(chosen, dates, view), verify_run=run_id)

    return audit_storage(storage, run_id, open_engine, rules=rules, now=now, source=storage.uri(f"{Zone.PROCESSED}/"))


def main(args: dict[str, str], argv: Sequence[str]) -> Audit:
    """The job's body once ``ecomlake.etl.glue.main`` has resolved its arguments."""
    from ecomlake.etl.glue import glue_session, lake_from_args

    thresholds = thresholds_from_args(argv)  # a bad value fails before Spark starts
    storage = lake_from_args(args).storage
    run_id = args[str(JobArg.RUN_ID)]
    spark, glue_job = glue_session(str(args[str(JobArg.JOB_NAME)]), args)
    audit = run_audit_job(spark, storage, run_id, thresholds=thresholds)
    if glue_job is not None:
        glue_job.commit()
    print(audit.summary())  # lands in the job's CloudWatch output log
    return audit
