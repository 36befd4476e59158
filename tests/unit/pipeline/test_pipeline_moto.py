"""Executions of the generated definition on moto's Step Functions interpreter.

What moto 5.2.5 executes, and what it cannot:

- Pass / Choice (the dates-join prelude, with ``States.ArrayGetItem``, ``States.MathAdd``,
  ``States.Format``), Parallel, Catch, Retry, Fail with ``ErrorPath``/``CausePath``,
  ``lambda:invoke`` (without Docker, moto's Lambda echoes the payload back, so each step's
  output shows the payload the definition built) and ``sns:publish`` (delivered to an SQS
  subscription we read back): all run as generated.
- ``glue:startJobRun.sync`` does **not** run: moto's sync-integration code calls
  ``interrupt_all()`` on a callback endpoint that only exists for
  ``.waitForTaskToken`` resources, so every Glue ``.sync`` task ends in
  ``States.Runtime`` ("'NoneType' object has no attribute 'interrupt_all'"). For these
  tests the Glue tasks are therefore swapped for the request-response form of the same
  call (``aws-sdk:glue:startJobRun``) with the *same* ``Parameters`` -- so moto really
  starts each job run with the generated ``--dates`` and ``--run_id`` arguments -- and a
  ResultSelector for that call's output. Only the wait for the job run to finish is not
  exercised. ``test_glue_sync_runs_unmodified`` runs the definition untouched and is
  expected to fail; when moto fixes this it will start passing, and strict xfail will flag
  it so the swap can go.

The Choice (``small_enough``) reads the plan's ``staged_bytes`` from the plan Lambda's
payload. moto's Lambda echoes its input, so the plan step returns ``{"dates", "run_id"}`` and no
estimate -- the Glue branch, as a real plan without an estimate would take. To take the small
branch, :func:`plan_estimate` adds a constant ``staged_bytes`` to the plan's payload: the echo
hands it back through the same ``ResultSelector`` the real function's answer goes through, so
the Choice itself runs as generated.

The failing step of the failure path is a Glue job that does not exist
(``glue.EntityNotFoundException`` from the swapped ``aws-sdk`` call): the job-run retrier
(``States.TaskFailed``, one retry after up to 15 s -- retry waits are real sleeps in moto)
tries it twice, then the Catch runs the cleanup (``release_lock_after_failure``) and the one
failure notification.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecomlake.asl import PipelineResources, definition
from ecomlake.contract import Job
from ecomlake.pipeline import PIPELINE, PipelineFunction, Setting, execution_input

REGION = "us-east-1"
SFN_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
DATES = ["2025-01-03", "2025-01-01", "2025-01-02"]
THRESHOLD = 50_000_000  # the stack's smallDateMaxBytes in these tests


def glue_without_wait(document: dict[str, Any]) -> dict[str, Any]:
    """The definition with each ``glue:startJobRun.sync`` task as request-response (see the module docstring)."""
    copy = json.loads(json.dumps(document))

    def swap(states: dict[str, Any]) -> None:
        for state in states.values():
            if state.get("Resource", "").endswith(":glue:startJobRun.sync"):
                state["Resource"] = "arn:aws:states:::aws-sdk:glue:startJobRun"
                state["ResultSelector"] = {"run_id.$": "$.JobRunId"}
            for branch in state.get("Branches", []):
                swap(branch["States"])
            if "ItemProcessor" in state:
                swap(state["ItemProcessor"]["States"])

    swap(copy["States"])
    return copy


def plan_estimate(document: dict[str, Any], staged_bytes: Any) -> dict[str, Any]:
    """The definition with the plan's payload carrying ``staged_bytes`` (moto's Lambda echoes it back)."""
    copy = json.loads(json.dumps(document))
    copy["States"]["plan"]["Parameters"]["Payload"]["staged_bytes"] = staged_bytes
    return copy


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


class Cloud:
    """The AWS side of one test, in moto: jobs, functions, topic (+ a queue to read it), state machine."""

    def __init__(self, *, create_functions: bool = True, missing_jobs: tuple[Job, ...] = ()) -> None:
        self.iam = boto3.client("iam", region_name=REGION)
        self.glue = boto3.client("glue", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        self.role = self.iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        jobs = {}
        for job in PIPELINE.glue_jobs:
            name = f"ecomlake-test-{job}"
            command = {"Name": "glueetl", "ScriptLocation": f"s3://artifacts/{job}.py"}
            if job not in missing_jobs:
                self.glue.create_job(Name=name, Role=self.role, Command=command)
            jobs[job] = name
        functions = {}
        for fn in dict.fromkeys(PIPELINE.functions):  # the lock function serves three steps
            name = f"ecomlake-test-{fn}"
            if create_functions:
                functions[fn] = lam.create_function(
                    FunctionName=name,
                    Runtime="python3.11",
                    Role=self.role,
                    Handler="handler.handler",
                    Code={"ZipFile": lambda_zip()},
                )["FunctionArn"]
            else:
                functions[fn] = f"arn:aws:lambda:{REGION}:123456789012:function:{name}"
        topic = sns.create_topic(Name="ecomlake-test-alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        self.resources = PipelineResources(
            jobs, functions, topic, stage="test", settings={Setting.SMALL_DATE_MAX_BYTES: THRESHOLD}
        )

    def create(self, document: dict[str, Any]) -> str:
        return self.sfn.create_state_machine(name="pipeline", definition=json.dumps(document), roleArn=self.role)[
            "stateMachineArn"
        ]

    def finish(self, machine: str, dates: list[str], name: str = "run-1") -> dict[str, Any]:
        """Start an execution and wait for it to end; its description."""
        # moto leaves $$.Execution.Name empty unless the caller names the execution.
        arn = self.sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(execution_input(dates)))[
            "executionArn"
        ]
        deadline = time.monotonic() + 60
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution did not finish"
            time.sleep(0.05)
        return described

    def execute(self, machine: str, dates: list[str], name: str = "run-1") -> tuple[dict[str, Any], list[dict]]:
        described = self.finish(machine, dates, name)
        events = self.sfn.get_execution_history(executionArn=described["executionArn"], maxResults=1000)["events"]
        return described, events

    def job_arguments(self) -> dict[Job, list[dict[str, str]]]:
        """The arguments of every run of every job (a job that does not exist has none)."""
        found: dict[Job, list[dict[str, str]]] = {}
        for job, name in self.resources.glue_jobs.items():
            try:
                found[job] = [run["Arguments"] for run in self.glue.get_job_runs(JobName=name)["JobRuns"]]
            except self.glue.exceptions.EntityNotFoundException:
                found[job] = []
        return found

    def messages(self) -> list[str]:
        got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"])["Message"] for m in got]


def entered(events: list[dict]) -> list[str]:
    """State names in the order they were entered."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def scheduled(events: list[dict], resource: str) -> list[dict[str, Any]]:
    return [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in events
        if e.get("taskScheduledEventDetails", {}).get("resource") == resource
    ]


MISSING_JOB = "glue.EntityNotFoundException"


def payloads(events: list[dict], function: PipelineFunction, resources: PipelineResources) -> list[dict[str, Any]]:
    """The payload of every invocation of one pipeline function, in order."""
    arn = resources.functions[function]
    return [p["Payload"] for p in scheduled(events, "invoke") if p["FunctionName"] == arn]


def top_level(order: list[str]) -> list[str]:
    """Entered states of the top level only, each once (the dates prelude loops)."""
    names = [n for n in order if n in TOP_LEVEL]
    return list(dict.fromkeys(names))


TOP_LEVEL = (
    "acquire_lock",
    "plan",
    "small_enough",
    "small_date",
    "etl",
    "master_data_merge",
    "data_quality",
    "audit",
    "publish",
    "dashboard_refresh",
    "release_lock",
    "notify_success",
    "release_lock_after_failure",
    "notify_failure",
    "failed",
)


@pytest.fixture
def happy_cloud() -> Iterator[Cloud]:
    with mock_aws(config={**SFN_CONFIG, "lambda": {"use_docker": False}}):
        yield Cloud()


def test_happy_path_locks_plans_writes_audits_publishes_and_unlocks(happy_cloud):
    machine = happy_cloud.create(glue_without_wait(definition(happy_cloud.resources)))
    described, events = happy_cloud.execute(machine, DATES)

    assert described["status"] == "SUCCEEDED", described
    # The plan's echo carries no estimate: the Choice's IsPresent guard sends the run to Glue.
    assert top_level(entered(events)) == [
        "acquire_lock",
        "plan",
        "small_enough",
        "etl",
        "master_data_merge",
        "data_quality",
        "audit",
        "publish",
        "dashboard_refresh",
        "release_lock",
        "notify_success",
    ]
    assert payloads(events, PipelineFunction.SMALL_DATE, happy_cloud.resources) == []
    execution = described["executionArn"]
    resources = happy_cloud.resources
    # The lock steps name the run and hold the lake for this execution (its ARN).
    assert payloads(events, PipelineFunction.RUN_LOCK, resources) == [
        {"run_id": "run-1", "execution_id": execution, "action": "acquire"},
        {"run_id": "run-1", "execution_id": execution, "action": "release"},
    ]
    assert payloads(events, PipelineFunction.PLAN, resources) == [{"dates": sorted(DATES), "run_id": "run-1"}]
    assert payloads(events, PipelineFunction.DATA_QUALITY, resources) == [{"run_id": "run-1"}]
    assert payloads(events, PipelineFunction.PUBLISH, resources) == [{"run_id": "run-1"}]
    assert payloads(events, PipelineFunction.DASHBOARD_REFRESH, resources) == [
        {"dates": sorted(DATES), "run_id": "run-1"}
    ]
    # The join prelude turned the list into Glue's comma-separated argument; one run per job,
    # each told its run (the jobs read _runs/<run_id>/plan.json and name their versions after it).
    expected = "2025-01-01,2025-01-02,2025-01-03"
    assert happy_cloud.job_arguments() == {
        job: [{"--dates": expected, "--run_id": "run-1"}] for job in PIPELINE.glue_jobs
    }
    output = json.loads(described["output"])
    assert [r["run_id"][:3] for r in output["etl"]] == ["jr_"] * 3
    assert happy_cloud.messages() == [f"ecomlake pipeline run run-1 succeeded for 3 date(s): {expected}."]


def test_a_single_date_run_passes_that_date_alone(happy_cloud):
    machine = happy_cloud.create(glue_without_wait(definition(happy_cloud.resources)))
    described, events = happy_cloud.execute(machine, ["2025-02-01"], name="one-day")

    assert described["status"] == "SUCCEEDED", described
    assert "join_next_date" not in entered(events)
    assert happy_cloud.job_arguments() == {
        job: [{"--dates": "2025-02-01", "--run_id": "one-day"}] for job in PIPELINE.glue_jobs
    }


def test_a_failed_step_releases_the_lock_then_sends_one_failure_notification():
    with mock_aws(config={**SFN_CONFIG, "lambda": {"use_docker": False}}):
        cloud = Cloud(missing_jobs=(Job.MASTER_DATA_MERGE,))
        machine = cloud.create(glue_without_wait(definition(cloud.resources)))
        described, events = cloud.execute(machine, DATES)

        assert described["status"] == "FAILED"
        # The Fail state's ErrorPath: the swapped aws-sdk call's error, as moto names it.
        assert described["error"] == MISSING_JOB
        assert top_level(entered(events)) == [
            "acquire_lock",
            "plan",
            "small_enough",
            "etl",
            "master_data_merge",
            "release_lock_after_failure",
            "notify_failure",
            "failed",
        ]
        # The job-run retrier tried the merge twice; nothing after it ran: no audit, no publication.
        merge = cloud.resources.glue_jobs[Job.MASTER_DATA_MERGE]
        attempts = [p for p in scheduled(events, "startJobRun") if p["JobName"] == merge]
        assert len(attempts) == 2
        assert payloads(events, PipelineFunction.PUBLISH, cloud.resources) == []
        # The lock is released by the same execution that took it, before the alert goes out.
        execution = described["executionArn"]
        assert payloads(events, PipelineFunction.RUN_LOCK, cloud.resources) == [
            {"run_id": "run-1", "execution_id": execution, "action": "acquire"},
            {"run_id": "run-1", "execution_id": execution, "action": "release"},
        ]
        # Exactly one alert (SNS publishes), naming the run, its dates and the error.
        assert len(scheduled(events, "publish")) == 1
        (message,) = cloud.messages()
        assert message.startswith(
            f'ecomlake pipeline run run-1 failed for ["2025-01-01","2025-01-02","2025-01-03"]. Error: {MISSING_JOB}.'
        )


def test_the_failure_path_goes_on_when_the_release_itself_fails():
    """acquire_lock fails (its function is missing): the release still runs, then one alert."""
    with mock_aws(config=SFN_CONFIG):  # Docker-backed Lambda: a missing function is an error
        cloud = Cloud(create_functions=False)
        machine = cloud.create(glue_without_wait(definition(cloud.resources)))
        described, events = cloud.execute(machine, DATES)

        assert described["status"] == "FAILED"
        assert described["error"] == "Lambda.ResourceNotFoundException"  # the original error, not the cleanup's
        assert top_level(entered(events)) == ["acquire_lock", "release_lock_after_failure", "notify_failure", "failed"]
        failed_tasks = [e["taskFailedEventDetails"]["error"] for e in events if "taskFailedEventDetails" in e]
        assert failed_tasks == ["Lambda.ResourceNotFoundException"] * 2  # acquire, then the release
        (message,) = cloud.messages()
        assert "Error: Lambda.ResourceNotFoundException" in message
        assert cloud.job_arguments() == {job: [] for job in PIPELINE.glue_jobs}


@pytest.mark.parametrize("estimate", [0, 1_234_567, THRESHOLD])
def test_a_small_estimate_runs_one_lambda_instead_of_the_glue_jobs(happy_cloud, estimate):
    machine = happy_cloud.create(plan_estimate(glue_without_wait(definition(happy_cloud.resources)), estimate))
    described, events = happy_cloud.execute(machine, DATES, name="small-run")

    assert described["status"] == "SUCCEEDED", described
    assert top_level(entered(events)) == [
        "acquire_lock",
        "plan",
        "small_enough",
        "small_date",
        "audit",
        "publish",
        "dashboard_refresh",
        "release_lock",
        "notify_success",
    ]
    resources = happy_cloud.resources
    assert payloads(events, PipelineFunction.SMALL_DATE, resources) == [{"run_id": "small-run"}]
    assert payloads(events, PipelineFunction.DATA_QUALITY, resources) == [{"run_id": "small-run"}]
    # No Glue job ran: not one job run of any job.
    assert happy_cloud.job_arguments() == {job: [] for job in PIPELINE.glue_jobs}
    output = json.loads(described["output"])
    assert output["plan"]["payload"]["staged_bytes"] == estimate
    assert output["small_date"]["payload"] == {"run_id": "small-run"}
    assert "etl" not in output


@pytest.mark.parametrize("estimate", [THRESHOLD + 1, 10**12, "1024", None, [1]])
def test_anything_but_a_small_number_goes_to_glue(happy_cloud, estimate):
    machine = happy_cloud.create(plan_estimate(glue_without_wait(definition(happy_cloud.resources)), estimate))
    described, events = happy_cloud.execute(machine, ["2025-02-01"], name="big-run")

    assert described["status"] == "SUCCEEDED", described
    order = top_level(entered(events))
    assert order[:6] == ["acquire_lock", "plan", "small_enough", "etl", "master_data_merge", "data_quality"]
    assert "small_date" not in order
    assert payloads(events, PipelineFunction.SMALL_DATE, happy_cloud.resources) == []
    assert happy_cloud.job_arguments() == {
        job: [{"--dates": "2025-02-01", "--run_id": "big-run"}] for job in PIPELINE.glue_jobs
    }


def test_a_failed_small_date_releases_the_lock_then_alerts_once():
    """The small path's function is missing: its error takes the same failure path as a Glue job's."""
    with mock_aws(config=SFN_CONFIG):  # Docker-backed Lambda: a missing function is an error
        cloud = Cloud(create_functions=False)
        document = plan_estimate(glue_without_wait(definition(cloud.resources)), 10)
        # Every other step passes through (the lock, plan, audit...), as Pass states with their results.
        for name in ("acquire_lock", "plan", "release_lock_after_failure"):
            state = document["States"][name]
            kept = {k: state[k] for k in ("Next", "Catch") if k in state}
            result = {"payload": {"staged_bytes": 10}} if name == "plan" else {"payload": {}}
            document["States"][name] = {"Type": "Pass", "Result": result, "ResultPath": f"$.{name}", **kept}
        machine = cloud.create(document)
        described, events = cloud.execute(machine, DATES)

        assert described["status"] == "FAILED"
        assert described["error"] == "Lambda.ResourceNotFoundException"
        assert top_level(entered(events)) == [
            "acquire_lock",
            "plan",
            "small_enough",
            "small_date",
            "release_lock_after_failure",
            "notify_failure",
            "failed",
        ]
        (message,) = cloud.messages()
        assert "Error: Lambda.ResourceNotFoundException" in message
        assert cloud.job_arguments() == {job: [] for job in PIPELINE.glue_jobs}


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="moto 5.2.5 cannot execute glue:startJobRun.sync (callback endpoint is None -> States.Runtime)",
)
def test_glue_sync_runs_unmodified(happy_cloud):
    # The description only: moto 5.2.5 sometimes cannot serialise the history of a failed .sync
    # task (a dict where an integer belongs), which would fail this test for another reason.
    machine = happy_cloud.create(definition(happy_cloud.resources))
    described = happy_cloud.finish(machine, ["2025-01-01"], name="sync")
    assert described["status"] == "SUCCEEDED", described.get("cause")
