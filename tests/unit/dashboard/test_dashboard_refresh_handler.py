"""The pipeline's dashboard_refresh Lambda: Athena answers -> data files in the site bucket (moto S3)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from ecomlake.contract import EnvVar
from ecomlake.dashboard_api import QUERY_NAMES
from ecomlake.exceptions import InvalidArgumentError
from handlers._powertools import MissingConfigurationError
from tests.unit.dashboard.dashboard_fakes import LATEST, FakeAthena
from tests.unit.lambda_support import LambdaContext, load_event, log_lines

CONTEXT = LambdaContext(function_name="ecomlake-dev-dashboard-refresh")

BUCKET = "ecomlake-dev-dashboard"
REPORTS_BUCKET = "ecomlake-dev-reports"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    # The function's environment names every lake bucket; the DQ reports are in the reports one.
    monkeypatch.setenv(EnvVar.REPORTS_BUCKET, REPORTS_BUCKET)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=REPORTS_BUCKET)
        yield client


def test_refresh_uploads_every_query_file_with_its_content_type(s3) -> None:
    from handlers.dashboard_refresh import refresh

    athena = FakeAthena()
    result = refresh(athena, s3.put_object, BUCKET)

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == set(result["files"])
    assert {f"data/{name}.json" for name in QUERY_NAMES} <= keys
    assert {"data/bundle.js", "data/manifest.json"} <= keys
    head = s3.head_object(Bucket=BUCKET, Key="data/daily_kpis.json")
    assert head["ContentType"] == "application/json"
    assert head["CacheControl"] == "public, max-age=60"
    assert s3.head_object(Bucket=BUCKET, Key="data/bundle.js")["ContentType"] == "text/javascript"

    payload = json.loads(s3.get_object(Bucket=BUCKET, Key="data/daily_kpis.json")["Body"].read())
    assert payload["query"] == "daily_kpis"
    assert payload["rows"], "the refreshed KPI file carries Athena's rows"
    assert payload["params"]["end_date"] == str(LATEST)
    # Every query ran on Athena, once each.
    assert len(athena.query_sqls) == len(QUERY_NAMES)


def test_handler_reads_the_bucket_from_the_environment(s3, monkeypatch: pytest.MonkeyPatch) -> None:
    import handlers.dashboard_refresh as module

    monkeypatch.setenv(EnvVar.DASHBOARD_BUCKET, BUCKET)
    monkeypatch.setattr(module, "athena_runner", lambda **_kw: FakeAthena())
    monkeypatch.setattr(module, "aws_client", lambda _service: s3)

    result = module.handler({"dates": ["2025-01-30"], "run_id": "r1"}, CONTEXT)

    assert result["bucket"] == BUCKET
    assert "data/top_products.json" in result["files"]


def test_a_failing_query_fails_the_step_and_writes_nothing(s3) -> None:
    from handlers.dashboard_refresh import refresh

    with pytest.raises(RuntimeError, match="SYNTAX_ERROR"):
        refresh(FakeAthena(fail=True), s3.put_object, BUCKET)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_a_missing_bucket_variable_is_one_clear_error(
    s3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import handlers.dashboard_refresh as module

    monkeypatch.delenv(EnvVar.DASHBOARD_BUCKET, raising=False)
    athena = FakeAthena()
    monkeypatch.setattr(module, "athena_runner", lambda **_kw: athena)
    with pytest.raises(MissingConfigurationError, match=r"^ECOMLAKE_DASHBOARD_BUCKET not set: the stack sets it"):
        module.handler({"dates": ["2025-01-30"], "run_id": "r1"}, CONTEXT)
    (line,) = log_lines(capsys.readouterr().out)
    assert line["level"] == "ERROR"
    assert line["error_type"] == "MissingConfigurationError"
    assert athena.query_sqls == []  # failed before any query ran


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("malformed_event_is_a_list", "event must be an object like {'dates': [...]}, got list"),
        ("partitions_dates_not_a_list", "'dates' must be a list of YYYY-MM-DD strings, got {'from': '2025-01-15'}"),
        ("partitions_invalid_date", "invalid date '2025-02-30'; no such calendar day"),
    ],
)
def test_a_malformed_step_input_is_one_clear_error(
    s3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], event: str, message: str
) -> None:
    import handlers.dashboard_refresh as module

    monkeypatch.setenv(EnvVar.DASHBOARD_BUCKET, BUCKET)
    with pytest.raises(InvalidArgumentError) as err:
        module.handler(load_event(event), CONTEXT)
    assert str(err.value) == message
    (line,) = log_lines(capsys.readouterr().out)
    assert line["message"] == f"cannot refresh the dashboard: {message}"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
