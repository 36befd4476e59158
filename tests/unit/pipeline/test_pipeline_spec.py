"""The pipeline spec: order, branches, retry semantics and the execution input."""

from __future__ import annotations

import pytest

from ecomlake.contract import EXECUTION_INPUT_DATES, PARALLEL_ETL_JOBS, Job, JobArg
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError
from ecomlake.pipeline import (
    DATA_QUALITY_ERROR,
    GLUE_RETRY,
    PIPELINE,
    RUN_LOCK_BUSY,
    STATES_ALL,
    STATES_TASK_FAILED,
    STATES_TIMEOUT,
    GlueJobStep,
    Input,
    LambdaStep,
    NotifyStep,
    Outcome,
    ParallelStep,
    Pipeline,
    PipelineFunction,
    RetryPolicy,
    error_matches,
    execution_input,
    template_fields,
)


def test_steps_run_in_the_documented_order():
    assert [s.name for s in PIPELINE.steps] == [
        "acquire_lock",
        "plan",
        "etl",
        "master_data_merge",
        "audit",
        "publish",
        "dashboard_refresh",
        "release_lock",
        "notify_success",
    ]
    assert [s.name for s in PIPELINE.cleanup] == ["release_lock_after_failure"]
    assert PIPELINE.on_failure.name == "notify_failure"
    assert PIPELINE.on_failure.outcome is Outcome.FAILED


def test_parallel_step_holds_the_three_per_dataset_jobs():
    etl = PIPELINE.step("etl")
    assert isinstance(etl, ParallelStep)
    assert tuple(b.job for b in etl.branches if isinstance(b, GlueJobStep)) == PARALLEL_ETL_JOBS
    assert PIPELINE.glue_jobs == (*PARALLEL_ETL_JOBS, Job.MASTER_DATA_MERGE)
    for job in etl.branches:
        assert isinstance(job, GlueJobStep)
        assert job.arguments == ((JobArg.DATES, Input.DATES_CSV), (JobArg.RUN_ID, Input.RUN_ID))


def test_the_audit_runs_once_per_run_and_is_never_retried_on_a_verdict():
    audit = PIPELINE.step("audit")
    assert isinstance(audit, LambdaStep)
    assert audit.function is PipelineFunction.DATA_QUALITY
    assert not audit.for_each_date
    assert audit.payload == (Input.RUN_ID,)
    first = next(p for p in audit.retry if p.matches(DATA_QUALITY_ERROR))
    assert first.max_attempts == 0


def test_the_lock_steps_and_their_payloads():
    for name, action in (
        ("acquire_lock", "acquire"),
        ("release_lock", "release"),
        ("release_lock_after_failure", "release"),
    ):
        step = PIPELINE.step(name)
        assert isinstance(step, LambdaStep)
        assert step.function is PipelineFunction.RUN_LOCK
        assert step.payload == (Input.RUN_ID, Input.EXECUTION_ID)
        assert step.constants == (("action", action),)
        assert step.timeout_seconds == 60
    acquire = PIPELINE.step("acquire_lock")
    assert isinstance(acquire, LambdaStep)
    assert acquire.retry[0].errors == (RUN_LOCK_BUSY,) == ("RunLockBusyError",)
    assert acquire.retry[0].refusals  # waiting for the lake costs no run time, only the waits


def test_the_execution_timeout_covers_the_worst_case():
    # Every step's worst case (attempts x timeout + waits), then the failure path's.
    assert PIPELINE.timeout_seconds == 36000
    assert 30000 < PIPELINE.worst_case_seconds() < PIPELINE.timeout_seconds
    # A Glue step alone can take two job runs of an hour: an hour-long execution would die unseen.
    with pytest.raises(ValueError, match="shorter than the worst case"):
        Pipeline("p", steps=(GlueJobStep(Job.TRANSACTION_ETL),), on_failure=PIPELINE.on_failure, timeout_seconds=3600)


def test_every_task_step_has_a_retry_and_every_top_level_step_a_catch():
    for step in PIPELINE.walk():
        if not isinstance(step, ParallelStep):
            assert step.retry, step.name
    for step in (*PIPELINE.steps, PIPELINE.on_failure):
        assert step.catch is not None, step.name
        assert step.catch.matches("Anything.AtAll"), step.name
        assert step.catch.result_path == "$.error"


@pytest.mark.parametrize(
    ("errors", "error", "expected"),
    [
        ((STATES_ALL,), STATES_TIMEOUT, True),
        ((STATES_TASK_FAILED,), "Glue.EntityNotFoundException", True),
        ((STATES_TASK_FAILED,), STATES_TIMEOUT, False),
        (("Lambda.TooManyRequestsException",), "Lambda.TooManyRequestsException", True),
        (("Lambda.TooManyRequestsException",), "Lambda.ServiceException", False),
    ],
)
def test_error_matching_follows_asl_rules(errors, error, expected):
    assert error_matches(errors, error) is expected


def test_retry_delay_backs_off_and_is_capped():
    api = GLUE_RETRY[0]
    assert [api.delay(n) for n in (1, 2, 3, 4, 5)] == [30.0, 60.0, 120.0, 240.0, 300.0]
    assert RetryPolicy(("X",), interval_seconds=3, backoff_rate=1.0).delay(4) == 3.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"errors": ()},
        {"errors": (STATES_ALL, "Other")},
        {"errors": ("X",), "max_attempts": -1},
        {"errors": ("X",), "backoff_rate": 0.5},
    ],
)
def test_invalid_retry_policies_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 -- the message varies by rule
        RetryPolicy(**kwargs)


def test_execution_input_sorts_dedupes_and_validates():
    assert execution_input(["2025-01-02", "2025-01-01", "2025-01-02"]) == {
        EXECUTION_INPUT_DATES: ["2025-01-01", "2025-01-02"]
    }
    with pytest.raises(InvalidArgumentError):
        execution_input([])
    with pytest.raises(InvalidDateError):
        execution_input(["2025-02-30"])


def test_templates_accept_only_known_inputs():
    assert template_fields("run {run_id} for {dates_csv}") == (Input.RUN_ID, Input.DATES_CSV)
    with pytest.raises(ValueError, match="bare Input name"):
        template_fields("run {nonsense}")
    with pytest.raises(ValueError, match="bare Input name"):
        template_fields("run {run_id!r}")
    with pytest.raises(ValueError, match="bare Input name"):
        NotifyStep("n", Outcome.FAILED, subject="s", message="{cause:>10}")


def test_a_single_date_input_only_fits_a_per_date_step():
    with pytest.raises(ValueError, match="per-date"):
        LambdaStep("x", PipelineFunction.DATA_QUALITY, payload=(Input.DATE,))


def test_step_names_must_be_unique():
    notify = PIPELINE.on_failure
    with pytest.raises(ValueError, match="unique"):
        Pipeline("p", steps=(GlueJobStep(Job.TRANSACTION_ETL), GlueJobStep(Job.TRANSACTION_ETL)), on_failure=notify)
