"""ecomlake.cost: the billing rules of each service, with amounts worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlake.cost import GlueRun, Prices, RunUsage, estimate, lambda_gb_seconds, load_prices
from ecomlake.exceptions import InvalidArgumentError

MB = 1024 * 1024
TB = 1024**4


def test_athena_bills_each_query_at_least_10_mb_rounded_up_to_whole_mb() -> None:
    # 4 kB -> 10 MB minimum; 10 MB + 1 byte -> 11 MB; exactly 1 TB -> 1 TB.
    usage = RunUsage(athena_query_bytes=(4_000, 10 * MB + 1, TB))
    cost = estimate(usage)
    assert cost.billed["athena_bytes"] == 10 * MB + 11 * MB + TB
    assert cost.services["athena"] == pytest.approx(5.0 * (21 * MB + TB) / TB, rel=1e-12)
    assert cost.services["athena"] == pytest.approx(5.000100136, abs=1e-9)


def test_glue_bills_per_second_with_a_one_minute_minimum_per_run() -> None:
    runs = (GlueRun(seconds=20, dpus=2), GlueRun(seconds=90.2, dpus=10), GlueRun.of_workers(3600, "G.2X", 10))
    cost = estimate(RunUsage(glue_runs=runs))
    # 60 s x 2 DPU + 91 s x 10 DPU + 3600 s x 20 DPU
    assert cost.billed["glue_dpu_seconds"] == 120 + 910 + 72_000
    assert cost.services["glue"] == pytest.approx((120 + 910 + 72_000) / 3600 * 0.44, rel=1e-12)
    assert cost.services["glue"] == pytest.approx(8.92588889, abs=1e-8)


def test_lambda_step_functions_and_s3() -> None:
    usage = RunUsage(
        lambda_gb_seconds=lambda_gb_seconds(1500.2, 1024) * 4,  # 4 calls of 1.501 s at 1 GB
        lambda_invocations=4,
        state_transitions=40,
        s3_put_requests=2_000,
        s3_get_requests=10_000,
    )
    cost = estimate(usage)
    assert usage.lambda_gb_seconds == pytest.approx(6.004)
    assert cost.services["lambda"] == pytest.approx(6.004 * 0.0000166667 + 4 / 1e6 * 0.20, rel=1e-12)
    assert cost.services["stepfunctions"] == pytest.approx(0.001)  # 40 / 1000 x 0.025
    assert cost.services["s3"] == pytest.approx(0.01 + 0.004)  # 2 x 0.005 + 10 x 0.0004


def test_estimate_to_dict_is_json_with_every_service_and_the_total() -> None:
    usage = RunUsage(athena_query_bytes=(TB,), glue_runs=(GlueRun(3600, 1),), state_transitions=1000)
    out = estimate(usage).to_dict()
    json.dumps(out)  # JSON-ready
    assert out["currency"] == "USD"
    assert out["services"] == {"athena": 5.0, "glue": 0.44, "lambda": 0.0, "stepfunctions": 0.025, "s3": 0.0}
    assert out["total"] == pytest.approx(5.465)
    assert out["usage"]["glue_dpu_seconds"] == 3600
    assert out["prices"]["glue_per_dpu_hour"] == 0.44


def test_an_empty_run_costs_nothing() -> None:
    assert estimate(RunUsage()).total == 0


def test_prices_are_data_a_stack_or_a_laptop_overrides(tmp_path: Path) -> None:
    eu = {"athena_per_tb_scanned": 5.5, "glue_per_dpu_hour": 0.48, "currency": "USD"}
    assert load_prices({"ECOMLAKE_PRICES": json.dumps(eu)}).glue_per_dpu_hour == 0.48
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"athena_per_tb_scanned": 6}))
    prices = load_prices({"ECOMLAKE_PRICES_FILE": str(path)})
    assert (prices.athena_per_tb_scanned, prices.glue_per_dpu_hour) == (6.0, 0.44)
    assert estimate(RunUsage(athena_query_bytes=(TB,)), prices).services["athena"] == 6.0
    assert load_prices({}) == Prices()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ECOMLAKE_PRICES": '{"athena_per_tb": 5}'}, "unknown price\\(s\\) athena_per_tb; known: "),
        ({"ECOMLAKE_PRICES": '{"glue_per_dpu_hour": "cheap"}'}, "glue_per_dpu_hour must be a number >= 0"),
        ({"ECOMLAKE_PRICES": '{"glue_per_dpu_hour": -1}'}, "must be a number >= 0, got -1"),
        ({"ECOMLAKE_PRICES": "[5]"}, "expected an object of price name -> number"),
        ({"ECOMLAKE_PRICES": "{nope"}, "ECOMLAKE_PRICES: not JSON"),
        ({"ECOMLAKE_PRICES_FILE": "/nonexistent/prices.json"}, "cannot read it"),
        ({"ECOMLAKE_PRICES": "{}", "ECOMLAKE_PRICES_FILE": "x.json"}, "not both"),
    ],
)
def test_bad_prices_are_one_clear_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        load_prices(environ)


def test_negative_usage_and_unknown_worker_types_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="lambda_invocations must be >= 0"):
        RunUsage(lambda_invocations=-1)
    with pytest.raises(InvalidArgumentError, match=r"unknown Glue worker type 'G\.3X'"):
        GlueRun.of_workers(60, "G.3X", 2)
