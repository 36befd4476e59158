"""The pipeline, written once: its steps, their order, parallel branches, retries and failure path.

Two engines read this one spec, so they cannot drift apart:

- ``ecomlake.asl`` renders it as an Amazon States Language definition, which Pulumi deploys
  as the Step Functions state machine (Glue, Lambda and SNS service integrations);
- ``ecomlake.local.runner`` walks it on one machine, calling the same library code
  (``ecomlake.runs``, ``ecomlake.etl.run_job``, ``ecomlake.dashboard.build``).

A run is a transaction: it writes where readers do not look, audits what it wrote, and
only then publishes, all under a lock on the lake::

    acquire_lock        one writer per lake (cloud: a DynamoDB lease; locally a file lock)
    plan                the published snapshot the run starts from, the dates it computes,
                        and the bytes a small-date run would stage (``staged_bytes``)
    small_enough?       a Choice: staged_bytes <= the deployment's small-date threshold?
      yes: small_date   one Lambda: every ETL job, the merge and the audit on DuckDB over a
                        /tmp mirror of what the run reads; the run's versions, journal,
                        reports and verdict uploaded (``ecomlake.runs.small_date``)
      no (or no estimate):
        etl             in parallel: transaction_etl | product_enrichment | clickstream_aggregation
        master_data_merge  curated partitions from the run's earliest change on, dimensions
        data_quality    every data-quality check on Spark over the run's unpublished view
    audit               the gate: a critical failure in the verdict stops the run here
    publish             one atomic snapshot switch, then reports into place, garbage collected
    dashboard_refresh   the analytics queries over the published lake, into the dashboard data
    release_lock
    notify_success
    any step fails (after its retries) -> release_lock_after_failure -> notify_failure -> failed

Decisions the seed's workflow leaves open:

- **No "validate files" step.** Validation happens per file as it lands (the validator
  handler on S3 "Object Created"); a rejected file never reaches a job.
- **"Catalog refresh" is the publication.** Readers resolve tables through the published
  snapshot (and in AWS through the Glue partitions ``publish`` points at the new versions),
  so there is nothing to crawl; the switch is the refresh.
- **One run per batch of dates.** A backfill is one execution whose input lists every
  date; each job runs once over all of them (``--dates`` is a comma-separated list).
- **Retries only where a retry can help.** Glue and Lambda API refusals (throttling,
  concurrency limits, service errors, a Lambda that timed out before answering) are retried
  with exponential backoff and full jitter. A failed Glue job *run* is retried once: jobs
  write only their run's own versions, so a re-run is safe. A data-quality failure is never
  retried: the data will not change. Every task's worst case (attempts x timeout + waits)
  fits inside the execution timeout, so a failure always reaches the failure notification.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from string import Formatter
from typing import Any, Final

from ecomlake.contract import EXECUTION_INPUT_DATES, PARALLEL_ETL_JOBS, PROJECT, Job, JobArg, parse_date
from ecomlake.exceptions import InvalidArgumentError

# --------------------------------------------------------------------------- error names

# Step Functions' reserved error names. "States.TaskFailed" matches any error except
# "States.Timeout" when used in a Retry or Catch; "States.ALL" matches every error.
STATES_ALL: Final = "States.ALL"
STATES_TASK_FAILED: Final = "States.TaskFailed"
STATES_TIMEOUT: Final = "States.Timeout"

# Raised by the data-quality step on a critical failure. In the cloud it is the Lambda's
# errorType (the exception's class name), locally the same exception class.
DATA_QUALITY_ERROR: Final = "DataQualityError"


def error_matches(errors: Iterable[str], error: str) -> bool:
    """Whether an error name is matched by a Retry or Catch ``ErrorEquals`` list (ASL rules)."""
    names = set(errors)
    if STATES_ALL in names:
        return True
    if STATES_TASK_FAILED in names and error != STATES_TIMEOUT:
        return True
    return error in names


class Jitter(StrEnum):
    """ASL ``JitterStrategy``: FULL waits a random time in [0, computed delay]."""

    FULL = "FULL"
    NONE = "NONE"


@dataclass(frozen=True)
class RetryPolicy:
    """One ASL retrier. The first retrier whose ``errors`` match an error decides its fate."""

    errors: tuple[str, ...]
    interval_seconds: int = 1
    max_attempts: int = 3  # retries after the first attempt; 0 = never retry these errors
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter: Jitter = Jitter.FULL
    comment: str = ""
    # The errors it retries are refusals to start (throttling, a concurrency limit): an
    # attempt that ends in one cost no run time, only the wait before the next.
    refusals: bool = False

    def __post_init__(self) -> None:
        if not self.errors:
            raise ValueError("a retry policy needs at least one error name")
        if STATES_ALL in self.errors and len(self.errors) > 1:
            raise ValueError("States.ALL must be the only error name of its retrier")
        if self.max_attempts < 0 or self.interval_seconds < 1 or self.backoff_rate < 1.0:
            raise ValueError(f"invalid retry policy {self}")

    def matches(self, error: str) -> bool:
        return error_matches(self.errors, error)

    def delay(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based), before jitter, capped by ``max_delay_seconds``."""
        seconds = self.interval_seconds * self.backoff_rate ** (retry - 1)
        return float(min(seconds, self.max_delay_seconds) if self.max_delay_seconds else seconds)

    def total_delay(self) -> float:
        """Seconds of waiting if every retry is used, before jitter (jitter only shortens them)."""
        return sum(self.delay(n) for n in range(1, self.max_attempts + 1))


@dataclass(frozen=True)
class Catch:
    """Where a step's unrecovered errors go: always the pipeline's failure path.

    ``result_path`` keeps the step's input and adds ``{"Error": ..., "Cause": ...}`` under it,
    so the failure notification can say what broke.
    """

    errors: tuple[str, ...] = (STATES_ALL,)
    result_path: str = "$.error"

    def matches(self, error: str) -> bool:
        return error_matches(self.errors, error)


CATCH_ALL: Final = Catch()

# --------------------------------------------------------------------------- retry policies

GLUE_API_ERRORS: Final = (
    "Glue.ConcurrentRunsExceededException",
    "Glue.ThrottlingException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
)
LAMBDA_SERVICE_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # The function's environment failed or the invoke timed out before an answer: transient.
    "Lambda.Unknown",
    "Lambda.ClientExecutionTimeoutException",
)
# Raised by the lock step while another execution holds the lake.
RUN_LOCK_BUSY: Final = "RunLockBusyError"

GLUE_RETRY: Final = (
    RetryPolicy(
        GLUE_API_ERRORS,
        interval_seconds=30,
        max_attempts=8,
        backoff_rate=2.0,
        max_delay_seconds=300,
        comment="Glue refused to start the run (concurrency limit, throttling): wait and ask again",
        refusals=True,
    ),
    RetryPolicy(
        (STATES_TASK_FAILED,),
        interval_seconds=15,
        max_attempts=1,
        backoff_rate=1.0,
        comment="the job run failed: one more run (jobs overwrite only their own partitions)",
    ),
)
LAMBDA_RETRY: Final = (
    RetryPolicy(
        LAMBDA_SERVICE_ERRORS,
        interval_seconds=2,
        max_attempts=3,
        backoff_rate=2.0,
        max_delay_seconds=60,
        comment="Lambda service errors, throttling and invokes that timed out are transient",
    ),
)
DATA_QUALITY_RETRY: Final = (
    RetryPolicy(
        (DATA_QUALITY_ERROR,),
        max_attempts=0,
        jitter=Jitter.NONE,
        comment="a failed critical check is a verdict on the data: never retried",
    ),
    *LAMBDA_RETRY,
)
LOCK_RETRY: Final = (
    RetryPolicy(
        (RUN_LOCK_BUSY,),
        interval_seconds=60,
        max_attempts=24,
        backoff_rate=1.5,
        max_delay_seconds=300,
        comment="another execution holds the lake: queue behind it (about 2 hours at most)",
        refusals=True,
    ),
    *LAMBDA_RETRY,
)
SNS_RETRY: Final = (
    RetryPolicy(
        (STATES_TASK_FAILED,),
        interval_seconds=5,
        max_attempts=3,
        backoff_rate=2.0,
        comment="publishing again at worst sends a duplicate message",
    ),
)

# --------------------------------------------------------------------------- inputs


class Input(StrEnum):
    """Named values a step may pass on (Lambda payload fields, Glue arguments, messages).

    ``ecomlake.asl`` maps each to a JSONPath / intrinsic expression, the runner to a Python
    value, so a payload is declared once for both engines.
    """

    RUN_ID = "run_id"  # Step Functions: the execution name; locally the run id
    EXECUTION_ID = "execution_id"  # Step Functions: the execution ARN (the lock's holder); locally the run id
    DATES = EXECUTION_INPUT_DATES  # every date of the run, YYYY-MM-DD
    DATES_CSV = "dates_csv"  # the same, comma-separated: the Glue ``--dates`` argument
    DATE_COUNT = "date_count"
    DATE = "date"  # one date, inside a per-date step
    ERROR = "error"  # failure path: the error name
    CAUSE = "cause"  # failure path: its message
    STAGE = "stage"  # dev / prod in the cloud, "local" on one machine
    DATES_TEXT = "dates_text"  # the dates as JSON text, for messages (valid even when the plan failed)


def execution_input(dates: Iterable[str]) -> dict[str, Any]:
    """The input of one pipeline execution (Step Functions ``StartExecution``) for ``dates``.

    Only ``dates`` is required; other keys (datasets, trigger) may ride along and are ignored.
    """
    days = sorted({parse_date(d) for d in dates})
    if not days:
        raise InvalidArgumentError("a pipeline run needs at least one date")
    return {EXECUTION_INPUT_DATES: days}


def template_fields(template: str) -> tuple[Input, ...]:
    """The named inputs a message template uses, in order (``{run_id}`` -> ``Input.RUN_ID``)."""
    fields = []
    for _, name, spec, conv in Formatter().parse(template):
        if name is None:
            continue
        if spec or conv or name not in set(Input):
            raise ValueError(f"template {template!r}: {{{name}}} must be a bare Input name")
        fields.append(Input(name))
    return tuple(fields)


# --------------------------------------------------------------------------- steps


class PipelineFunction(StrEnum):
    """Lambda functions the pipeline invokes (Pulumi supplies their ARNs)."""

    RUN_LOCK = "run_lock"
    PLAN = "plan"
    SMALL_DATE = "small_date"
    DATA_QUALITY = "data_quality"
    PUBLISH = "publish"
    DASHBOARD_REFRESH = "dashboard_refresh"


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class StepKind(StrEnum):
    GLUE = "glue"
    LAMBDA = "lambda"
    PARALLEL = "parallel"
    NOTIFY = "notify"
    CHOICE = "choice"


class Setting(StrEnum):
    """Deployment values the spec names but does not fix: a stack's config in the cloud, an option locally."""

    SMALL_DATE_MAX_BYTES = "small_date_max_bytes"


# What ``ecomlake asl`` renders and the local runner uses when nothing else is given. 256 MiB
# of staged input is well inside the small-date function's sizing (components.functions) and
# holds the demo's lake many times over.
DEFAULT_SETTINGS: Final[dict[Setting, int]] = {Setting.SMALL_DATE_MAX_BYTES: 256 * 1024 * 1024}


@dataclass(frozen=True)
class GlueJobStep:
    """Run one Glue job over the run's dates and wait for it (``startJobRun.sync``)."""

    job: Job
    # Glue ``--key`` arguments taken from the run; zone URIs are the job's DefaultArguments.
    arguments: tuple[tuple[JobArg, Input], ...] = ((JobArg.DATES, Input.DATES_CSV), (JobArg.RUN_ID, Input.RUN_ID))
    retry: tuple[RetryPolicy, ...] = GLUE_RETRY
    catch: Catch | None = CATCH_ALL
    timeout_seconds: int = 60 * 60
    kind: StepKind = field(default=StepKind.GLUE, init=False)

    @property
    def name(self) -> str:
        return str(self.job)


@dataclass(frozen=True)
class LambdaStep:
    """Invoke one Lambda function with a payload built from named inputs.

    ``for_each_date`` invokes it once per date (a Map state in the cloud, a loop locally),
    which keeps each invocation inside Lambda's 15-minute limit however long the backfill.
    """

    name: str
    function: PipelineFunction
    payload: tuple[Input, ...] = (Input.DATES, Input.RUN_ID)
    # Fixed payload fields (e.g. the lock step's ``action``), the same in every execution.
    constants: tuple[tuple[str, str], ...] = ()
    for_each_date: bool = False
    max_concurrency: int = 4
    retry: tuple[RetryPolicy, ...] = LAMBDA_RETRY
    catch: Catch | None = CATCH_ALL
    timeout_seconds: int = 15 * 60
    kind: StepKind = field(default=StepKind.LAMBDA, init=False)

    def __post_init__(self) -> None:
        if Input.DATE in self.payload and not self.for_each_date:
            raise ValueError(f"step {self.name!r}: only a per-date step has a single 'date' input")


TaskStep = GlueJobStep | LambdaStep


@dataclass(frozen=True)
class ParallelStep:
    """Run one-step branches at the same time; the step fails if any branch fails."""

    name: str
    branches: tuple[TaskStep, ...]
    catch: Catch | None = CATCH_ALL
    kind: StepKind = field(default=StepKind.PARALLEL, init=False)


@dataclass(frozen=True)
class NotifyStep:
    """Publish the run's outcome (SNS in the cloud; console and a report file locally).

    ``subject`` and ``message`` are templates over :class:`Input` names, e.g. ``{run_id}``.
    """

    name: str
    outcome: Outcome
    subject: str
    message: str
    retry: tuple[RetryPolicy, ...] = SNS_RETRY
    catch: Catch | None = CATCH_ALL
    timeout_seconds: int = 60
    kind: StepKind = field(default=StepKind.NOTIFY, init=False)

    def __post_init__(self) -> None:
        template_fields(self.subject)
        template_fields(self.message)


@dataclass(frozen=True)
class StepOutput:
    """A value an earlier Lambda step returned: ``field`` of step ``step``'s payload."""

    step: str
    field: str


@dataclass(frozen=True)
class Branch:
    """One way through a :class:`ChoiceStep`: steps run in order, then the step after the Choice."""

    name: str
    steps: tuple[GlueJobStep | LambdaStep | ParallelStep, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"branch {self.name!r} has no steps")


@dataclass(frozen=True)
class ChoiceStep:
    """Take ``when_at_most`` when ``variable`` is a number no greater than the ``threshold`` setting.

    Anything else -- the variable missing (an older plan, a failed estimate), not a number, or
    greater -- takes ``otherwise``: the path that works for every size is the default. Both
    branches go on to the step after the Choice. A Choice itself cannot fail, so it has no
    retry and no catch; the steps of its branches have theirs.
    """

    name: str
    variable: StepOutput
    threshold: Setting
    when_at_most: Branch
    otherwise: Branch
    comment: str = ""
    catch: None = None
    kind: StepKind = field(default=StepKind.CHOICE, init=False)

    @property
    def branches(self) -> tuple[Branch, Branch]:
        return (self.when_at_most, self.otherwise)

    def choose(self, value: Any, threshold: int | None) -> Branch:
        """The branch for ``value`` against ``threshold`` (None: no threshold, the default branch)."""
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if threshold is not None and numeric and value <= threshold:
            return self.when_at_most
        return self.otherwise


Step = GlueJobStep | LambdaStep | ParallelStep | NotifyStep | ChoiceStep


def worst_case_seconds(step: Step) -> float:
    """How long a step can take if everything that can go wrong does, within its retry policy.

    Each attempt may run to the task's timeout, except those that end in an error a
    ``refusals`` retrier matches (a refusal to start costs no run time); every retry waits
    its full backoff. A Parallel takes as long as its slowest branch, and so does a Choice
    (a branch's worst case is the sum of its steps').
    """
    if isinstance(step, ParallelStep):
        return max(worst_case_seconds(b) for b in step.branches)
    if isinstance(step, ChoiceStep):
        return max(sum(worst_case_seconds(s) for s in b.steps) for b in step.branches)
    slow_attempts = 1 + sum(p.max_attempts for p in step.retry if not p.refusals)
    waits = sum(p.total_delay() for p in step.retry)
    return slow_attempts * step.timeout_seconds + waits


@dataclass(frozen=True)
class Pipeline:
    """Steps in order; a step's unrecovered failure runs ``cleanup``, then ``on_failure``, then ``fail_state``.

    ``timeout_seconds`` must cover the worst case of every step (``worst_case_seconds``),
    so that a run never dies of the execution timeout, which no Catch sees.
    """

    name: str
    steps: tuple[Step, ...]
    on_failure: NotifyStep
    cleanup: tuple[LambdaStep, ...] = ()
    fail_state: str = "failed"
    fail_error: str = "PipelineFailed"
    timeout_seconds: int = 10 * 60 * 60
    comment: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.walk()] + [self.fail_state]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"step names must be unique; repeated: {duplicates}")
        if not self.steps:
            raise ValueError("a pipeline needs at least one step")
        self._check_choices()
        if self.worst_case_seconds() > self.timeout_seconds:
            raise ValueError(
                f"the execution timeout ({self.timeout_seconds} s) is shorter than the worst case of its steps "
                f"({self.worst_case_seconds():.0f} s): a run could time out where no Catch sees it"
            )

    def _check_choices(self) -> None:
        """A Choice reads the payload of a Lambda step that runs before it, and holds no Choice itself."""
        earlier: dict[str, Step] = {}
        for step in self.steps:
            if isinstance(step, ChoiceStep):
                source = earlier.get(step.variable.step)
                if not isinstance(source, LambdaStep) or source.for_each_date:
                    raise ValueError(
                        f"choice {step.name!r} reads {step.variable.step!r}, which must be a (not per-date) "
                        "Lambda step before it"
                    )
            earlier[step.name] = step

    def worst_case_seconds(self) -> float:
        """The longest a run can take: every step's worst case, then the failure path's."""
        return sum(worst_case_seconds(s) for s in (*self.steps, *self.cleanup, self.on_failure))

    def walk(self) -> Iterator[Step]:
        """Every step, branches included, in order, then the failure path (cleanup, notification)."""
        for step in self.steps:
            yield step
            if isinstance(step, ParallelStep):
                yield from step.branches
            if isinstance(step, ChoiceStep):
                for branch in step.branches:
                    for inner in branch.steps:
                        yield inner
                        if isinstance(inner, ParallelStep):
                            yield from inner.branches
        yield from self.cleanup
        yield self.on_failure

    def step(self, name: str) -> Step:
        for candidate in self.walk():
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @property
    def glue_jobs(self) -> tuple[Job, ...]:
        return tuple(s.job for s in self.walk() if isinstance(s, GlueJobStep))

    @property
    def functions(self) -> tuple[PipelineFunction, ...]:
        return tuple(s.function for s in self.walk() if isinstance(s, LambdaStep))

    @property
    def settings(self) -> tuple[Setting, ...]:
        """The deployment settings the spec's choices compare against."""
        return tuple(dict.fromkeys(s.threshold for s in self.walk() if isinstance(s, ChoiceStep)))


def _lock_step(name: str, action: str) -> LambdaStep:
    return LambdaStep(
        name,
        PipelineFunction.RUN_LOCK,
        payload=(Input.RUN_ID, Input.EXECUTION_ID),
        constants=(("action", action),),
        retry=LOCK_RETRY if action == "acquire" else LAMBDA_RETRY,
        timeout_seconds=60,
    )


PIPELINE: Final = Pipeline(
    name=PROJECT,
    comment=(
        "ecomlake pipeline: lock, plan, then a small date in one Lambda or per-dataset ETL in parallel, master "
        "merge and the audit job in Glue; the audit gate, publish, dashboard refresh, unlock, notification. "
        "Generated from ecomlake/pipeline.py by ecomlake/asl.py; do not edit."
    ),
    steps=(
        _lock_step("acquire_lock", "acquire"),
        LambdaStep("plan", PipelineFunction.PLAN, payload=(Input.DATES, Input.RUN_ID), timeout_seconds=120),
        ChoiceStep(
            "small_enough",
            variable=StepOutput("plan", "staged_bytes"),
            threshold=Setting.SMALL_DATE_MAX_BYTES,
            comment=(
                "A run whose staged input (raw files of its dates + the published partitions it reads) is at most "
                "the stack's smallDateMaxBytes runs in one Lambda on DuckDB; anything else, or no estimate, in Glue."
            ),
            when_at_most=Branch(
                "small_date",
                # Every ETL job, the merge and the audit, on DuckDB over a /tmp mirror; uploads the results.
                (LambdaStep("small_date", PipelineFunction.SMALL_DATE, payload=(Input.RUN_ID,), timeout_seconds=900),),
            ),
            otherwise=Branch(
                "glue",
                (
                    ParallelStep("etl", branches=tuple(GlueJobStep(job) for job in PARALLEL_ETL_JOBS)),
                    GlueJobStep(Job.MASTER_DATA_MERGE),
                    # Every check on the run's view, on Spark next to the data; writes reports and a verdict.
                    GlueJobStep(Job.DATA_QUALITY, timeout_seconds=30 * 60),
                ),
            ),
        ),
        # The gate: fails the run (DataQualityError, never retried) unless the verdict passed.
        LambdaStep(
            "audit",
            PipelineFunction.DATA_QUALITY,
            payload=(Input.RUN_ID,),
            retry=DATA_QUALITY_RETRY,
            timeout_seconds=120,
        ),
        LambdaStep("publish", PipelineFunction.PUBLISH, payload=(Input.RUN_ID,), timeout_seconds=5 * 60),
        LambdaStep(
            "dashboard_refresh",
            PipelineFunction.DASHBOARD_REFRESH,
            payload=(Input.DATES, Input.RUN_ID),
            timeout_seconds=5 * 60,
        ),
        _lock_step("release_lock", "release"),
        NotifyStep(
            "notify_success",
            Outcome.SUCCEEDED,
            subject="ecomlake {stage}: pipeline run succeeded",
            message="ecomlake pipeline run {run_id} succeeded for {date_count} date(s): {dates_csv}.",
        ),
    ),
    cleanup=(_lock_step("release_lock_after_failure", "release"),),
    on_failure=NotifyStep(
        "notify_failure",
        Outcome.FAILED,
        subject="ecomlake {stage}: pipeline run FAILED",
        message="ecomlake pipeline run {run_id} failed for {dates_text}. Error: {error}. Cause: {cause}",
    ),
)
