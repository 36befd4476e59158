"""The local pipeline runner: walks the same spec the Step Functions definition is built from.

A run holds the lake's lock (``ecomlake.local.lock``) from start to end, and each step kind
maps to a local callable -- the same library code the cloud runs:

- ``acquire_lock`` / ``release_lock`` -> nothing more: the file lock is held around the run
- ``plan``              -> ``ecomlake.runs.plan.plan_run``: base snapshot, dates, repairs, and
                           the bytes a small-date run would stage
- ``small_enough``      -> the same Choice the state machine makes: the plan's ``staged_bytes``
                           against the small-date threshold (the runner's ``settings``, else
                           ``$ECOMLAKE_SMALL_DATE_MAX_BYTES``, else 256 MiB with the DuckDB engine
                           -- the demo takes the small path -- and no threshold with Spark, so a
                           parity run goes through the Glue jobs); the other branch's steps stay
                           ``SKIPPED``
- ``small_date``        -> ``ecomlake.runs.small_date.run_small_date``: the small path's code,
                           on the lake itself (nothing to stage)
- a Glue job            -> ``ecomlake.etl.run_job(job, plan.dates, lake, engine, run_id=...)``;
                           the ``data_quality`` job -> ``ecomlake.runs.audit.audit_storage``
- ``audit``             -> ``ecomlake.runs.audit.check_verdict``: a failed critical check raises
                           ``DataQualityError`` (as the Lambda does in the cloud)
- ``publish``           -> ``ecomlake.runs.publish.publish_run``: the atomic snapshot switch
- ``dashboard_refresh`` -> ``ecomlake.dashboard.build(lake)``
- a notification        -> a JSON file under ``_reports/notifications/`` plus the console

Semantics follow the state machine's: each task's ``Retry`` policies are honoured with
the same attempt counts, backoff and jitter (the wait is injectable, so tests never
sleep); an error no retrier absorbs goes to the step's ``Catch`` -> the cleanup steps ->
the failure notification -> a failed run. Error names are the cloud's: a failed Glue job
run is ``States.TaskFailed`` (Glue's ``.sync`` integration reports no finer name), a failed
Lambda is its exception's class name (the Lambda ``errorType``), so ``DataQualityError``
is matched by the same never-retry policy in both places. An exception may carry an
``error_name`` attribute to stand for a specific service error.

Parallel branches run one after the other, in spec order: DuckDB already uses every core
for each job, and with ``--engine spark`` the jobs share one ``local[*]`` session, so
threads would only contend for the same cores and interleave the logs. A branch failure
stops the remaining branches (Step Functions stops the others too). Per-task timeouts
are not enforced locally; a Python call cannot be safely interrupted.

Every run writes its record to ``_runs/<run_id>.json`` (``contract.run_record_key``) when it
starts and again when it ends; a record still ``RUNNING`` when the next run takes the lock
belongs to a run that died, and is marked ``ABORTED``. Whatever a dead run wrote is a
version no snapshot names: the next publication collects it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import Dataset, EnvVar, Job, Zone, parse_date, parse_run_id, run_record_key
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError, LakeNotFoundError
from ecomlake.local.lock import LOCK_FILE, LakeLock
from ecomlake.pipeline import (
    DEFAULT_SETTINGS,
    PIPELINE,
    STATES_TASK_FAILED,
    ChoiceStep,
    GlueJobStep,
    Input,
    Jitter,
    LambdaStep,
    NotifyStep,
    ParallelStep,
    Pipeline,
    PipelineFunction,
    Setting,
    Step,
    TaskStep,
    execution_input,
)
from ecomlake.storage import LocalStorage

LOCAL_STAGE: Final = "local"
ENGINES: Final = ("duckdb", "spark")
NOTIFICATIONS_PREFIX: Final = f"{Zone.REPORTS}/notifications"


class Status:
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # never started: an earlier step failed
    RUNNING = "RUNNING"
    ABORTED = "ABORTED"  # the process died mid-run (found by the next run)


# --------------------------------------------------------------------------- records


@dataclass
class StepRecord:
    """One step (or one parallel branch, or one date of a per-date step) of a run."""

    name: str
    kind: str
    parent: str | None = None
    status: str = Status.SKIPPED
    attempts: int = 0
    seconds: float = 0.0
    output: Any = None
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunRecord:
    """What a run did; written to ``_runs/<run_id>.json``."""

    run_id: str
    dates: list[str]
    engine: str
    lake: str
    status: str = Status.RUNNING
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    failed_step: str | None = None
    error: dict[str, str] | None = None
    notification: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    published: dict[str, Any] | None = None  # the snapshot this run published (seq, garbage collected)
    audit: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None  # what the run would cost on AWS (ecomlake.local.run_cost)

    @property
    def key(self) -> str:
        return run_record_key(self.run_id)

    @property
    def succeeded(self) -> bool:
        return self.status == Status.SUCCEEDED

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "dates": list(self.dates),
            "engine": self.engine,
            "lake": self.lake,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": self.seconds,
            "failed_step": self.failed_step,
            "error": self.error,
            "notification": self.notification,
            "plan": self.plan,
            "published": self.published,
            "audit": self.audit,
            "cost": self.cost,
            "steps": [s.to_dict() for s in self.steps],
            "record_key": self.key,
        }


# --------------------------------------------------------------------------- step context


@dataclass(frozen=True)
class StepContext:
    """What a step callable gets: the run's values, and ``date`` / ``error`` where they apply."""

    step: Step
    lake: Path
    dates: tuple[str, ...]
    engine: str
    run_id: str
    date: str | None = None
    error: Mapping[str, str] | None = None
    subject: str = ""
    message: str = ""
    plan: Mapping[str, Any] | None = None  # the plan step's output, once it ran

    @property
    def run_dates(self) -> list[str]:
        """The dates the jobs compute: the plan's (asked for plus repairs), else the ones asked for."""
        return list(self.plan["dates"]) if self.plan else list(self.dates)

    def values(self) -> dict[Input, Any]:
        """The named inputs (``ecomlake.pipeline.Input``), as the state machine would see them."""
        error = self.error or {}
        return {
            Input.RUN_ID: self.run_id,
            Input.EXECUTION_ID: self.run_id,
            Input.DATES_TEXT: json.dumps(list(self.dates)),
            Input.DATES: list(self.dates),
            Input.DATES_CSV: ",".join(self.dates),
            Input.DATE_COUNT: len(self.dates),
            Input.DATE: self.date,
            Input.ERROR: error.get("Error", ""),
            Input.CAUSE: error.get("Cause", ""),
            Input.STAGE: LOCAL_STAGE,
        }

    def payload(self) -> dict[str, Any]:
        """A Lambda step's payload, built from its declared inputs."""
        if not isinstance(self.step, LambdaStep):
            return {}
        values = self.values()
        return {**{str(name): values[name] for name in self.step.payload}, **dict(self.step.constants)}


StepFn = Callable[[StepContext], Any]


@dataclass(frozen=True)
class RunEvent:
    """Progress, for whoever displays it: ``started`` / ``retrying`` / ``finished`` / ``notified``."""

    kind: str
    record: StepRecord
    delay: float = 0.0
    message: str = ""


# --------------------------------------------------------------------------- default step callables


def summarise_etl(summaries: Sequence[Any]) -> dict[str, Any]:
    """Row counts per dataset/table over all dates, from ``etl.run_job``'s ``RunSummary`` list.

    Totals keep the two kinds apart: raw datasets are *read* (rows in = out + quarantined),
    derived tables (sessions, curated marts) are *built* (``rows_built``).
    """
    tables: dict[str, dict[str, int]] = {}
    for summary in summaries:
        data = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)
        row = tables.setdefault(str(data.get("dataset_or_table")), {})
        for key in ("rows_in", "rows_out", "rows_quarantined", "duplicates_dropped"):
            row[key] = row.get(key, 0) + int(data.get(key) or 0)
    read = [t for name, t in tables.items() if name in set(Dataset)]
    built = [t for name, t in tables.items() if name not in set(Dataset)]
    totals = {k: sum(t[k] for t in read) for k in ("rows_in", "rows_out", "rows_quarantined")}
    return {"tables": tables, **totals, "rows_built": sum(t["rows_out"] for t in built), "summaries": len(summaries)}


def _glue_job(step: GlueJobStep) -> StepFn:
    if step.job is Job.DATA_QUALITY:
        return _data_quality

    def run(ctx: StepContext) -> dict[str, Any]:
        from ecomlake.etl import run_job

        base = ctx.plan["base_seq"] if ctx.plan else None
        summaries = run_job(step.job, ctx.run_dates, ctx.lake, ctx.engine, run_id=ctx.run_id, base_seq=base)
        return summarise_etl(summaries)

    return run


def _lock(ctx: StepContext) -> dict[str, Any]:
    """The lake's file lock is held around the whole run (``LakeLock``); the step only says so."""
    return {"holder": ctx.run_id, "lock": str(ctx.lake / LOCK_FILE)}


def _plan(ctx: StepContext) -> dict[str, Any]:
    from ecomlake.runs.plan import plan_run

    return plan_run(LocalStorage(ctx.lake), ctx.run_id, ctx.dates).to_dict()


def _data_quality(ctx: StepContext) -> dict[str, Any]:
    """The audit job: every check on the run's view, on the run's engine; reports and the verdict."""
    from ecomlake.runs.audit import audit_storage, local_engine

    opener = local_engine(ctx.lake, ctx.run_id, ctx.engine)
    return audit_storage(LocalStorage(ctx.lake), ctx.run_id, opener, source=str(ctx.lake)).summary()


def _small_date(ctx: StepContext) -> dict[str, Any]:
    """The small path's code, on the lake directory itself: nothing to stage or upload."""
    from ecomlake.runs.small_date import run_small_date

    return run_small_date(ctx.lake, ctx.run_id)


def _audit(ctx: StepContext) -> dict[str, Any]:
    """The gate: raises DataQualityError unless the verdict passed."""
    from ecomlake.runs.audit import check_verdict

    verdict = check_verdict(LocalStorage(ctx.lake), ctx.run_id)
    return {k: verdict.get(k) for k in ("passed", "dates", "checks", "critical_failed", "warnings")}


def _publish(ctx: StepContext) -> dict[str, Any]:
    from ecomlake.runs.publish import publish_run

    base = int(ctx.plan["base_seq"]) if ctx.plan else 0
    return publish_run(LocalStorage(ctx.lake), ctx.run_id, base).to_dict()


def _dashboard_refresh(ctx: StepContext) -> dict[str, Any]:
    from ecomlake.dashboard import build

    return {"site": str(build(ctx.lake))}


def notification_key(run_id: str) -> str:
    return f"{NOTIFICATIONS_PREFIX}/{run_id}.json"


def _notify(ctx: StepContext) -> dict[str, Any]:
    """The local SNS: the message goes to a report file (the console shows it via the run's events)."""
    assert isinstance(ctx.step, NotifyStep)
    key = notification_key(ctx.run_id)
    document = {
        "run_id": ctx.run_id,
        "outcome": str(ctx.step.outcome),
        "subject": ctx.subject,
        "message": ctx.message,
        "at": _utc_now(),
    }
    LocalStorage(ctx.lake).write_bytes(key, json.dumps(document, indent=2).encode())
    return {"subject": ctx.subject, "message": ctx.message, "key": key}


LAMBDA_CALLABLES: Final[dict[PipelineFunction, StepFn]] = {
    PipelineFunction.RUN_LOCK: _lock,
    PipelineFunction.PLAN: _plan,
    PipelineFunction.SMALL_DATE: _small_date,
    PipelineFunction.DATA_QUALITY: _audit,
    PipelineFunction.PUBLISH: _publish,
    PipelineFunction.DASHBOARD_REFRESH: _dashboard_refresh,
}


def default_registry(pipeline: Pipeline = PIPELINE) -> dict[str, StepFn]:
    """Step name -> local callable, for every task step of ``pipeline``."""
    registry: dict[str, StepFn] = {}
    for step in pipeline.walk():
        if isinstance(step, GlueJobStep):
            registry[step.name] = _glue_job(step)
        elif isinstance(step, LambdaStep):
            registry[step.name] = LAMBDA_CALLABLES[step.function]
        elif isinstance(step, NotifyStep):
            registry[step.name] = _notify
    return registry


# --------------------------------------------------------------------------- the choice's settings


def resolve_settings(
    engine: str, given: Mapping[Setting, int | None] | None = None, environ: Mapping[str, str] | None = None
) -> dict[Setting, int | None]:
    """The values the spec's choices compare against, for a local run on ``engine``.

    The small-date threshold: ``given``, else ``$ECOMLAKE_SMALL_DATE_MAX_BYTES`` (bytes; ``none``:
    never), else :data:`ecomlake.pipeline.DEFAULT_SETTINGS` on DuckDB and none on Spark (a Spark
    run is asked for to exercise the Glue jobs' engine). ``None`` sends every run to the
    default branch, as a missing estimate does in the cloud.
    """
    env = os.environ if environ is None else environ
    chosen = dict(given or {})
    setting = Setting.SMALL_DATE_MAX_BYTES
    if setting not in chosen:
        text = env.get(EnvVar.SMALL_DATE_MAX_BYTES, "").strip()
        if text.lower() == "none":
            chosen[setting] = None
        elif text:
            try:
                value = int(text)
            except ValueError:
                value = -1
            if value < 0:
                raise InvalidArgumentError(
                    f"{EnvVar.SMALL_DATE_MAX_BYTES} must be a number of bytes >= 0 or 'none', got {text!r}"
                )
            chosen[setting] = value
        else:
            chosen[setting] = DEFAULT_SETTINGS[setting] if engine == "duckdb" else None
    return chosen


# --------------------------------------------------------------------------- the runner


class StepFailedError(Exception):
    """A step's error that no retrier absorbed, named as Step Functions would name it."""

    def __init__(self, step: str, error: str, cause: str) -> None:
        self.step, self.error, self.cause = step, error, cause
        super().__init__(f"{step}: {error}: {cause}")

    def as_error(self) -> dict[str, str]:
        return {"Error": self.error, "Cause": self.cause}


def error_name(step: Step, exc: BaseException) -> str:
    """The error name the state machine would see for ``exc`` raised by ``step``."""
    explicit = getattr(exc, "error_name", None)
    if explicit:
        return str(explicit)
    if isinstance(step, LambdaStep):
        return type(exc).__name__  # Lambda reports the exception class as errorType
    return STATES_TASK_FAILED


def error_cause(exc: BaseException) -> str:
    """One line: the message for errors raised on purpose; type, message and where for anything else (a bug)."""
    if isinstance(exc, EcomlakeError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class PipelineRunner:
    """Runs ``pipeline`` once over ``dates`` on a local lake. Use :func:`run_pipeline`."""

    def __init__(
        self,
        lake: Path,
        dates: Sequence[str],
        engine: str = "duckdb",
        *,
        pipeline: Pipeline = PIPELINE,
        registry: Mapping[str, StepFn] | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        run_id: str | None = None,
        wait: float = 0.0,
        settings: Mapping[Setting, int | None] | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise InvalidArgumentError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.lake = Path(lake)
        self.dates = tuple(execution_input(dates)[Input.DATES])  # validated, sorted, unique
        self.engine = engine
        self.pipeline = pipeline
        self.registry = {**default_registry(pipeline), **(registry or {})}
        self.sleep = sleep or time.sleep
        self.rng = rng or random.Random()  # noqa: S311 -- retry jitter, not security
        self.on_event = on_event or (lambda _event: None)
        self.run_id = parse_run_id(run_id) if run_id else new_run_id()
        self.wait = wait
        self.settings = resolve_settings(engine, settings)
        self.record = RunRecord(self.run_id, list(self.dates), engine, str(self.lake))
        self.plan: dict[str, Any] | None = None

    # -- public

    def run(self) -> RunRecord:
        """Take the lake's lock, run every step, write the record; raises if the lock cannot be had."""
        with LakeLock(self.lake, self.run_id, wait=self.wait):
            abort_dead_runs(self.lake)
            return self._run_locked()

    def _run_locked(self) -> RunRecord:
        record = self.record
        record.started_at = _utc_now()
        started = time.perf_counter()
        record.steps = self._plan_records()
        self._write_record()  # RUNNING: if the process dies, the next run finds and aborts it
        try:
            self._run_steps()
        finally:
            record.seconds = round(time.perf_counter() - started, 3)
            record.finished_at = _utc_now()
            if record.status == Status.RUNNING:  # only an escaping bug leaves it so
                record.status = Status.FAILED
            self._collect_outputs()
            self._estimate_cost()
            self._write_record()
        return record

    def _estimate_cost(self) -> None:
        """Price the run as AWS would bill it; an estimate that cannot be made never fails the run."""
        from ecomlake.local.run_cost import estimate_run

        try:
            self.record.cost = estimate_run(self.lake, self.record.to_dict())
        except (EcomlakeError, OSError, ValueError) as err:
            self.record.cost = {"error": str(err)}

    def _write_record(self) -> None:
        LocalStorage(self.lake).write_bytes(self.record.key, json.dumps(self.record.to_dict(), indent=2).encode())

    def _collect_outputs(self) -> None:
        """Lift what the plan, audit and publish steps said into the record's top level."""
        for field_name, step_name in (("plan", "plan"), ("audit", "data_quality"), ("published", "publish")):
            with contextlib.suppress(KeyError):
                step = self.record.step(step_name)
                if step.status == Status.SUCCEEDED:
                    setattr(self.record, field_name, step.output)
        with contextlib.suppress(KeyError):  # the small path audits inside its one step
            small = self.record.step("small_date")
            if small.status == Status.SUCCEEDED and isinstance(small.output, dict) and "audit" in small.output:
                self.record.audit = small.output["audit"]

    # -- one record per step, branch and date, all SKIPPED until they run

    def _plan_records(self) -> list[StepRecord]:
        records: list[StepRecord] = []
        top = [*self.pipeline.steps, *self.pipeline.cleanup, self.pipeline.on_failure]
        while top:
            step = top.pop(0)
            records.append(StepRecord(step.name, _kind(step)))
            if isinstance(step, ChoiceStep):  # its branches' steps are top-level states, as in ASL
                top[0:0] = [inner for branch in step.branches for inner in branch.steps]
            if isinstance(step, ParallelStep):
                records += [StepRecord(b.name, _kind(b), parent=step.name) for b in step.branches]
            if isinstance(step, LambdaStep) and step.for_each_date:
                records += [StepRecord(item_name(step, d), "date", parent=step.name) for d in self.dates]
        return records

    def _run_steps(self) -> None:
        pending: list[Step] = list(self.pipeline.steps)
        while pending:
            step = pending.pop(0)
            if isinstance(step, ChoiceStep):
                pending[0:0] = list(self._choose(step).steps)
                continue
            try:
                self._run_top_level(step)
            except StepFailedError as failure:
                self._fail(step, failure)
                return
        self.record.status = Status.SUCCEEDED
        last = self.pipeline.steps[-1]
        if isinstance(last, NotifyStep):
            self.record.notification = self.record.step(last.name).output

    def _fail(self, step: Step, failure: StepFailedError) -> None:
        record = self.record
        record.status = Status.FAILED
        record.failed_step = failure.step
        record.error = failure.as_error()
        if step.catch is None or not step.catch.matches(failure.error):
            return  # no Catch: the execution fails without a notification
        for cleanup in self.pipeline.cleanup:
            with contextlib.suppress(StepFailedError):  # a failed cleanup still goes on to the alert
                self._run_task(cleanup, error=failure.as_error())
        try:
            self._run_task(self.pipeline.on_failure, error=failure.as_error())
            record.notification = record.step(self.pipeline.on_failure.name).output
        except StepFailedError:
            pass  # the alert could not be sent; the run still ends failed with the original error

    # -- steps

    def _choose(self, step: ChoiceStep) -> Any:
        """The Choice state: the variable from the step that returned it, against the setting."""
        record = self.record.step(step.name)
        self._start(record)
        started = time.perf_counter()
        source = self.record.step(step.variable.step).output
        value = source.get(step.variable.field) if isinstance(source, dict) else None
        threshold = self.settings.get(step.threshold)
        branch = step.choose(value, threshold)
        output = {"branch": branch.name, str(step.variable.field): value, str(step.threshold): threshold}
        self._finish(record, started, Status.SUCCEEDED, output=output)
        return branch

    def _run_top_level(self, step: Step) -> None:
        if isinstance(step, ParallelStep):
            self._run_container(step.name, [(b, None) for b in step.branches])
        elif isinstance(step, LambdaStep) and step.for_each_date:
            self._run_container(step.name, [(step, d) for d in self.dates])
        else:
            self._run_task(step)

    def _run_container(self, name: str, items: list[tuple[TaskStep, str | None]]) -> None:
        """A Parallel (branches) or a per-date step (dates): all succeed, or the first failure stops it."""
        record = self.record.step(name)
        self._start(record)
        started = time.perf_counter()
        completed: list[str] = []  # the children's own records hold their outputs
        try:
            for task, day in items:
                self._run_task(task, date=day)
                completed.append(day or task.name)
        except StepFailedError as failure:
            self._finish(record, started, Status.FAILED, output={"completed": completed}, error=failure.as_error())
            raise
        self._finish(record, started, Status.SUCCEEDED, output={"completed": completed})

    def _run_task(self, step: Step, *, date: str | None = None, error: Mapping[str, str] | None = None) -> StepRecord:
        assert not isinstance(step, ParallelStep | ChoiceStep)
        name = item_name(step, date) if date else step.name
        record = self.record.step(name)
        ctx = StepContext(step, self.lake, self.dates, self.engine, self.run_id, date=date, error=error, plan=self.plan)
        if isinstance(step, NotifyStep):
            values = {str(k): v for k, v in ctx.values().items()}
            ctx = replace(ctx, subject=step.subject.format(**values), message=step.message.format(**values))
        fn = self.registry[step.name]
        retries_used = [0] * len(step.retry)  # per retrier, as ASL counts MaxAttempts
        self._start(record)
        started = time.perf_counter()
        while True:
            record.attempts += 1
            try:
                output = fn(ctx)
            except Exception as exc:
                error = {"Error": error_name(step, exc), "Cause": error_cause(exc)}
                delay = self._retry_delay(step, retries_used, error["Error"])
                if delay is None:
                    self._finish(record, started, Status.FAILED, error=error)
                    raise StepFailedError(name, error["Error"], error["Cause"]) from exc
                record.error = error
                self.on_event(RunEvent("retrying", record, delay=delay, message=f"{error['Error']}: {exc}"))
                self.sleep(delay)
                continue
            self._finish(record, started, Status.SUCCEEDED, output=_jsonable(output))
            if isinstance(step, LambdaStep) and step.function is PipelineFunction.PLAN and isinstance(output, dict):
                self.plan = output
            if isinstance(step, NotifyStep):
                self.on_event(RunEvent("notified", record, message=f"{ctx.subject}\n{ctx.message}"))
            return record

    def _retry_delay(self, step: TaskStep | NotifyStep, retries_used: list[int], error: str) -> float | None:
        """Seconds to wait before the next attempt, or None when no retrier may retry ``error``.

        As in ASL, the first retrier whose ErrorEquals matches decides; once its MaxAttempts
        are used up the error goes to the Catch, even if a later retrier would also match.
        """
        index = next((i for i, p in enumerate(step.retry) if p.matches(error)), None)
        if index is None or retries_used[index] >= step.retry[index].max_attempts:
            return None
        policy = step.retry[index]
        retries_used[index] += 1
        delay = policy.delay(retries_used[index])
        return self.rng.uniform(0, delay) if policy.jitter is Jitter.FULL else delay

    def _start(self, record: StepRecord) -> None:
        record.status = Status.RUNNING
        self.on_event(RunEvent("started", record))

    def _finish(
        self,
        record: StepRecord,
        started: float,
        status: str,
        *,
        output: Any = None,
        error: dict[str, str] | None = None,
    ) -> None:
        record.status = status
        record.seconds = round(time.perf_counter() - started, 3)
        record.output = output
        record.error = error
        self.on_event(RunEvent("finished", record))


def run_pipeline(lake: Path, dates: Sequence[str], engine: str = "duckdb", **options: Any) -> RunRecord:
    """Run the pipeline once over ``dates`` (one date, or a whole backfill) on the local lake.

    ``options`` go to :class:`PipelineRunner`: ``registry`` (step name -> callable, replacing
    the defaults), ``sleep`` (the retry wait), ``rng``, ``on_event``, ``run_id``, ``pipeline``,
    ``wait`` (seconds to wait for another run's lock; ``LakeLockedError`` after that),
    ``settings`` (``{Setting.SMALL_DATE_MAX_BYTES: bytes or None}``: see :func:`resolve_settings`).
    The run record is returned and written to ``<lake>/_runs/<run_id>.json``.
    """
    return PipelineRunner(lake, dates, engine, **options).run()


def abort_dead_runs(lake: Path) -> list[str]:
    """Mark ``ABORTED`` the records still ``RUNNING`` (call only while holding the lake's lock)."""
    storage = LocalStorage(lake)
    aborted = []
    for key in storage.list(f"{Zone.RUNS}/"):
        if key.count("/") != 1 or not key.endswith(".json"):
            continue  # a run's own folder, the lock file
        try:
            document = json.loads(storage.read_bytes(key))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and document.get("status") == Status.RUNNING:
            document["status"] = Status.ABORTED
            document["error"] = {"Error": "Aborted", "Cause": "the process running it stopped before it finished"}
            storage.write_bytes(key, json.dumps(document, indent=2).encode())
            aborted.append(str(document.get("run_id")))
    return aborted


def pending_dates(lake: Path) -> list[str]:
    """Dates whose accepted raw files differ from those their published partitions were computed from.

    A date never run, or run before a file of it landed, is pending; ``run --pending`` runs them.
    """
    return list(pending_reasons(lake))


NOT_PUBLISHED: Final = "not published yet"
FILES_CHANGED: Final = "landed files changed since it was published"


def pending_reasons(lake: Path, landed: list[str] | None = None) -> dict[str, str]:
    """The pending dates (see :func:`pending_dates`), in order, each with why it is pending.

    ``landed``: the lake's :func:`raw_dates`, when the caller has them already.
    """
    from ecomlake.etl.io import LakeIO, raw_files
    from ecomlake.etl.jobs import input_fingerprint
    from ecomlake.snapshots import load_published

    storage = LocalStorage(lake)
    published = load_published(storage)
    io_ = LakeIO(storage)
    pending: dict[str, str] = {}
    for day in raw_dates(lake) if landed is None else landed:
        known = {str(ds): published.inputs.get(str(ds), {}).get(day) for ds in Dataset}
        for dataset in Dataset:
            files = raw_files(io_, dataset, [day])
            if (files or known[str(dataset)]) and known[str(dataset)] != input_fingerprint(storage, files):
                pending[day] = FILES_CHANGED if any(known.values()) else NOT_PUBLISHED
                break
    return pending


# --------------------------------------------------------------------------- helpers


def raw_dates(lake: Path) -> list[str]:
    """Every date with at least one file landed in the raw zone (what ``--all`` backfills)."""
    root = Path(lake) / Zone.RAW
    found: set[str] = set()
    for dataset in Dataset:
        for partition in (root / dataset).glob("date=*"):
            if partition.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in partition.iterdir()):
                try:
                    found.add(parse_date(partition.name.split("=", 1)[1]))
                except EcomlakeError:
                    continue  # a stray folder is not a partition
    if not found:
        raise LakeNotFoundError(f"no raw partitions under {root}; land some files first (ecomlake ingest / demo)")
    return sorted(found)


def item_name(step: Step, date: str | None) -> str:
    return f"{step.name}[{date}]"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique: ``20250101T120000Z-1a2b3c4d``."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _kind(step: Step) -> str:
    if isinstance(step, LambdaStep) and step.for_each_date:
        return "map"
    return str(step.kind)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    """Keep step outputs JSON-safe for the run record."""
    return json.loads(json.dumps(value, default=str))


__all__ = [
    "PipelineRunner",
    "RunEvent",
    "RunRecord",
    "StepContext",
    "StepRecord",
    "default_registry",
    "raw_dates",
    "run_pipeline",
]
