"""The pipeline spec rendered as an Amazon States Language (ASL) definition.

``definition(resources)`` returns the state machine as a plain dict. Pulumi calls it with
the real job names, function ARNs and topic ARN once they are known
(``Output.all(...).apply(...)``); ``ecomlake asl`` calls it with placeholders. The same
spec drives the local runner (``ecomlake.local.runner``), so the two cannot drift.

Service integrations:

- Glue:   ``arn:aws:states:::glue:startJobRun.sync`` (waits for the job run to finish)
- Lambda: ``arn:aws:states:::lambda:invoke``
- SNS:    ``arn:aws:states:::sns:publish``

Passing the dates to Glue. The execution input carries ``dates`` as a JSON list (the
contract's ``EXECUTION_INPUT_DATES``), but a Glue argument is a string, and the
contract's ``--dates`` is comma-separated. ASL's JSONPath intrinsics have no array join
(there is ``States.StringSplit`` but no inverse; ``States.JsonToString`` would give
``["2025-01-01"]``, which is not the argument's format). Rather than ask every caller
to send the same dates twice (a list and a string that could disagree), the definition
starts with three small states that join the list in the state machine itself::

    join_dates      Pass    {csv: dates[0], next: 1, count: len(dates)}
    more_dates      Choice  next < count ?
    join_next_date  Pass    {csv: csv + "," + dates[next], next: next + 1}  -> more_dates

A one-date run takes two transitions, a 30-day backfill sixty (a fraction of a cent).
An execution whose ``dates`` is empty or missing fails right there, before any job runs.

Error handling. Every task has a ``Retry`` (from the spec). The top-level states have a
``Catch`` on ``States.ALL`` with ``ResultPath: "$.error"`` that goes to the failure path:
the cleanup steps (releasing the lake's lock), then the failure notification. Tasks inside
a Parallel branch or a Map iteration cannot catch to a state outside their branch, so their
container's Catch covers them. A cleanup step that fails still goes on to the notification,
and the notification itself catches into the final ``Fail`` state, so an execution whose
alert could not be sent still ends failed with the original error (``ErrorPath``/``CausePath``).
The execution's ``TimeoutSeconds`` covers every step's worst case (``Pipeline.worst_case_seconds``),
so no run dies where no Catch sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from string import Formatter
from typing import Any, Final

from ecomlake.contract import PROJECT, Job
from ecomlake.pipeline import (
    DEFAULT_SETTINGS,
    PIPELINE,
    ChoiceStep,
    GlueJobStep,
    Input,
    Jitter,
    LambdaStep,
    NotifyStep,
    ParallelStep,
    Pipeline,
    PipelineFunction,
    RetryPolicy,
    Setting,
    Step,
    StepOutput,
    template_fields,
)

# Where each named input lives while the state machine runs.
JOINED_DATES: Final = "$.joined_dates"
INPUT_PATHS: Final[dict[Input, str]] = {
    Input.RUN_ID: "$$.Execution.Name",
    Input.EXECUTION_ID: "$$.Execution.Id",
    Input.DATES: f"$.{Input.DATES}",
    Input.DATES_CSV: f"{JOINED_DATES}.csv",
    Input.DATE_COUNT: f"{JOINED_DATES}.count",
    Input.DATE: "$$.Map.Item.Value",
    Input.ERROR: "$.error.Error",
    Input.CAUSE: "$.error.Cause",
}
# Message arguments that are expressions rather than paths (States.Format takes no arrays).
MESSAGE_ARGUMENTS: Final[dict[Input, str]] = {
    Input.DATES_TEXT: f"States.JsonToString({INPUT_PATHS[Input.DATES]})",
}

# States that join the dates list into the Glue argument (see the module docstring).
JOIN_DATES: Final = "join_dates"
MORE_DATES: Final = "more_dates"
JOIN_NEXT_DATE: Final = "join_next_date"

PLACEHOLDER_ACCOUNT: Final = "123456789012"
PLACEHOLDER_REGION: Final = "us-east-1"


def integration(partition: str, service_action: str) -> str:
    """The ARN of an optimized service integration, e.g. ``glue:startJobRun.sync``."""
    return f"arn:{partition}:states:::{service_action}"


@dataclass(frozen=True)
class PipelineResources:
    """The physical resources the definition points at, supplied by the deployment.

    ``glue_jobs`` maps each job to its Glue job *name* (``StartJobRun`` takes a name);
    ``functions`` maps each pipeline function to its Lambda function ARN; the topic is
    where success and failure notifications go; ``stage`` appears in message subjects;
    ``settings`` are the stack's values the spec's choices compare against (the
    small-date threshold), written into the definition as literals.
    """

    glue_jobs: Mapping[Job, str]
    functions: Mapping[PipelineFunction, str]
    alerts_topic_arn: str
    stage: str = "dev"
    partition: str = "aws"
    settings: Mapping[Setting, int] = field(default_factory=dict)

    @classmethod
    def placeholders(
        cls,
        stage: str = "dev",
        *,
        region: str = PLACEHOLDER_REGION,
        account_id: str = PLACEHOLDER_ACCOUNT,
        pipeline: Pipeline = PIPELINE,
    ) -> PipelineResources:
        """Names shaped like the deployed ones (``ecomlake-<stage>-<purpose>``), with a dummy account."""
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", stage):
            raise ValueError(f"stage must be lowercase letters, digits and hyphens, got {stage!r}")

        def name(purpose: str) -> str:
            return f"{PROJECT}-{stage}-{purpose.replace('_', '-')}"

        return cls(
            glue_jobs={job: name(job) for job in pipeline.glue_jobs},
            functions={fn: f"arn:aws:lambda:{region}:{account_id}:function:{name(fn)}" for fn in pipeline.functions},
            alerts_topic_arn=f"arn:aws:sns:{region}:{account_id}:{name('alerts')}",
            stage=stage,
            settings={setting: DEFAULT_SETTINGS[setting] for setting in pipeline.settings},
        )


def definition(resources: PipelineResources, pipeline: Pipeline = PIPELINE) -> dict[str, Any]:
    """The state machine definition (a JSON-ready dict) for ``pipeline`` over ``resources``."""
    missing = [str(j) for j in pipeline.glue_jobs if j not in resources.glue_jobs]
    missing += [str(f) for f in pipeline.functions if f not in resources.functions]
    missing += [f"setting {s}" for s in pipeline.settings if s not in resources.settings]
    if missing:
        raise ValueError(f"no deployed resource given for: {', '.join(missing)}")

    render = _Renderer(resources, pipeline)
    states: dict[str, Any] = dict(render.join_dates(first=pipeline.steps[0].name))
    for step, following in chained(pipeline.steps, None):
        if isinstance(step, ChoiceStep):
            states[step.name] = render.choice(step)
        else:
            states[step.name] = render.top_level(step, following)
    for step, following in chained(pipeline.cleanup, pipeline.on_failure.name):
        states[step.name] = render.cleanup(step, following)
    states[pipeline.on_failure.name] = render.failure_notification()
    states[pipeline.fail_state] = {
        "Type": "Fail",
        "Comment": "The run failed; the failure notification carries the details.",
        "ErrorPath": INPUT_PATHS[Input.ERROR],
        "CausePath": INPUT_PATHS[Input.CAUSE],
    }
    return {
        "Comment": pipeline.comment,
        "StartAt": JOIN_DATES,
        "TimeoutSeconds": pipeline.timeout_seconds,
        "States": states,
    }


def chained(steps: Sequence[Step], after: str | None) -> list[tuple[Step, str | None]]:
    """Each top-level state with the state it goes on to (``None``: the end).

    A Choice's branches are laid out as top-level states too: each branch's steps run in
    order and its last goes on to the step after the Choice, where the branches join.
    """
    out: list[tuple[Step, str | None]] = []
    for index, step in enumerate(steps):
        following = steps[index + 1].name if index + 1 < len(steps) else after
        out.append((step, None if isinstance(step, ChoiceStep) else following))
        if isinstance(step, ChoiceStep):
            for branch in step.branches:
                out += chained(branch.steps, following)
    return out


def output_path(variable: StepOutput) -> str:
    """Where a Lambda step's returned field lives in the state: ``$.<step>.payload.<field>``."""
    return f"$.{variable.step}.payload.{variable.field}"


def retrier(policy: RetryPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ErrorEquals": list(policy.errors),
        "IntervalSeconds": policy.interval_seconds,
        "MaxAttempts": policy.max_attempts,
        "BackoffRate": policy.backoff_rate,
    }
    if policy.max_delay_seconds:
        out["MaxDelaySeconds"] = policy.max_delay_seconds
    out["JitterStrategy"] = str(policy.jitter if policy.max_attempts else Jitter.NONE)
    if policy.comment:
        out["Comment"] = policy.comment
    return out


def _escape(literal: str) -> str:
    """Escape a literal for an intrinsic-function string: ' { } and \\ take a backslash."""
    return re.sub(r"([\\'{}])", r"\\\1", literal)


def format_expression(template: str, static: Mapping[Input, str]) -> tuple[str, bool]:
    """A message template as ASL: ``(text, False)`` if fully static, else ``(States.Format(...), True)``.

    ``static`` values (known when the definition is generated, like the stage) are written
    into the template; the others become JSONPath arguments of ``States.Format``.
    """
    template_fields(template)  # validates the field names
    literal, args = [], []
    for text, name, _, _ in Formatter().parse(template):
        literal.append(text)
        if name is None:
            continue
        key = Input(name)
        if key in static:
            literal.append(static[key])
        else:
            literal.append("\0")  # marks an argument slot until escaping is done
            args.append(MESSAGE_ARGUMENTS.get(key) or INPUT_PATHS[key])
    joined = "".join(literal)
    if not args:
        return joined, False
    body = "{}".join(_escape(part) for part in joined.split("\0"))
    return f"States.Format('{body}', {', '.join(args)})", True


class _Renderer:
    def __init__(self, resources: PipelineResources, pipeline: Pipeline) -> None:
        self.resources = resources
        self.pipeline = pipeline
        self.static = {Input.STAGE: resources.stage}

    # -- the dates prelude

    def join_dates(self, first: str) -> dict[str, Any]:
        dates = INPUT_PATHS[Input.DATES]
        return {
            JOIN_DATES: {
                "Type": "Pass",
                "Comment": "Glue takes --dates as one comma-separated string; ASL has no array join, so build it.",
                "Parameters": {
                    "csv.$": f"States.ArrayGetItem({dates}, 0)",
                    "next": 1,
                    "count.$": f"States.ArrayLength({dates})",
                },
                "ResultPath": JOINED_DATES,
                "Next": MORE_DATES,
            },
            MORE_DATES: {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": f"{JOINED_DATES}.next",
                        "NumericLessThanPath": f"{JOINED_DATES}.count",
                        "Next": JOIN_NEXT_DATE,
                    }
                ],
                "Default": first,
            },
            JOIN_NEXT_DATE: {
                "Type": "Pass",
                "Parameters": {
                    "csv.$": f"States.Format('{{}},{{}}', {JOINED_DATES}.csv, "
                    f"States.ArrayGetItem({dates}, {JOINED_DATES}.next))",
                    "next.$": f"States.MathAdd({JOINED_DATES}.next, 1)",
                    "count.$": f"{JOINED_DATES}.count",
                },
                "ResultPath": JOINED_DATES,
                "Next": MORE_DATES,
            },
        }

    # -- states

    def top_level(self, step: Step, following: str | None) -> dict[str, Any]:
        result_path = f"$.{step.name}"
        if isinstance(step, ParallelStep):
            state = self.parallel(step, result_path)
        elif isinstance(step, LambdaStep) and step.for_each_date:
            state = self.per_date(step)
        else:
            state = self.task(step, result_path)
        state.update({"Next": following} if following else {"End": True})
        if step.catch is not None:
            state["Catch"] = [
                {
                    "ErrorEquals": list(step.catch.errors),
                    "ResultPath": step.catch.result_path,
                    "Next": self.failure_path,
                }
            ]
        return state

    def choice(self, step: ChoiceStep) -> dict[str, Any]:
        """A Choice: the ``when_at_most`` branch only for a present, numeric value at most the setting.

        ``IsPresent`` comes first: comparing a path that does not exist is a runtime error in
        ASL, so a plan that returned no estimate must fall through to the default (Glue) branch.
        """
        path = output_path(step.variable)
        state: dict[str, Any] = {"Type": "Choice"}
        if step.comment:
            state["Comment"] = step.comment
        state["Choices"] = [
            {
                "And": [
                    {"Variable": path, "IsPresent": True},
                    {"Variable": path, "IsNumeric": True},
                    {"Variable": path, "NumericLessThanEquals": self.resources.settings[step.threshold]},
                ],
                "Next": step.when_at_most.steps[0].name,
            }
        ]
        state["Default"] = step.otherwise.steps[0].name
        return state

    @property
    def failure_path(self) -> str:
        """The first state a caught error goes to: the cleanup, else the notification."""
        cleanup = self.pipeline.cleanup
        return cleanup[0].name if cleanup else self.pipeline.on_failure.name

    def cleanup(self, step: LambdaStep, following: str) -> dict[str, Any]:
        """A failure-path step: whatever happens, go on towards the notification, keeping ``$.error``."""
        state = self.task(step, f"$.{step.name}")
        state["Next"] = following
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.{step.name}_error", "Next": following}]
        return state

    def failure_notification(self) -> dict[str, Any]:
        step = self.pipeline.on_failure
        state = self.task(step, f"$.{step.name}")
        state["Next"] = self.pipeline.fail_state
        if step.catch is not None:
            # The alert could not be sent: still end failed, keeping the original "$.error".
            state["Catch"] = [
                {
                    "ErrorEquals": list(step.catch.errors),
                    "ResultPath": "$.notify_error",
                    "Next": self.pipeline.fail_state,
                }
            ]
        return state

    def task(self, step: Step, result_path: str | None, *, map_item: bool = False) -> dict[str, Any]:
        if isinstance(step, GlueJobStep):
            state = self.glue(step)
        elif isinstance(step, LambdaStep):
            payload = None
            if not map_item:
                payload = {f"{k}.$": INPUT_PATHS[k] for k in step.payload}
                payload.update(dict(step.constants))
            state = self.lambda_invoke(step, payload)
        elif isinstance(step, NotifyStep):
            state = self.notify(step)
        else:
            raise TypeError(f"not a task step: {step!r}")
        state["ResultPath"] = result_path
        state["TimeoutSeconds"] = step.timeout_seconds
        state["Retry"] = [retrier(p) for p in step.retry]
        return state

    def glue(self, step: GlueJobStep) -> dict[str, Any]:
        arguments = {f"--{arg}.$": INPUT_PATHS[source] for arg, source in step.arguments}
        return {
            "Type": "Task",
            "Comment": f"Glue job {step.job}",
            "Resource": integration(self.resources.partition, "glue:startJobRun.sync"),
            "Parameters": {"JobName": self.resources.glue_jobs[step.job], "Arguments": arguments},
            # Keep the state small: the job run's identity and final state, not the whole JobRun.
            "ResultSelector": {"job.$": "$.JobName", "run_id.$": "$.Id", "state.$": "$.JobRunState"},
        }

    def lambda_invoke(self, step: LambdaStep, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        parameters: dict[str, Any] = {"FunctionName": self.resources.functions[step.function]}
        if payload is None:
            parameters["Payload.$"] = "$"  # inside a Map iteration the item *is* the payload
        else:
            parameters["Payload"] = dict(payload)
        return {
            "Type": "Task",
            "Comment": f"Lambda {step.function}",
            "Resource": integration(self.resources.partition, "lambda:invoke"),
            "Parameters": parameters,
            "ResultSelector": {"payload.$": "$.Payload"},
        }

    def notify(self, step: NotifyStep) -> dict[str, Any]:
        parameters: dict[str, Any] = {"TopicArn": self.resources.alerts_topic_arn}
        for key, template in (("Subject", step.subject), ("Message", step.message)):
            text, dynamic = format_expression(template, self.static)
            parameters[f"{key}.$" if dynamic else key] = text
        return {
            "Type": "Task",
            "Comment": f"Notify: run {str(step.outcome).lower()}",
            "Resource": integration(self.resources.partition, "sns:publish"),
            "Parameters": parameters,
            "ResultSelector": {"message_id.$": "$.MessageId"},
        }

    def parallel(self, step: ParallelStep, result_path: str) -> dict[str, Any]:
        branches = []
        for branch in step.branches:
            # A branch's output is only its own result; the Parallel collects them in order.
            state = self.task(branch, "$")
            state["End"] = True
            branches.append({"StartAt": branch.name, "States": {branch.name: state}})
        return {
            "Type": "Parallel",
            "Comment": "Per-dataset ETL jobs, at the same time",
            "Branches": branches,
            "ResultPath": result_path,
        }

    def per_date(self, step: LambdaStep) -> dict[str, Any]:
        inner = f"{step.name}_date"
        state = self.task(step, "$", map_item=True)
        state["End"] = True
        return {
            "Type": "Map",
            "Comment": f"{step.name}: one invocation per date",
            "ItemsPath": INPUT_PATHS[Input.DATES],
            "ItemSelector": {f"{k}.$": INPUT_PATHS[k] for k in step.payload},
            "MaxConcurrency": step.max_concurrency,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": inner,
                "States": {inner: state},
            },
            # The per-date reports are in the reports bucket; keep the execution state small.
            "ResultPath": None,
        }


# --------------------------------------------------------------------------- diagram


def _node(name: str, label: str, shape: str = "rect") -> str:
    text = label.replace('"', "'")
    return {
        "rect": f'{name}["{text}"]',
        "round": f'{name}(["{text}"])',
        "diamond": f'{name}{{"{text}"}}',
        "stop": f'{name}((("{text}")))',
    }[shape]


_SERVICE_LABELS: Final = {"glue": "Glue job", "lambda": "Lambda", "sns": "SNS publish"}


def _label(name: str, state: Mapping[str, Any]) -> str:
    resource = str(state.get("Resource", ""))
    service = resource.rsplit(":::", 1)[-1].split(":", 1)[0]
    return f"{name}<br/>{_SERVICE_LABELS.get(service, service)}"


def mermaid(asl: Mapping[str, Any]) -> str:
    """A mermaid flowchart of a definition: states, transitions, and (dashed) Catch edges."""
    lines = ["flowchart TD", f'    start(("start")) --> {asl["StartAt"]}']
    ends: list[str] = []

    def walk(states: Mapping[str, Any], indent: str) -> None:
        for name, state in states.items():
            kind = state["Type"]
            if kind in ("Parallel", "Map"):
                title = "in parallel" if kind == "Parallel" else "for each date"
                lines.append(f'{indent}subgraph {name}["{name}: {title}"]')
                if kind == "Parallel":
                    for branch in state["Branches"]:
                        walk(branch["States"], indent + "    ")
                else:
                    walk(state["ItemProcessor"]["States"], indent + "    ")
                lines.append(f"{indent}end")
            elif kind == "Choice":
                lines.append(indent + _node(name, f"{name}?", "diamond"))
            elif kind == "Fail":
                lines.append(indent + _node(name, f"{name}<br/>Fail", "stop"))
            elif kind == "Pass":
                lines.append(indent + _node(name, name, "round"))
            else:
                lines.append(indent + _node(name, _label(name, state)))

    def edges(states: Mapping[str, Any], top: bool) -> None:
        for name, state in states.items():
            for choice in state.get("Choices", []):
                lines.append(f"    {name} -->|yes| {choice['Next']}")
            if "Default" in state:
                lines.append(f"    {name} -->|no| {state['Default']}")
            if "Next" in state:
                lines.append(f"    {name} --> {state['Next']}")
            if top and state.get("End"):
                ends.append(name)
            for catch in state.get("Catch", []):
                lines.append(f"    {name} -.->|error| {catch['Next']}")

    walk(asl["States"], "    ")
    edges(asl["States"], top=True)
    for end in ends:
        lines.append(f'    {end} --> done(("succeeded"))')
    return "\n".join(lines) + "\n"
