"""Every query's answer equals an independent pandas computation of the same question.

The pandas side reads the Parquet files directly (no DuckDB, no SQL) and follows each
query's stated definition; the two must agree value by value. Money is compared exactly;
ratios that the SQL rounds are compared within the rounding (5e-5 for 4 decimals).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from itertools import permutations
from pathlib import Path

import pandas as pd
import pytest
from sqltestlake import AFFINITY, DATES

from ecomlake.contract import PARTITION_KEY
from ecomlake.queries import QueryResult, run_query
from ecomlake.schemas import FUNNEL_STAGES, RFM_SEGMENTS

ZERO = Decimal("0.00")
R4 = 5.1e-5  # tolerance for values the SQL rounds to 4 decimals
R6 = 5.1e-7
R2 = 0.0051


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT


def assert_rows(result: QueryResult, expected: list[dict], tol: dict[str, float] | None = None) -> None:
    """The result equals the expected rows, in order, column by column."""
    tol = tol or {}
    assert expected, "the reference computation produced no rows; the test would prove nothing"
    assert result.columns == list(expected[0]), result.columns
    assert len(result.rows) == len(expected), (len(result.rows), len(expected))
    for i, (got_row, want) in enumerate(zip(result.rows, expected, strict=True)):
        for col, got in zip(result.columns, got_row, strict=True):
            exp_ = want[col]
            where = f"row {i} column {col}: got {got!r}, expected {exp_!r}"
            if _missing(exp_) or _missing(got):
                assert _missing(exp_), where
                assert _missing(got), where
            elif col in tol:
                assert abs(float(got) - float(exp_)) <= tol[col], where
            elif isinstance(exp_, float) or isinstance(got, float):
                assert math.isclose(float(got), float(exp_), rel_tol=1e-12, abs_tol=1e-12), where
            else:
                assert got == exp_, where


def _in_range(df: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    return df[(df["date"] >= start) & (df["date"] <= end)]


def _dsum(values) -> Decimal:
    return sum(values, ZERO)


def _ratio(a, b):
    return None if not b else float(a) / float(b)


LAST = DATES[-1]
DEFAULT_START = LAST - timedelta(days=29)

# --------------------------------------------------------------------------- top_products


def expected_top_products(fs: pd.DataFrame, start: date, end: date, top_n: int, category: str | None) -> list[dict]:
    s = _in_range(fs, start, end)
    if category is not None:
        s = s[s["category"] == category]
    s = s.assign(category=s["category"].fillna("unknown"))
    rows = []
    for cat, group in s.groupby("category"):
        products = []
        for pid, g in group.groupby("product_id"):
            completed = g[g["status"] == "completed"]
            names = g["product_name"].dropna()
            brands = g["brand"].dropna()
            products.append(
                {
                    "category": cat,
                    "product_id": pid,
                    "product_name": names.max() if len(names) else None,
                    "brand": brands.max() if len(brands) else None,
                    "orders": len(g),
                    "units_sold": int(completed["quantity"].sum()),
                    "revenue": _dsum(g["net_amount"]),
                    "returns": int(g["is_return"].sum()),
                }
            )
        total = _dsum(p["revenue"] for p in products)
        products.sort(key=lambda p: (-p["revenue"], p["product_id"]))
        for rank, p in enumerate(products[:top_n], start=1):
            rows.append(
                {
                    "category": cat,
                    "category_rank": rank,
                    "product_id": p["product_id"],
                    "product_name": p["product_name"],
                    "brand": p["brand"],
                    "orders": p["orders"],
                    "units_sold": p["units_sold"],
                    "revenue": p["revenue"],
                    "returns": p["returns"],
                    "return_rate": p["returns"] / p["orders"],
                    "category_revenue_share": _ratio(p["revenue"], total),
                }
            )
    return sorted(rows, key=lambda r: (r["category"], r["category_rank"]))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"top_n": "3"},
        {"start_date": DATES[2].isoformat(), "end_date": DATES[5].isoformat(), "top_n": "2"},
        {"category": "Home"},
    ],
)
def test_top_products(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("top_products", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", DEFAULT_START.isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    expected = expected_top_products(
        frames["fact_sales"], start, end, int(params.get("top_n", 10)), params.get("category")
    )
    assert_rows(result, expected, {"return_rate": R4, "category_revenue_share": R4})


# --------------------------------------------------------------------------- customer_ltv


def _ntile(n: int, buckets: int) -> list[int]:
    """SQL NTILE: sizes differ by at most one, larger buckets first."""
    base, extra = divmod(n, buckets)
    out: list[int] = []
    for b in range(1, buckets + 1):
        out.extend([b] * (base + (1 if b <= extra else 0)))
    return out


def expected_customer_ltv(dc: pd.DataFrame, top_n: int) -> list[dict]:
    ordered = sorted(dc.to_dict("records"), key=lambda r: (-r["lifetime_value"], r["customer_id"]))
    total = _dsum(r["lifetime_value"] for r in ordered)
    deciles = _ntile(len(ordered), 10)
    rows, running = [], ZERO
    for rank, (r, decile) in enumerate(zip(ordered, deciles, strict=True), start=1):
        running += r["lifetime_value"]
        if rank > top_n:
            continue
        rows.append(
            {
                "ltv_rank": rank,
                "customer_id": r["customer_id"],
                "segment": r["segment"],
                "orders": r["orders"],
                "lifetime_value": r["lifetime_value"],
                "avg_order_value": r["avg_order_value"],
                "first_purchase_date": r["first_purchase_date"],
                "last_purchase_date": r["last_purchase_date"],
                "recency_days": r["recency_days"],
                "ltv_decile": decile,
                "top_share_of_customers": rank / len(ordered),
                "value_share": _ratio(r["lifetime_value"], total),
                "cumulative_value_share": _ratio(running, total),
            }
        )
    return rows


@pytest.mark.parametrize("params", [{}, {"top_n": "7"}])
def test_customer_ltv(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("customer_ltv", sql_lake, params)
    expected = expected_customer_ltv(frames["dim_customers"], int(params.get("top_n", 100)))
    assert_rows(result, expected, {"top_share_of_customers": R4, "value_share": R6, "cumulative_value_share": R4})
    if not params:
        assert [r[9] for r in result.rows][:4] == [1, 1, 1, 1]  # 40 customers: 4 per decile
        assert result.rows[-1][12] == 1.0


# --------------------------------------------------------------------------- customer_segments


def expected_customer_segments(dc: pd.DataFrame, min_orders: int) -> list[dict]:
    c = dc[dc["orders"] >= min_orders]
    total_customers, total_revenue = len(c), _dsum(c["lifetime_value"])
    rows = []
    for seg in RFM_SEGMENTS:
        g = c[c["segment"] == seg]
        n = len(g)
        revenue = _dsum(g["lifetime_value"])

        def mean(col: str, g=g, n=n):
            return float(g[col].astype(float).mean()) if n else None

        rows.append(
            {
                "segment": seg,
                "customers": n,
                "customer_share": _ratio(n, total_customers),
                "revenue": revenue,
                "revenue_share": _ratio(revenue, total_revenue),
                "avg_lifetime_value": mean("lifetime_value"),
                "avg_orders": mean("orders"),
                "avg_recency_days": mean("recency_days"),
                "avg_r_score": mean("r_score"),
                "avg_f_score": mean("f_score"),
                "avg_m_score": mean("m_score"),
            }
        )
    return rows


@pytest.mark.parametrize("params", [{}, {"min_orders": "3"}])
def test_customer_segments(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("customer_segments", sql_lake, params)
    expected = expected_customer_segments(frames["dim_customers"], int(params.get("min_orders", 0)))
    tol = {"customer_share": R4, "revenue_share": R4, "avg_lifetime_value": R2, "avg_orders": R2}
    tol |= {"avg_recency_days": 0.051, "avg_r_score": R2, "avg_f_score": R2, "avg_m_score": R2}
    assert_rows(result, expected, tol)
    empty = next(r for r in result.rows if r[0] == "Needs Attention")
    assert empty[1:5] == (0, 0.0, ZERO, 0.0)


# --------------------------------------------------------------------------- conversion_funnel


def expected_conversion_funnel(sessions: pd.DataFrame, start: date, end: date, by: str) -> list[dict]:
    s = _in_range(sessions, start, end).copy()
    s["period_start"] = s["date"] if by == "day" else start
    s["depth"] = s["furthest_stage"].map(lambda st: FUNNEL_STAGES.index(st) + 1)
    rows = []
    for period, p in sorted(s.groupby("period_start"), key=lambda kv: kv[0]):
        for device in ["all", *sorted(p["device"].unique())]:
            d = p if device == "all" else p[p["device"] == device]
            counts = [int((d["depth"] >= k).sum()) for k in range(1, len(FUNNEL_STAGES) + 1)]
            for k, stage in enumerate(FUNNEL_STAGES):
                prev = counts[k - 1] if k else counts[k]
                rows.append(
                    {
                        "period_start": period,
                        "device": device,
                        "stage_order": k + 1,
                        "stage": stage,
                        "sessions": counts[k],
                        "step_conversion": _ratio(counts[k], prev),
                        "overall_conversion": _ratio(counts[k], counts[0]),
                    }
                )
    return rows


@pytest.mark.parametrize(
    "params",
    [{}, {"by": "day", "start_date": DATES[3].isoformat(), "end_date": DATES[6].isoformat()}],
)
def test_conversion_funnel(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("conversion_funnel", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", DEFAULT_START.isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    expected = expected_conversion_funnel(frames["fct_sessions"], start, end, params.get("by", "range"))
    assert_rows(result, expected, {"step_conversion": R4, "overall_conversion": R4})
    # The funnel narrows: every stage has at most the sessions of the one before.
    sessions = [r[4] for r in result.rows]
    for i in range(1, len(sessions)):
        if result.rows[i][2] > 1:
            assert sessions[i] <= sessions[i - 1]


# --------------------------------------------------------------------------- revenue_trends


def _period(d: date, grain: str) -> date:
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    return d


def expected_revenue_trends(fs: pd.DataFrame, start: date, end: date, grain: str) -> list[dict]:
    s = _in_range(fs, start, end).copy()
    s["period_start"] = s["date"].map(lambda d: _period(d, grain))
    rows = []
    for period, g in sorted(s.groupby("period_start"), key=lambda kv: kv[0]):
        completed = g[g["status"] == "completed"]
        rows.append(
            {
                "period_start": period,
                "days_with_sales": g["date"].nunique(),
                "orders": len(g),
                "completed_orders": len(completed),
                "units": int(completed["quantity"].sum()),
                "customers": g["customer_id"].nunique(),
                "revenue": _dsum(g["net_amount"]),
            }
        )
    for i, r in enumerate(rows):
        window = [float(x["revenue"]) for x in rows[max(0, i - 6) : i + 1]]
        prev = rows[i - 1]["revenue"] if i else None
        r["avg_order_value"] = _ratio(r["revenue"], r["completed_orders"])
        r["revenue_moving_avg"] = sum(window) / len(window)
        r["revenue_change"] = None if prev is None else r["revenue"] - prev
        r["revenue_growth"] = None if prev is None else _ratio(r["revenue"] - prev, prev)
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"grain": "week"},
        {"grain": "month"},
        {"start_date": DATES[1].isoformat(), "end_date": DATES[9].isoformat(), "grain": "week"},
    ],
)
def test_revenue_trends(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("revenue_trends", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", (LAST - timedelta(days=89)).isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    expected = expected_revenue_trends(frames["fact_sales"], start, end, params.get("grain", "day"))
    assert_rows(result, expected, {"avg_order_value": R2, "revenue_moving_avg": R2, "revenue_growth": R4})
    if params.get("grain") == "week":
        assert all(r[0].weekday() == 0 for r in result.rows)  # ISO weeks start on Monday


# --------------------------------------------------------------------------- return_rates


def expected_return_rates(fs: pd.DataFrame, dp: pd.DataFrame, start: date, end: date, by: str) -> list[dict]:
    s = _in_range(fs, start, end).copy()
    ratings = dict(zip(dp["product_id"], dp["avg_rating"], strict=True))

    def rating_band(pid: str) -> str:
        r = ratings.get(pid)
        return "unrated" if r is None or math.isnan(r) else str(math.floor(r))

    s["category"] = s["category"].fillna("unknown")
    s["brand"] = s["brand"].fillna("unknown")
    s["rating"] = s["product_id"].map(rating_band)
    rows = []
    for dim in ("category", "brand", "price_band", "rating"):
        if by not in ("all", dim):
            continue
        block = []
        for value, g in s.groupby(dim):
            returned = g[g["is_return"]]
            gross, lost = _dsum(g["total_amount"]), _dsum(returned["total_amount"])
            block.append(
                {
                    "dimension": dim,
                    "dimension_value": value,
                    "orders": len(g),
                    "returns": len(returned),
                    "return_rate": len(returned) / len(g),
                    "returned_units": int(returned["quantity"].sum()),
                    "gross_revenue": gross,
                    "revenue_lost": lost,
                    "revenue_lost_share": _ratio(lost, gross),
                }
            )
        rows.extend(sorted(block, key=lambda r: (-r["revenue_lost"], r["dimension_value"])))
    return rows


@pytest.mark.parametrize(
    "params",
    [{}, {"by": "rating"}, {"by": "price_band", "start_date": DATES[0].isoformat(), "end_date": DATES[3].isoformat()}],
)
def test_return_rates(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("return_rates", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", DEFAULT_START.isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    expected = expected_return_rates(frames["fact_sales"], frames["dim_products"], start, end, params.get("by", "all"))
    assert_rows(result, expected, {"return_rate": R4, "revenue_lost_share": R4})
    if not params:
        dims = {r[0] for r in result.rows}
        assert dims == {"category", "brand", "price_band", "rating"}
        assert ("rating", "unrated") in {(r[0], r[1]) for r in result.rows}


# --------------------------------------------------------------------------- daily_kpis


@pytest.mark.parametrize("params", [{}, {"start_date": DATES[4].isoformat(), "end_date": DATES[6].isoformat()}])
def test_daily_kpis(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("daily_kpis", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", DEFAULT_START.isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    k = _in_range(frames["daily_kpis"], start, end).sort_values("date")
    columns = ["date", *[c for c in k.columns if c != "date"]]
    expected = [{c: rec[c] for c in columns} for rec in k.to_dict("records")]
    assert_rows(result, expected, {"return_rate": R6, "conversion_rate": R6, "avg_rating": R4})
    assert [r[0] for r in result.rows] == [d for d in DATES if start <= d <= end]


# --------------------------------------------------------------------------- product_recommendations


def expected_recommendations(frames, start: date, end: date, kind: str, top_n: int, min_support: float) -> list[dict]:
    fs = _in_range(frames["fact_sales"], start, end)
    names = dict(zip(frames["dim_products"]["product_id"], frames["dim_products"]["name"], strict=True))

    # A basket: one customer's purchases of one transaction_date landed on one date (a late sale
    # of the same day, landed on the next date, is another basket).
    baskets: dict[tuple, set[str]] = {}
    for rec in fs[["customer_id", "transaction_date", "product_id", PARTITION_KEY]].itertuples(index=False):
        baskets.setdefault((rec.customer_id, rec.transaction_date, rec.date), set()).add(rec.product_id)
    total = len(baskets)
    with_product: dict[str, int] = {}
    pair_counts: dict[tuple[str, str], int] = {}
    for items in baskets.values():
        for p in items:
            with_product[p] = with_product.get(p, 0) + 1
        for a, b in permutations(sorted(items), 2):
            pair_counts[(a, b)] = pair_counts.get((a, b), 0) + 1
    rules = []
    for (a, b), n in pair_counts.items():
        support = n / total
        if support < min_support:
            continue
        rules.append(
            {
                "product_id": a,
                "related_product_id": b,
                "pair_baskets": n,
                "support": support,
                "confidence": n / with_product[a],
                "lift": float(n) * total / (float(with_product[a]) * with_product[b]),
            }
        )
    rules.sort(key=lambda r: (-r["pair_baskets"], -r["lift"], r["product_id"], r["related_product_id"]))

    clicks = _in_range(frames["clickstream"], start, end)
    views = clicks[(clicks["event_type"] == "product_view") & clicks["product_id"].notna()]
    view_counts = views.groupby("product_id").size().to_dict()
    purchase_events = clicks[clicks["event_type"] == "purchase"]
    product_of_order = dict(zip(fs["transaction_id"], fs["product_id"], strict=True))
    bought: dict[str, set[str]] = {}
    for order in purchase_events["order_id"]:
        if order in product_of_order:
            bought.setdefault(product_of_order[order], set()).add(order)
    conv = [
        {"product_id": p, "views": v, "purchases": len(bought.get(p, ())), "rate": len(bought.get(p, ())) / v}
        for p, v in view_counts.items()
    ]
    overall = sum(c["purchases"] for c in conv) / sum(c["views"] for c in conv)
    weak = sorted((c for c in conv if c["rate"] < overall), key=lambda c: (-c["views"], c["rate"], c["product_id"]))

    rows = []
    if kind in ("all", "bought_together"):
        for rank, r in enumerate(rules[:top_n], start=1):
            rows.append(
                {
                    "kind": "bought_together",
                    "kind_rank": rank,
                    "product_id": r["product_id"],
                    "product_name": names.get(r["product_id"]),
                    "related_product_id": r["related_product_id"],
                    "related_product_name": names.get(r["related_product_id"]),
                    "pair_baskets": r["pair_baskets"],
                    "support": r["support"],
                    "confidence": r["confidence"],
                    "lift": r["lift"],
                    "views": None,
                    "purchases": None,
                    "view_to_purchase_rate": None,
                }
            )
    if kind in ("all", "viewed_not_bought"):
        for rank, c in enumerate(weak[:top_n], start=1):
            rows.append(
                {
                    "kind": "viewed_not_bought",
                    "kind_rank": rank,
                    "product_id": c["product_id"],
                    "product_name": names.get(c["product_id"]),
                    "related_product_id": None,
                    "related_product_name": None,
                    "pair_baskets": None,
                    "support": None,
                    "confidence": None,
                    "lift": None,
                    "views": c["views"],
                    "purchases": c["purchases"],
                    "view_to_purchase_rate": c["rate"],
                }
            )
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind": "bought_together", "top_n": "50", "min_support": "0.02"},
        {"kind": "viewed_not_bought", "start_date": DATES[2].isoformat(), "end_date": DATES[7].isoformat()},
    ],
)
def test_product_recommendations(sql_lake: Path, frames, params: dict) -> None:
    result = run_query("product_recommendations", sql_lake, params)
    start = date.fromisoformat(params.get("start_date", DEFAULT_START.isoformat()))
    end = date.fromisoformat(params.get("end_date", LAST.isoformat()))
    expected = expected_recommendations(
        frames,
        start,
        end,
        params.get("kind", "all"),
        int(params.get("top_n", 20)),
        float(params.get("min_support", 0)),
    )
    assert_rows(result, expected, {"support": R6, "confidence": R4, "lift": R4, "view_to_purchase_rate": R4})
    if not params:
        top = result.to_records()[0]
        # The builder's strongest affinity pairs come first, in both directions.
        assert {top["product_id"], top["related_product_id"]} in [{a, b} for a, b in AFFINITY.items()]
        assert top["lift"] > 1
        assert {r["kind"] for r in result.to_records()} == {"bought_together", "viewed_not_bought"}


def test_to_records_is_json_ready(sql_lake: Path) -> None:
    records = run_query("daily_kpis", sql_lake, {"start_date": DATES[0].isoformat(), "end_date": DATES[0].isoformat()})
    (row,) = records.to_records()
    assert row["date"] == DATES[0].isoformat()
    assert isinstance(row["revenue"], float)
    assert isinstance(row["orders"], int)


def test_empty_lake_returns_no_rows(tmp_path: Path) -> None:
    for name in ("top_products", "product_recommendations", "customer_segments", "conversion_funnel"):
        result = run_query(name, tmp_path)
        if name == "customer_segments":
            # Eight segments, all empty.
            assert [(r[0], r[1]) for r in result.rows] == [(s, 0) for s in RFM_SEGMENTS]
        else:
            assert result.rows == []
            assert result.params["end_date"] is None


def _sale(tid: str, product_id: str, amount: str, day: date) -> dict:
    money = Decimal(amount)
    return {
        "transaction_id": tid,
        "customer_id": "C1",
        "product_id": product_id,
        "product_name": product_id.lower(),
        "category": "Toys",
        "brand": "B",
        "price_band": "mid",
        "quantity": 1,
        "price": money,
        "total_amount": money,
        "net_amount": money,
        "transaction_date": day,
        "status": "completed",
        "is_return": False,
        "year": day.year,
        "month": day.month,
        "date": day,
    }


def test_top_products_ties_rank_by_product_id(tmp_path: Path) -> None:
    from sqltestlake import write_rows

    from ecomlake.contract import Table

    day = date(2025, 5, 1)
    rows = [_sale("T1", "P3", "40.00", day), _sale("T2", "P1", "40.00", day), _sale("T3", "P2", "50.00", day)]
    write_rows(tmp_path, Table.FACT_SALES, rows)
    result = run_query("top_products", tmp_path, {"top_n": "2"})
    assert [(r[1], r[2]) for r in result.rows] == [(1, "P2"), (2, "P1")]
