"""basket_pairs as the real jobs publish it, against the baskets read back from fact_sales.

The transform has a hand-worked test (test_etl_transforms) and runs on both engines in the
parity tests; this checks what a run publishes, and what product_recommendations reads
from it, against an independent count made here from the published sales.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ecomlake.contract import Table
from ecomlake.queries import run_query
from tests.baskets import count_baskets
from tests.lakeruns import table_rows


def _expected(lake: Any) -> tuple[Counter[tuple[str, str, str]], Counter[str]]:
    """Per (date, a, b) with a <= b, the baskets holding both; per date, every basket."""
    return count_baskets(
        table_rows(
            lake,
            Table.FACT_SALES,
            'CAST("date" AS VARCHAR), customer_id, CAST(transaction_date AS VARCHAR), product_id',
        )
    )


def test_published_basket_pairs_are_the_baskets_of_the_published_sales(generated: dict[str, Any]) -> None:
    lake = generated["lake"]
    pairs, per_day = _expected(lake)
    rows = table_rows(
        lake,
        Table.BASKET_PAIRS,
        'CAST("date" AS VARCHAR), product_id, related_product_id, baskets, day_baskets',
    )
    assert rows == sorted(((d, a, b, n, per_day[d]) for (d, a, b), n in pairs.items()), key=repr)
    assert sorted({r[0] for r in rows}) == generated["dates"]
    assert any(a != b for _d, a, b, _n, _t in rows)  # baskets of several products exist


def test_recommendations_count_the_pairs_of_the_whole_range(generated: dict[str, Any]) -> None:
    lake, dates = generated["lake"], generated["dates"]
    pairs, per_day = _expected(lake)
    both: Counter[tuple[str, str]] = Counter()
    for (_day, a, b), n in pairs.items():
        if a != b:
            both[(a, b)] += n
            both[(b, a)] += n
    result = run_query(
        "product_recommendations",
        lake,
        {"kind": "bought_together", "top_n": "1000", "start_date": dates[0], "end_date": dates[-1]},
    )
    got = {(r["product_id"], r["related_product_id"]): r["pair_baskets"] for r in result.to_records()}
    # The first 1,000 of the ranking (baskets with both first): each with the count made here,
    # and none left out that more baskets hold.
    assert len(both) > len(got) == 1000
    assert all(both[k] == n for k, n in got.items())
    assert min(got.values()) >= max(n for k, n in both.items() if k not in got)
    total = sum(per_day.values())
    support = {(r["product_id"], r["related_product_id"]): r["support"] for r in result.to_records()}
    assert all(abs(support[k] - round(both[k] / total, 6)) < 1e-9 for k in got)
