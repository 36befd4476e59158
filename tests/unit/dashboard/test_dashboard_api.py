"""The cloud dashboard API (handlers/api.py -> ecomlake.dashboard_api): routing, validation, cache, headers.

Athena is replaced by a fake SQL runner that answers like Athena would (it sees the exact
SQL text), and one test goes through awswrangler against moto's Athena.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ecomlake import dashboard_api
from ecomlake.dashboard_api import QUERY_NAMES, Api, ApiConfig, TTLCache
from ecomlake.queries import load_query, render, resolve_params
from tests.unit.dashboard.dashboard_fakes import BUILDERS, COLUMNS, FakeAthena
from tests.unit.lambda_support import LambdaContext, log_lines
from tests.unit.lambda_support import load_event as load_shared_event

CONTEXT = LambdaContext(function_name="ecomlake-dev-api")

EVENTS = Path(__file__).parent / "events"
ORIGIN = "https://d111111abcdef8.cloudfront.net"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def http_event(path: str, params: dict[str, str] | None = None, method: str = "GET") -> dict[str, Any]:
    event = load_event("api_http_v2.json")
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["queryStringParameters"] = params
    return event


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def athena() -> FakeAthena:
    return FakeAthena()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(athena: FakeAthena, clock: Clock) -> Api:
    return Api(runner=athena, cache=TTLCache(ttl=300, clock=clock), config=ApiConfig(origin=ORIGIN, cache_seconds=300))


def body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


# --------------------------------------------------------------------------- success and SQL


def test_query_returns_the_payload_with_cache_and_cors_headers(api: Api, athena: FakeAthena) -> None:
    res = api.handle(load_event("api_http_v2.json"))

    assert res["statusCode"] == 200
    payload = body(res)
    assert payload["query"] == "daily_kpis"
    assert payload["columns"] == COLUMNS["daily_kpis"]
    assert len(payload["rows"]) == 30
    assert payload["rows"][0]["date"] == "2025-01-01"
    assert payload["rows"][0]["revenue"] == float(BUILDERS["daily_kpis"]()[0][1])
    assert payload["params"] == {"start_date": "2025-01-01", "end_date": "2025-01-30"}
    headers = res["headers"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=300, s-maxage=300"
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Vary"] == "Origin"
    assert headers["X-Cache"] == "MISS"


def test_athena_runs_the_same_sql_text_as_the_local_engine(api: Api, athena: FakeAthena) -> None:
    api.handle(http_event("/api/top_products", {"start_date": "2025-01-02", "end_date": "2025-01-09", "top_n": "3"}))

    spec = load_query("top_products")
    values = resolve_params(spec, {"start_date": "2025-01-02", "end_date": "2025-01-09", "top_n": "3"}, lambda _s: None)
    assert athena.query_sqls == [render(spec, values)]
    sql = athena.query_sqls[0]
    assert "date '2025-01-02'" in sql
    assert "date '2025-01-09'" in sql
    assert ":start_date" not in sql
    assert ":top_n" not in sql


def test_default_dates_are_resolved_on_athena(api: Api, athena: FakeAthena) -> None:
    res = api.handle(http_event("/api/daily_kpis"))

    assert res["statusCode"] == 200
    assert athena.sqls[0] == 'select max("date") from daily_kpis'
    # end_date = latest partition, start_date = end_date - 29 days (the SQL file's defaults)
    assert body(res)["params"] == {"start_date": "2025-01-01", "end_date": "2025-01-30"}
    assert "date '2025-01-01'" in athena.query_sqls[0]


def test_rest_api_events_are_understood(api: Api) -> None:
    res = api.handle(load_event("api_rest_v1.json"))

    assert res["statusCode"] == 200
    assert body(res)["params"]["top_n"] == 3


def test_index_lists_queries_and_their_parameters(api: Api, athena: FakeAthena) -> None:
    res = api.handle(http_event("/api/"))

    assert res["statusCode"] == 200
    listed = {q["name"]: q["params"] for q in body(res)["queries"]}
    assert list(listed) == list(QUERY_NAMES)
    assert listed["daily_kpis"] == ["start_date", "end_date"]
    assert listed["customer_segments"] == ["min_orders"]
    assert athena.sqls == []


def test_handler_module_uses_the_module_level_api(monkeypatch: pytest.MonkeyPatch, athena: FakeAthena) -> None:
    from handlers import api as handler_module

    monkeypatch.setattr(handler_module.API, "runner", athena)
    monkeypatch.setattr(handler_module.API, "cache", TTLCache())

    res = handler_module.handler(
        http_event("/api/return_rates", {"start_date": "2025-01-01", "end_date": "2025-01-30"}), CONTEXT
    )

    assert res["statusCode"] == 200
    assert {r["dimension"] for r in body(res)["rows"]} == {"category", "brand", "price_band", "rating"}


def test_handler_logs_one_json_line_per_request_and_the_cause_of_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from handlers import api as handler_module

    monkeypatch.setattr(handler_module.API, "runner", FakeAthena(fail=True))
    monkeypatch.setattr(handler_module.API, "cache", TTLCache())

    res = handler_module.handler(
        http_event("/api/daily_kpis", {"start_date": "2025-01-01", "end_date": "2025-01-30"}), CONTEXT
    )

    lines = log_lines(capsys.readouterr().out)
    assert res["statusCode"] == 502
    assert lines[0]["message"] == "dashboard API request failed"
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["exception_name"] == "RuntimeError"
    assert lines[0]["function_request_id"] == CONTEXT.aws_request_id
    assert lines[-1]["message"] == "request"
    assert (lines[-1]["path"], lines[-1]["status"], lines[-1]["service"]) == ("/api/daily_kpis", 502, "dashboard_api")


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("api_list_query_parameter", "query parameter 'start_date' must be given once, as text"),
        ("api_query_parameters_not_an_object", "queryStringParameters must be an object of name -> value, got list"),
        (
            "api_rest_multi_value_parameters_not_an_object",
            "multiValueQueryStringParameters must be an object, got list",
        ),
        ("api_event_is_a_list", "the request must be an HTTP event object, got list"),
        ("api_not_an_http_event", "not an HTTP request event (no requestContext.http and no httpMethod)"),
    ],
)
def test_handler_answers_a_malformed_request_with_a_400(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fixture: str, message: str
) -> None:
    from handlers import api as handler_module

    athena = FakeAthena()
    monkeypatch.setattr(handler_module.API, "runner", athena)
    monkeypatch.setattr(handler_module.API, "cache", TTLCache())

    res = handler_module.handler(load_shared_event(fixture), CONTEXT)

    assert res["statusCode"] == 400
    assert body(res) == {"error": "bad_request", "message": message}
    assert res["headers"]["Cache-Control"] == "no-store"
    assert athena.sqls == []  # nothing reached Athena
    (line,) = log_lines(capsys.readouterr().out)
    assert (line["level"], line["message"], line["status"]) == ("WARNING", f"bad request: {message}", 400)


def test_handler_reads_a_rest_api_event_through_its_typed_class(monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers import api as handler_module

    monkeypatch.setattr(handler_module.API, "runner", FakeAthena())
    monkeypatch.setattr(handler_module.API, "cache", TTLCache())
    assert handler_module.request_event(load_event("api_rest_v1.json")) == {
        "rawPath": "/api/top_products",
        "requestContext": {"http": {"method": "GET"}},
        "queryStringParameters": {"start_date": "2025-01-01", "end_date": "2025-01-30", "top_n": "3"},
    }
    repeated = load_event("api_rest_v1.json")
    repeated["multiValueQueryStringParameters"]["top_n"] = ["3", "4"]
    res = handler_module.handler(repeated, CONTEXT)
    assert res["statusCode"] == 400
    assert body(res)["message"] == "query parameter 'top_n' is given more than once"


# --------------------------------------------------------------------------- cache


def test_repeated_request_is_served_from_the_cache(api: Api, athena: FakeAthena) -> None:
    params = {"start_date": "2025-01-01", "end_date": "2025-01-30"}
    first = api.handle(http_event("/api/top_products", params))
    second = api.handle(http_event("/api/top_products", dict(reversed(list(params.items())))))

    assert first["headers"]["X-Cache"] == "MISS"
    assert second["headers"]["X-Cache"] == "HIT"
    assert second["body"] == first["body"]
    assert len(athena.query_sqls) == 1


def test_different_parameters_are_cached_separately(api: Api, athena: FakeAthena) -> None:
    api.handle(http_event("/api/top_products", {"start_date": "2025-01-01", "end_date": "2025-01-30"}))
    res = api.handle(http_event("/api/top_products", {"start_date": "2025-01-02", "end_date": "2025-01-30"}))

    assert res["headers"]["X-Cache"] == "MISS"
    assert len(athena.query_sqls) == 2


def test_cache_entries_expire(api: Api, athena: FakeAthena, clock: Clock) -> None:
    params = {"start_date": "2025-01-01", "end_date": "2025-01-30"}
    api.handle(http_event("/api/daily_kpis", params))
    clock.now += 299
    assert api.handle(http_event("/api/daily_kpis", params))["headers"]["X-Cache"] == "HIT"
    clock.now += 2
    assert api.handle(http_event("/api/daily_kpis", params))["headers"]["X-Cache"] == "MISS"
    assert len(athena.query_sqls) == 2


def test_cache_is_bounded_lru() -> None:
    cache = TTLCache(ttl=60, max_entries=2, clock=lambda: 0.0)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)

    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_errors_are_not_cached(api: Api, athena: FakeAthena) -> None:
    bad = {"start_date": "2025-13-01", "end_date": "2025-01-30"}
    assert api.handle(http_event("/api/daily_kpis", bad))["statusCode"] == 400
    assert len(api.cache) == 0


# --------------------------------------------------------------------------- refusals


def test_unknown_query_is_404_listing_the_known_ones(api: Api, athena: FakeAthena) -> None:
    res = api.handle(http_event("/api/drop_tables"))

    assert res["statusCode"] == 404
    assert body(res)["error"] == "unknown_query"
    assert "drop_tables" in body(res)["message"]
    assert body(res)["queries"] == list(QUERY_NAMES)
    assert res["headers"]["Cache-Control"] == "no-store"
    assert athena.sqls == []


@pytest.mark.parametrize("path", ["/", "/other/daily_kpis", "/api/daily_kpis/extra", "/api/..%2f..%2fetc"])
def test_paths_outside_the_api_are_404(api: Api, path: str) -> None:
    assert api.handle(http_event(path))["statusCode"] == 404


@pytest.mark.parametrize(
    ("query", "params", "needle"),
    [
        (
            "daily_kpis",
            {"start_date": "2025/01/01", "end_date": "2025-01-30"},
            "start_date must be a date written YYYY-MM-DD",
        ),
        ("daily_kpis", {"start_date": "2025-02-30", "end_date": "2025-03-01"}, "start_date"),
        ("daily_kpis", {"start_date": "2025-01-30", "end_date": "2025-01-01"}, "is after end_date"),
        ("daily_kpis", {"start_date": "2020-01-01", "end_date": "2025-01-01"}, "at most 1098 days"),
        ("daily_kpis", {"limit": "10"}, "daily_kpis does not take limit; it takes: start_date, end_date"),
        ("top_products", {"top_n": "ten"}, "expected an integer"),
        ("top_products", {"top_n": "0"}, "must be >= 1"),
        ("top_products", {"top_n": "5000"}, "must be <= 1000"),
        ("revenue_trends", {"grain": "year"}, "'year' is not one of: day, week, month"),
        ("top_products", {"category": "x" * 101}, "longer than 100 characters"),
        ("daily_kpis", {"start_date": "2025-01-01'; drop table x; --"}, "start_date must be a date"),
    ],
)
def test_invalid_parameters_are_400_with_a_clear_message(
    api: Api, athena: FakeAthena, query: str, params: dict[str, str], needle: str
) -> None:
    res = api.handle(http_event(f"/api/{query}", params))

    assert res["statusCode"] == 400, body(res)
    assert needle in body(res)["message"]
    assert body(res)["error"] in {"invalid_parameter", "unknown_parameter"}
    assert res["headers"]["Cache-Control"] == "no-store"
    assert res["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert athena.query_sqls == []


def test_repeated_parameter_is_400(api: Api) -> None:
    event = load_event("api_rest_v1.json")
    event["multiValueQueryStringParameters"]["top_n"] = ["3", "4"]

    res = api.handle(event)

    assert res["statusCode"] == 400
    assert body(res)["message"] == "top_n is given more than once"


def test_too_many_parameters_is_400(api: Api) -> None:
    res = api.handle(http_event("/api/daily_kpis", {f"p{i}": "1" for i in range(20)}))

    assert res["statusCode"] == 400
    assert "too many parameters" in body(res)["message"]


def test_methods_other_than_get_are_405(api: Api) -> None:
    res = api.handle(http_event("/api/daily_kpis", method="POST"))

    assert res["statusCode"] == 405
    assert body(res)["error"] == "method_not_allowed"


def test_preflight_allows_only_the_site_origin(api: Api) -> None:
    res = api.handle(http_event("/api/daily_kpis", method="OPTIONS"))

    assert res["statusCode"] == 204
    assert res["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert res["headers"]["Access-Control-Allow-Methods"] == "GET, OPTIONS"


def test_without_a_configured_origin_no_cors_header_is_sent(athena: FakeAthena) -> None:
    api = Api(runner=athena, config=ApiConfig(origin=None))

    res = api.handle(http_event("/api/customer_segments"))

    assert res["statusCode"] == 200
    assert "Access-Control-Allow-Origin" not in res["headers"]


def test_athena_failure_is_502_without_internal_details(clock: Clock) -> None:
    api = Api(runner=FakeAthena(fail=True), cache=TTLCache(clock=clock), config=ApiConfig(origin=ORIGIN))

    res = api.handle(http_event("/api/daily_kpis", {"start_date": "2025-01-01", "end_date": "2025-01-30"}))

    assert res["statusCode"] == 502
    assert body(res) == {"error": "query_failed", "message": "the query could not be run"}
    assert "secret" not in res["body"]


def test_config_reads_the_contract_environment() -> None:
    config = ApiConfig.from_env({"ECOMLAKE_DASHBOARD_ORIGIN": ORIGIN, "ECOMLAKE_API_CACHE_SECONDS": "60"})
    assert (config.origin, config.cache_seconds) == (ORIGIN, 60)
    assert ApiConfig.from_env({}).cache_seconds == dashboard_api.DEFAULT_CACHE_SECONDS


def test_missing_athena_settings_is_a_clear_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECOMLAKE_GLUE_DATABASE", raising=False)
    monkeypatch.delenv("ECOMLAKE_ATHENA_WORKGROUP", raising=False)
    api = Api(runner=None, config=ApiConfig(origin=ORIGIN))

    res = api.handle(http_event("/api/daily_kpis", {"start_date": "2025-01-01", "end_date": "2025-01-30"}))

    assert res["statusCode"] == 500
    assert "ECOMLAKE_GLUE_DATABASE" in body(res)["message"]


# --------------------------------------------------------------------------- through awswrangler, on moto


def test_athena_runner_reads_results_through_awswrangler(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.athena.models import QueryResults, athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    monkeypatch.setenv("ECOMLAKE_GLUE_DATABASE", "ecomlake_test")
    monkeypatch.setenv("ECOMLAKE_ATHENA_WORKGROUP", "ecomlake-test")
    rows = BUILDERS["daily_kpis"]()[:2]
    columns = COLUMNS["daily_kpis"]

    def cell(value: Any) -> dict[str, str]:
        return {} if value is None else {"VarCharValue": str(value)}

    def info(column: str) -> dict[str, Any]:
        if column == "date":
            return {"Name": column, "Type": "date"}
        if column in {"revenue", "avg_order_value"}:
            return {"Name": column, "Type": "decimal", "Precision": 18, "Scale": 2}
        return {"Name": column, "Type": "double" if "rate" in column or column == "avg_rating" else "bigint"}

    column_info = [info(c) for c in columns]
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="athena-results")
        boto3.client("athena").create_work_group(
            Name="ecomlake-test",
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://athena-results/dashboard/"}},
        )
        backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        result_rows = [{"Data": [cell(c) for c in columns]}] + [{"Data": [cell(v) for v in r]} for r in rows]
        backend.query_results_queue.append(QueryResults(rows=result_rows, column_info=column_info))

        api = Api(runner=None, config=ApiConfig(origin=ORIGIN))
        res = api.handle(http_event("/api/daily_kpis", {"start_date": "2025-01-01", "end_date": "2025-01-02"}))
        executions = boto3.client("athena").list_query_executions(WorkGroup="ecomlake-test")["QueryExecutionIds"]
        sql = boto3.client("athena").get_query_execution(QueryExecutionId=executions[0])["QueryExecution"]["Query"]

    assert res["statusCode"] == 200, res["body"]
    payload = body(res)
    assert payload["columns"] == columns
    assert [r["date"] for r in payload["rows"]] == ["2025-01-01", "2025-01-02"]
    assert payload["rows"][1]["revenue"] == float(rows[1][1])
    assert payload["rows"][0]["orders"] == rows[0][2]
    assert "from daily_kpis" in sql
    assert "date '2025-01-02'" in sql


def test_event_fixtures_are_not_mutated(api: Api) -> None:
    event = load_event("api_http_v2.json")
    before = copy.deepcopy(event)
    api.handle(event)
    assert event == before


def test_api_answers_without_duckdb_installed() -> None:
    """The API Lambda has no DuckDB: binding the SQL must not need it."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['duckdb'] = None\n"
        "from tests.unit.dashboard.dashboard_fakes import FakeAthena\n"
        "from ecomlake.dashboard_api import Api, ApiConfig\n"
        "api = Api(runner=FakeAthena(), config=ApiConfig(origin=None))\n"
        "event = {'rawPath': '/api/daily_kpis', 'requestContext': {'http': {'method': 'GET'}}}\n"
        "print(api.handle(event)['statusCode'])\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "200", done.stderr[-2000:]
