"""The dashboard's two distribution queries against independent pandas computations.

``revenue_by_category``: completed revenue per (period, category) and the category's share of
its period. ``ltv_distribution``: every customer in a lifetime-value band, the bands' counts
summing to the number of customers. The reference side reads the Parquet files with pyarrow
(no DuckDB, no SQL) and follows each header's stated definition.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqltestlake import DATES, read_table, write_rows
from test_sql_answers import R2, R4, _dsum, _in_range, _period, _ratio, assert_rows

from ecomlake.contract import Table
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.queries import run_query
from ecomlake.schemas import table_schema

LAST = DATES[-1]

# --------------------------------------------------------------------------- revenue_by_category


def expected_revenue_by_category(
    fs: pd.DataFrame, start: date, end: date, grain: str, category: str | None
) -> list[dict]:
    s = _in_range(fs, start, end).copy()
    s["period_start"] = s["date"].map(lambda d: _period(d, grain))
    s["category"] = s["category"].fillna("unknown")
    period_revenue = {p: _dsum(g["net_amount"]) for p, g in s.groupby("period_start")}
    rows = []
    for (period, cat), g in sorted(s.groupby(["period_start", "category"]), key=lambda kv: kv[0]):
        if category is not None and cat != category:
            continue
        completed = g[g["status"] == "completed"]
        revenue = _dsum(g["net_amount"])
        rows.append(
            {
                "period_start": period,
                "category": cat,
                "days_with_sales": g["date"].nunique(),
                "orders": len(g),
                "units": int(completed["quantity"].sum()),
                "revenue": revenue,
                "revenue_share": _ratio(revenue, period_revenue[period]),
            }
        )
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"grain": "day"},
        {"grain": "month"},
        {"grain": "day", "category": "Books"},
        {"start_date": DATES[2].isoformat(), "end_date": DATES[8].isoformat(), "grain": "week"},
    ],
)
def test_revenue_by_category(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("revenue_by_category", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", (LAST - timedelta(days=89)).isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    expected = expected_revenue_by_category(
        frames["fact_sales"], start, end, params.get("grain", "week"), params.get("category")
    )
    assert_rows(result, expected, {"revenue_share": R4})


def test_revenue_by_category_covers_the_unknown_category_and_sums_to_the_trend(sql_lake: Path) -> None:
    by_category = run_query("revenue_by_category", sql_lake, {"grain": "day"})
    categories = {r[1] for r in by_category.rows}
    assert "unknown" in categories  # a sold product missing from the catalog
    trend = run_query("revenue_trends", sql_lake, {"grain": "day"})
    per_day: dict[date, Decimal] = {}
    for row in by_category.rows:
        per_day[row[0]] = per_day.get(row[0], Decimal("0.00")) + row[5]
    assert per_day == {r[0]: r[6] for r in trend.rows}


def test_a_category_the_lake_does_not_hold_is_answered_with_the_real_ones(sql_lake: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"'books' is not a category in the lake; did you mean 'Books'\?"):
        run_query("revenue_by_category", sql_lake, {"category": "books"})


# --------------------------------------------------------------------------- ltv_distribution

# The round widths the automatic choice may take, as the header states: 1, 2 or 5 x 10^n dollars.
ROUND_WIDTHS = [m * 10.0**e for e in range(0, 7) for m in (1, 2, 5)]


def expected_ltv_distribution(dc: pd.DataFrame, band_width: float | None, bands: int) -> list[dict]:
    values = sorted(float(v) for v in dc["lifetime_value"] if v is not None)
    n = len(values)
    if not n:
        return []
    p95 = values[math.ceil(0.95 * n) - 1]
    if band_width is None:
        width = min(w for w in ROUND_WIDTHS if w * bands >= p95)
        closed = min(bands, max(1, math.ceil(p95 / width)))
    else:
        width, closed = band_width, bands
    counts = [0] * (closed + 1)
    sums = [0.0] * (closed + 1)
    for v in values:
        i = max(0, min(math.floor(v / width), closed))
        counts[i] += 1
        sums[i] += v
    total = sum(values)
    return [
        {
            "band_index": i,
            "band_start": Decimal(str(round(i * width, 2))).quantize(Decimal("0.01")),
            "band_end": None if i == closed else Decimal(str(round((i + 1) * width, 2))).quantize(Decimal("0.01")),
            "customers": counts[i],
            "customer_share": counts[i] / n,
            "lifetime_value": Decimal(str(round(sums[i], 2))).quantize(Decimal("0.01")),
            "value_share": sums[i] / total if total else None,
            "customers_total": n,
        }
        for i in range(closed + 1)
    ]


@pytest.mark.parametrize(
    "params",
    [{}, {"bands": "4"}, {"band_width": "25", "bands": "6"}, {"band_width": "0.5", "bands": "200"}],
)
def test_ltv_distribution(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("ltv_distribution", sql_lake, params)
    width = float(params["band_width"]) if "band_width" in params else None
    expected = expected_ltv_distribution(frames["dim_customers"], width, int(params.get("bands", 10)))
    assert_rows(result, expected, {"customer_share": R4, "value_share": R4, "lifetime_value": R2})
    # Every customer is in exactly one band.
    assert sum(r[3] for r in result.rows) == len(frames["dim_customers"])


def _customers(values: list[str]) -> list[dict]:
    """dim_customers rows with the given lifetime values (other columns plausible and fixed)."""
    rows = []
    for i, value in enumerate(values):
        rows.append(
            {
                "customer_id": f"C{i:03d}",
                "first_purchase_date": date(2025, 1, 1),
                "last_purchase_date": date(2025, 1, 2),
                "orders": 1,
                "units": 1,
                "lifetime_value": Decimal(value),
                "avg_order_value": Decimal(value),
                "returns": 0,
                "recency_days": 0,
                "r_score": 3,
                "f_score": 3,
                "m_score": 3,
                "rfm_score": "333",
                "segment": "Loyal",
                "as_of_date": date(2025, 1, 2),
            }
        )
    names = [c.name for c in table_schema(Table.DIM_CUSTOMERS).columns]
    return [{k: r[k] for k in names} for r in rows]


def test_band_edges_and_the_open_band(tmp_path: Path) -> None:
    write_rows(tmp_path, Table.DIM_CUSTOMERS, _customers(["0.00", "499.99", "500.00", "999.99", "1000.00", "20000.00"]))
    result = run_query("ltv_distribution", tmp_path, {"band_width": "500", "bands": "2"})
    assert [(r[0], r[1], r[2], r[3]) for r in result.rows] == [
        (0, Decimal("0.00"), Decimal("500.00"), 2),
        (1, Decimal("500.00"), Decimal("1000.00"), 2),
        (2, Decimal("1000.00"), None, 2),
    ]


def test_automatic_width_reaches_the_95th_percentile(tmp_path: Path) -> None:
    # 20 customers at 10..200: the 95th percentile (rank 19) is 190; 10 bands of 20 reach it,
    # and the 10th closed band [180, 200) holds it, so the open band starts at 200.
    write_rows(tmp_path, Table.DIM_CUSTOMERS, _customers([f"{10 * k}.00" for k in range(1, 21)]))
    result = run_query("ltv_distribution", tmp_path, {})
    assert [r[1] for r in result.rows] == [Decimal(20 * k).quantize(Decimal("0.01")) for k in range(11)]
    assert [r[3] for r in result.rows] == [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]
    assert result.rows[-1][2] is None


def test_no_customers_no_bands(tmp_path: Path) -> None:
    assert run_query("ltv_distribution", tmp_path, {}).rows == []


def test_read_table_sees_what_the_query_reads(sql_lake: Path) -> None:
    # The oracle's input is the whole dimension: no customer dropped on the way.
    assert len(read_table(sql_lake, Table.DIM_CUSTOMERS)) == 40
