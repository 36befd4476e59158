"""ecomlake cloud-check, offline: moto for S3, Step Functions and Athena; a fake at the Pulumi boundary.

The real local pipeline runs once on a tiny generated data set; moto's Athena answers with
those rows rewritten the way Athena writes result sets (every value as text), so the
comparison is exercised on real answers of real queries.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ecomlake.local.cloud_check import (
    AthenaAnswer,
    CheckOptions,
    CloudCheckError,
    CloudStack,
    DataSet,
    compare,
    execution_path,
    glue_runs_since,
    land_raw,
    local_answers,
    raw_files,
    run_athena,
    run_check,
    wait_for_dates,
)
from ecomlake.queries import QueryResult

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REGION = "us-east-1"
SFN_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
TINY = DataSet(days=2, transactions=200, products=20, clickstream=200, reviews=30, seed=11)
QUERIES = ("daily_kpis", "top_products")
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
FAIL = json.dumps(
    {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "DataQualityError", "Cause": "2 critical"}}}
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, QueryResult]]:
    """The generated files, their dates, and the local pipeline's answers (computed once)."""
    root = tmp_path_factory.mktemp("tiny")
    src = root / "generated"
    dates = TINY.generate(src)
    return src, dates, local_answers(src, dates, root / "lake", QUERIES)


def athena_text(value: Any) -> str | None:
    """A value as Athena's result set writes it (independent of the code under test)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return repr(float(value))
    return str(value)


def athena_type(values: Iterable[Any]) -> str:
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int):
        return "bigint"
    if isinstance(sample, float | Decimal):
        return "double"
    if isinstance(sample, datetime):
        return "timestamp"
    if isinstance(sample, date):
        return "date"
    return "varchar"


def queue_athena_answer(result: QueryResult, rows: Sequence[Sequence[Any]] | None = None) -> None:
    rows = result.rows if rows is None else rows
    columns = [
        {"Name": c, "Label": c, "Type": athena_type(r[i] for r in result.rows), "Nullable": "UNKNOWN"}
        for i, c in enumerate(result.columns)
    ]
    header = {"Data": [{"VarCharValue": c} for c in result.columns]}
    data = [{"Data": [{} if v is None else {"VarCharValue": athena_text(v)} for v in row]} for row in rows]
    athena_backends[DEFAULT_ACCOUNT_ID][REGION].query_results_queue.append(
        QueryResults(rows=[header, *data], column_info=columns)
    )


# --------------------------------------------------------------------------- pieces


def test_generated_files_land_at_their_raw_keys(tmp_path: Path) -> None:
    src = tmp_path / "g"
    dates = DataSet(days=1, transactions=50, products=10, clickstream=50, reviews=10).generate(src)
    files = raw_files(src)
    assert dates == ["2025-01-01"]
    assert set(files) == {
        "raw/transactions/date=2025-01-01/transactions.csv",
        "raw/products/date=2025-01-01/products.json",
        "raw/clickstream/date=2025-01-01/clickstream.json",
        "raw/reviews/date=2025-01-01/reviews.csv",
    }
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="raw-bucket")
        assert land_raw(s3, "raw-bucket", files) == list(files)
        for key, path in files.items():
            assert s3.get_object(Bucket="raw-bucket", Key=key)["Body"].read() == path.read_bytes()


def test_stack_outputs_missing_a_name_are_one_clear_error() -> None:
    with pytest.raises(CloudCheckError, match="stack 'dev' has no output 'stateMachineArn'"):
        CloudStack.from_outputs({"buckets": {"raw": "b"}}, "dev")


def _machine(sfn: Any, definition: str) -> str:
    role = "arn:aws:iam::123456789012:role/sfn"
    return sfn.create_state_machine(name="ecomlake-dev-pipeline", definition=definition, roleArn=role)[
        "stateMachineArn"
    ]


def test_waits_for_the_latest_execution_of_every_date() -> None:
    with mock_aws(config=SFN_CONFIG):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = _machine(sfn, PASS)
        since = datetime.now(UTC) - timedelta(seconds=1)
        for day in ("2025-01-01", "2025-01-02"):
            sfn.start_execution(stateMachineArn=arn, name=f"{day}-run", input=json.dumps({"dates": [day]}))
        runs = wait_for_dates(sfn, arn, ["2025-01-01", "2025-01-02"], since, timeout_seconds=30, poll_seconds=0.05)
        assert [(r.name, r.status, r.dates) for r in runs] == [
            ("2025-01-01-run", "SUCCEEDED", ("2025-01-01",)),
            ("2025-01-02-run", "SUCCEEDED", ("2025-01-02",)),
        ]


def test_a_failed_execution_stops_the_wait_with_its_error_and_cause() -> None:
    with mock_aws(config=SFN_CONFIG):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = _machine(sfn, FAIL)
        since = datetime.now(UTC) - timedelta(seconds=1)
        sfn.start_execution(stateMachineArn=arn, name="d1", input=json.dumps({"dates": ["2025-01-01"]}))
        with pytest.raises(
            CloudCheckError, match=r"execution d1 for 2025-01-01 FAILED: DataQualityError -- 2 critical"
        ):
            wait_for_dates(sfn, arn, ["2025-01-01"], since, timeout_seconds=30, poll_seconds=0.05)


def test_the_wait_times_out_naming_what_never_started() -> None:
    ticks = iter(range(0, 10_000, 100))
    with mock_aws(config=SFN_CONFIG):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = _machine(sfn, PASS)
        since = datetime.now(UTC) + timedelta(days=1)  # earlier executions are not this check's
        sfn.start_execution(stateMachineArn=arn, name="old", input=json.dumps({"dates": ["2025-01-01"]}))
        with pytest.raises(CloudCheckError, match=r"timed out after 250 s .*2025-01-01: not started"):
            wait_for_dates(
                sfn, arn, ["2025-01-01"], since, timeout_seconds=250, sleep=lambda _s: None, clock=lambda: next(ticks)
            )


@pytest.mark.parametrize(("branch", "path"), [("small_date", "small_date"), ("etl", "glue"), ("other", None)])
def test_the_history_says_which_way_the_choice_sent_an_execution(branch: str, path: str | None) -> None:
    """The pipeline's ``small_enough`` Choice leads to ``small_date`` or to ``etl``: the check reports which."""
    definition = {
        "StartAt": "small_enough",
        "States": {"small_enough": {"Type": "Pass", "Next": branch}, branch: {"Type": "Pass", "End": True}},
    }
    with mock_aws(config=SFN_CONFIG):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = _machine(sfn, json.dumps(definition))
        since = datetime.now(UTC) - timedelta(seconds=1)
        sfn.start_execution(stateMachineArn=machine, name="run-1", input=json.dumps({"dates": ["2025-01-01"]}))
        (execution,) = wait_for_dates(sfn, machine, ["2025-01-01"], since, timeout_seconds=30, poll_seconds=0.05)
        assert execution_path(sfn, execution) == path


def test_athena_rows_types_and_bytes(tiny: tuple[Path, list[str], dict[str, QueryResult]]) -> None:
    _src, _dates, answers = tiny
    local = answers["daily_kpis"]
    with mock_aws():
        athena = boto3.client("athena", region_name=REGION)
        athena.create_work_group(Name="wg")
        queue_athena_answer(local)
        got = run_athena(athena, local.athena_sql, workgroup="wg", database="db", sleep=lambda _s: None)
        assert got.columns == local.columns
        assert len(got.rows) == len(local.rows) == 2  # the header row is not an answer row
        assert got.types[got.columns.index("date")] == "date"
        executed = athena.get_query_execution(QueryExecutionId=got.query_id)["QueryExecution"]
        assert executed["Query"] == local.athena_sql  # the very SQL the local run bound
        assert executed["QueryExecutionContext"]["Database"] == "db"


def test_a_failed_athena_query_is_one_clear_error() -> None:
    class FailingAthena:
        def start_query_execution(self, **_kw: Any) -> dict[str, str]:
            return {"QueryExecutionId": "q-1"}

        def get_query_execution(self, **_kw: Any) -> dict[str, Any]:
            reason = "TABLE_NOT_FOUND: Table ecomlake_dev.fact_sales does not exist"
            return {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": reason}}}

    with pytest.raises(CloudCheckError, match="Athena query q-1 FAILED: TABLE_NOT_FOUND"):
        run_athena(FailingAthena(), "select 1", workgroup="wg", database="db")


def test_equal_answers_compare_equal_across_engines_types() -> None:
    local = QueryResult(
        name="q",
        columns=["day", "revenue", "orders", "category", "share"],
        rows=[(date(2025, 1, 1), Decimal("1234.5600"), 3, None, 0.1 + 0.2), (date(2025, 1, 2), 10.0, 1, "toys", 1.0)],
        sql="",
        params={"start_date": date(2025, 1, 1)},
    )
    cloud = AthenaAnswer(
        "q-1",
        ["day", "revenue", "orders", "category", "share"],
        ["date", "decimal(18,2)", "bigint", "varchar", "double"],
        # Another order, Athena's number formats.
        [("2025-01-02", "10.00", "1", "toys", "1.0"), ("2025-01-01", "1234.56", "3", None, "0.30000000000000004")],
        1234,
    )
    same = compare(local, cloud)
    assert same.same
    assert (same.local_rows, same.cloud_rows, same.bytes_scanned) == (2, 2, 1234)
    assert same.params == {"start_date": "2025-01-01"}


def test_different_answers_name_the_rows_on_each_side() -> None:
    local = QueryResult(name="q", columns=["day", "n"], rows=[(date(2025, 1, 1), 3), (date(2025, 1, 2), 1)], sql="")
    cloud = AthenaAnswer("q-1", ["day", "n"], ["date", "bigint"], [("2025-01-01", "3"), ("2025-01-02", "2")], 0)
    diff = compare(local, cloud)
    assert not diff.same
    assert diff.only_local == [("2025-01-02", "1.000000")]
    assert diff.only_cloud == [("2025-01-02", "2.000000")]
    renamed = AthenaAnswer("q-2", ["day", "count"], ["date", "bigint"], [("2025-01-01", "3")], 0)
    assert compare(local, renamed).column_mismatch == (["day", "n"], ["day", "count"])


def test_glue_runs_are_billed_from_time_and_capacity() -> None:
    class Glue:
        def get_paginator(self, _name: str) -> Any:
            started = datetime(2025, 1, 1, 12, tzinfo=UTC)
            runs = [
                {"StartedOn": started, "ExecutionTime": 95, "WorkerType": "G.2X", "NumberOfWorkers": 10},
                {
                    "StartedOn": started - timedelta(days=1),
                    "ExecutionTime": 999,
                    "WorkerType": "G.1X",
                    "NumberOfWorkers": 2,
                },
                {"StartedOn": started, "ExecutionTime": 100, "DPUSeconds": 450.0},
            ]
            return type("P", (), {"paginate": staticmethod(lambda **_kw: [{"JobRuns": runs}])})()

    runs = glue_runs_since(Glue(), ["job"], datetime(2025, 1, 1, tzinfo=UTC))
    assert [(r.seconds, r.dpus) for r in runs] == [(95.0, 20.0), (100.0, 4.5)]


# --------------------------------------------------------------------------- the whole check


class FakeStack:
    """The Pulumi boundary: records what the check asked of it."""

    def __init__(self, outputs: Mapping[str, Any], *, deployed: bool) -> None:
        self.name = "dev"
        self._outputs = dict(outputs)
        self._deployed = deployed
        self.calls: list[str] = []

    def outputs(self) -> Mapping[str, Any]:
        return self._outputs if self._deployed else {}

    def up(self) -> Mapping[str, Any]:
        self.calls.append("up")
        self._deployed = True
        return self._outputs

    def destroy(self) -> None:
        self.calls.append("destroy")

    def region(self) -> str:
        return REGION


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _cloud(definition: str) -> dict[str, Any]:
    """A stack's worth of moto resources, and its outputs as __main__.py exports them."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="ecomlake-dev-raw")
    boto3.client("athena", region_name=REGION).create_work_group(Name="ecomlake-dev-analytics")
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="ecomlake-dev-data-quality",
        Runtime="python3.11",
        Role=role["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": _lambda_zip()},
        MemorySize=1024,
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return {
        "buckets": {"raw": "ecomlake-dev-raw"},
        "stateMachineArn": _machine(sfn, definition),
        "athenaWorkgroup": "ecomlake-dev-analytics",
        "glueDatabase": "ecomlake_dev",
        "functions": {"data-quality": "ecomlake-dev-data-quality"},
        "glueJobs": {},
    }


def _router(outputs: Mapping[str, Any], dates: Sequence[str]) -> Any:
    """Stands in for the file router: on the check's first wait, start one execution per date."""
    started: list[str] = []

    def sleep(_seconds: float) -> None:
        if not started:
            sfn = boto3.client("stepfunctions", region_name=REGION)
            for day in dates:
                sfn.start_execution(
                    stateMachineArn=outputs["stateMachineArn"], name=f"{day}-x", input=json.dumps({"dates": [day]})
                )
                started.append(day)

    return sleep


def _local_feeding_athena(answers: Mapping[str, QueryResult], tamper: str | None = None) -> Any:
    def local(_src: Path, _dates: Sequence[str], _lake: Path, names: Iterable[str]) -> Mapping[str, QueryResult]:
        for name in names:
            rows = list(answers[name].rows)
            if name == tamper:
                rows[0] = (*rows[0][:-1], 999_999)  # the cloud's last column differs on one row
            queue_athena_answer(answers[name], rows)
        return answers

    return local


def test_the_whole_check_deploys_lands_waits_compares_costs_and_destroys(
    tiny: tuple[Path, list[str], dict[str, QueryResult]],
) -> None:
    _src, dates, answers = tiny
    with mock_aws(config=SFN_CONFIG):
        outputs = _cloud(PASS)
        stack = FakeStack(outputs, deployed=False)
        session = boto3.Session(region_name=REGION)
        options = CheckOptions(data=TINY, poll_seconds=0.05, timeout_seconds=60, destroy=True)
        report = run_check(
            stack,
            session,
            options,
            local=_local_feeding_athena(answers),
            query_names=QUERIES,
            sleep=_router(outputs, dates),
        )
        landed = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="ecomlake-dev-raw")["Contents"])
    assert stack.calls == ["up", "destroy"]
    assert report.ok, [c.to_dict() for c in report.comparisons]
    assert (report.deployed, report.destroyed) == (True, True)
    assert report.dates == ["2025-01-01", "2025-01-02"]
    assert report.landed == len(landed) == 8  # four datasets x two days
    assert [e.status for e in report.executions] == ["SUCCEEDED", "SUCCEEDED"]
    # A one-Pass machine has neither branch of the pipeline's Choice.
    assert [e["path"] for e in report.to_dict()["executions"]] == [None, None]
    assert [c.name for c in report.comparisons] == list(QUERIES)
    cost = report.cost.to_dict()
    # Two queries at Athena's 10 MB minimum; two Pass executions = two state transitions; 8 PUTs.
    assert cost["billed"]["athena_bytes"] == 2 * 10 * 1024 * 1024
    assert cost["usage"]["state_transitions"] == 2
    assert cost["services"]["s3"] == pytest.approx(8 / 1000 * 0.005, abs=1e-5)
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True


def test_a_different_answer_fails_the_check_and_says_where(
    tiny: tuple[Path, list[str], dict[str, QueryResult]],
) -> None:
    _src, dates, answers = tiny
    with mock_aws(config=SFN_CONFIG):
        outputs = _cloud(PASS)
        stack = FakeStack(outputs, deployed=True)
        report = run_check(
            stack,
            boto3.Session(region_name=REGION),
            CheckOptions(data=TINY, poll_seconds=0.05, timeout_seconds=60),
            local=_local_feeding_athena(answers, tamper="top_products"),
            query_names=QUERIES,
            sleep=_router(outputs, dates),
        )
    assert stack.calls == []  # reused as it was, not destroyed
    assert not report.ok
    by_name = {c.name: c for c in report.comparisons}
    assert by_name["daily_kpis"].same
    diff = by_name["top_products"]
    assert len(diff.only_cloud) == len(diff.only_local) == 1
    assert diff.only_cloud[0][-1] == "999999.000000"


def test_a_failed_pipeline_still_destroys_when_asked(tiny: tuple[Path, list[str], dict[str, QueryResult]]) -> None:
    _src, dates, answers = tiny
    with mock_aws(config=SFN_CONFIG):
        outputs = _cloud(FAIL)
        stack = FakeStack(outputs, deployed=True)
        with pytest.raises(CloudCheckError, match="FAILED: DataQualityError -- 2 critical"):
            run_check(
                stack,
                boto3.Session(region_name=REGION),
                CheckOptions(data=TINY, poll_seconds=0.05, timeout_seconds=60, destroy=True),
                local=lambda *_a: answers,
                query_names=QUERIES,
                sleep=_router(outputs, dates),
            )
    assert stack.calls == ["destroy"]


def test_an_undeployed_stack_with_no_deploy_is_one_clear_error() -> None:
    stack = FakeStack({}, deployed=False)
    with pytest.raises(CloudCheckError, match="stack 'dev' is not deployed"):
        run_check(stack, boto3.Session(region_name=REGION), CheckOptions(deploy=False))
    assert stack.calls == []


def test_the_command_prints_progress_as_written(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Progress lines are dimmed text, never markup: the console does not parse markup, so tags would print."""
    import ecomlake.local.cloud_check as check
    from ecomlake.cli import run

    class Stack:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def region(self) -> str:
            return REGION

    class Report:
        stack, ok, destroyed = "dev", True, False

        def to_dict(self) -> dict[str, Any]:
            return {"stack": "dev"}

    def fake_run(deployer: Any, session: Any, options: Any, progress: Any) -> Report:
        progress("waiting for [2/3] executions")
        return Report()

    monkeypatch.setattr(check, "PulumiStack", Stack)
    monkeypatch.setattr(check, "run_check", fake_run)
    assert run(["cloud-check", "--json", "--no-deploy"]) == 0
    out = capsys.readouterr().out
    assert "waiting for [2/3] executions" in out
    assert "[dim]" not in out
