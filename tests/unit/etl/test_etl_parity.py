"""Two engines, one code: every transform gives the same rows on Spark and on DuckDB (sqlframe)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from etl_helpers import D1, D2, D4, dates_frame, processed_inputs, raw_frame, records
from test_etl_cleaning import CASES

from ecomlake.contract import Dataset
from ecomlake.etl.transforms import curated, processed, sessions


def _raw_to_processed(session: Any, dataset: Dataset) -> Any:
    _, rows = CASES[dataset.value]
    classified = processed.classify(raw_frame(session, dataset, rows), dataset)
    return processed.processed(processed.good_rows(classified), dataset)


def _quarantine(session: Any, dataset: Dataset) -> Any:
    _, rows = CASES[dataset.value]
    return processed.bad_rows(processed.classify(raw_frame(session, dataset, rows), dataset), dataset)


def _curated(name: str) -> Callable[[Any], Any]:
    def build(session: Any) -> Any:
        i = processed_inputs(session)
        built = sessions.sessions(i["clicks"])
        dates = dates_frame(session, [D1, D2, D4])
        return {
            "sessions": lambda: built,
            "fact_sales": lambda: curated.fact_sales(i["transactions"], i["products"], dates),
            "product_activity": lambda: curated.product_activity(i["transactions"], i["reviews"]),
            "dim_products": lambda: curated.dim_products(
                i["products"], curated.product_activity(i["transactions"], i["reviews"])
            ),
            "dim_customers": lambda: curated.dim_customers(i["transactions"]),
            "fct_sessions": lambda: curated.fct_sessions(built, i["clicks"], i["transactions"], dates),
            "daily_kpis": lambda: curated.daily_kpis(dates, i["transactions"], built, i["reviews"]),
        }[name]()

    return build


BUILDS: dict[str, Callable[[Any], Any]] = {
    **{f"processed_{d.value}": (lambda s, d=d: _raw_to_processed(s, d)) for d in Dataset},
    **{f"quarantine_{d.value}": (lambda s, d=d: _quarantine(s, d)) for d in Dataset},
    **{
        name: _curated(name)
        for name in (
            "sessions",
            "fact_sales",
            "product_activity",
            "dim_products",
            "dim_customers",
            "fct_sessions",
            "daily_kpis",
        )
    },
}


@pytest.mark.spark
def test_every_transform_gives_the_same_rows_on_both_engines(spark: Any, duck: Any) -> None:
    for name, build in BUILDS.items():
        on_spark, on_duckdb = build(spark), build(duck)
        assert on_spark.columns == on_duckdb.columns, name
        spark_rows, duckdb_rows = records(on_spark), records(on_duckdb)
        assert spark_rows == duckdb_rows, name
        assert spark_rows, f"{name} produced no rows, so the comparison proves nothing"
