"""The pipeline spec: order, branches, retry semantics and the execution input."""

from __future__ import annotations

import pytest

from ecomlake.contract import EXECUTION_INPUT_DATES, PARALLEL_ETL_JOBS, Job, JobArg
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError
from ecomlake.pipeline import (
    DATA_QUALITY_ERROR,
    DEFAULT_SETTINGS,
    GLUE_RETRY,
    PIPELINE,
    RUN_LOCK_BUSY,
    STATES_ALL,
    STATES_TASK_FAILED,
    STATES_TIMEOUT,
    Branch,
    ChoiceStep,
    GlueJobStep,
    Input,
    LambdaStep,
    NotifyStep,
    Outcome,
    ParallelStep,
    Pipeline,
    PipelineFunction,
    RetryPolicy,
    Setting,
    StepOutput,
    error_matches,
    execution_input,
    template_fields,
    worst_case_seconds,
)


def test_steps_run_in_the_documented_order():
    assert [s.name for s in PIPELINE.steps] == [
        "acquire_lock",
        "plan",
        "small_enough",
        "audit",
        "publish",
        "dashboard_refresh",
        "release_lock",
        "notify_success",
    ]
    choice = PIPELINE.step("small_enough")
    assert isinstance(choice, ChoiceStep)
    assert [s.name for s in choice.when_at_most.steps] == ["small_date"]
    assert [s.name for s in choice.otherwise.steps] == ["etl", "master_data_merge", "data_quality"]
    assert [s.name for s in PIPELINE.cleanup] == ["release_lock_after_failure"]
    assert PIPELINE.on_failure.name == "notify_failure"
    assert PIPELINE.on_failure.outcome is Outcome.FAILED


def test_parallel_step_holds_the_three_per_dataset_jobs():
    etl = PIPELINE.step("etl")
    assert isinstance(etl, ParallelStep)
    assert tuple(b.job for b in etl.branches if isinstance(b, GlueJobStep)) == PARALLEL_ETL_JOBS
    assert PIPELINE.glue_jobs == (*PARALLEL_ETL_JOBS, Job.MASTER_DATA_MERGE, Job.DATA_QUALITY)
    for job in etl.branches:
        assert isinstance(job, GlueJobStep)
        assert job.arguments == ((JobArg.DATES, Input.DATES_CSV), (JobArg.RUN_ID, Input.RUN_ID))


def test_small_dates_take_one_lambda_and_the_rest_glue():
    choice = PIPELINE.step("small_enough")
    assert isinstance(choice, ChoiceStep)
    assert choice.variable == StepOutput("plan", "staged_bytes")
    assert choice.threshold is Setting.SMALL_DATE_MAX_BYTES
    assert PIPELINE.settings == (Setting.SMALL_DATE_MAX_BYTES,)
    assert DEFAULT_SETTINGS == {Setting.SMALL_DATE_MAX_BYTES: 268435456}  # 256 MiB
    (small,) = choice.when_at_most.steps
    assert isinstance(small, LambdaStep)
    assert (small.function, small.payload, small.timeout_seconds) == (PipelineFunction.SMALL_DATE, (Input.RUN_ID,), 900)
    audit_job = choice.otherwise.steps[-1]
    assert isinstance(audit_job, GlueJobStep)
    assert (audit_job.job, audit_job.timeout_seconds) == (Job.DATA_QUALITY, 1800)
    assert PIPELINE.functions[:4] == (
        PipelineFunction.RUN_LOCK,
        PipelineFunction.PLAN,
        PipelineFunction.SMALL_DATE,
        PipelineFunction.DATA_QUALITY,
    )


@pytest.mark.parametrize(
    ("value", "threshold", "branch"),
    [
        (10, 10, "small"),  # at most: equal is small
        (11, 10, "big"),
        (0.5, 1, "small"),
        (None, 10, "big"),  # no estimate: the path that works for every size
        ("5", 10, "big"),  # not a number
        (True, 10, "big"),  # a boolean is not a byte count
        (5, None, "big"),  # no threshold (a local Spark run)
        (0, 0, "small"),
    ],
)
def test_a_choice_takes_the_small_branch_only_for_a_number_at_most_the_threshold(value, threshold, branch):
    merge = GlueJobStep(Job.MASTER_DATA_MERGE)
    choice = ChoiceStep(
        "c",
        StepOutput("plan", "n"),
        Setting.SMALL_DATE_MAX_BYTES,
        when_at_most=Branch("small", (LambdaStep("s", PipelineFunction.SMALL_DATE),)),
        otherwise=Branch("big", (merge,)),
    )
    assert choice.choose(value, threshold).name == branch


def test_a_choice_costs_its_slowest_branch():
    choice = PIPELINE.step("small_enough")
    assert isinstance(choice, ChoiceStep)
    small = worst_case_seconds(choice.when_at_most.steps[0])
    glue = sum(worst_case_seconds(s) for s in choice.otherwise.steps)
    # The Lambda: 4 attempts of 900 s and the waits; Glue: ETL and merge 2 runs of an hour, the audit 2 of 30 min.
    assert small == 4 * 900 + 2 + 4 + 8
    assert glue > small
    assert worst_case_seconds(choice) == glue
    others = sum(worst_case_seconds(s) for s in PIPELINE.steps if s is not choice)
    failure_path = sum(worst_case_seconds(s) for s in (*PIPELINE.cleanup, PIPELINE.on_failure))
    assert PIPELINE.worst_case_seconds() == others + glue + failure_path


def test_a_choice_must_read_an_earlier_lambda_step():
    plan = LambdaStep("plan", PipelineFunction.PLAN)
    choice = ChoiceStep(
        "c",
        StepOutput("plan", "staged_bytes"),
        Setting.SMALL_DATE_MAX_BYTES,
        when_at_most=Branch("small", (LambdaStep("s", PipelineFunction.SMALL_DATE),)),
        otherwise=Branch("big", (GlueJobStep(Job.MASTER_DATA_MERGE),)),
    )
    notify = PIPELINE.on_failure
    Pipeline("p", steps=(plan, choice), on_failure=notify)  # fine
    with pytest.raises(ValueError, match="must be a \\(not per-date\\) Lambda step before it"):
        Pipeline("p", steps=(choice, plan), on_failure=notify)
    with pytest.raises(ValueError, match="has no steps"):
        Branch("empty", ())
    with pytest.raises(ValueError, match="unique"):
        Pipeline("p", steps=(plan, choice, GlueJobStep(Job.MASTER_DATA_MERGE)), on_failure=notify)


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
        if not isinstance(step, ParallelStep | ChoiceStep):
            assert step.retry, step.name
    choice = PIPELINE.step("small_enough")
    assert isinstance(choice, ChoiceStep)
    assert choice.catch is None  # a Choice cannot fail; the steps of its branches catch
    top = [s for s in PIPELINE.steps if s is not choice]
    for step in (*top, *choice.when_at_most.steps, *choice.otherwise.steps, PIPELINE.on_failure):
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
