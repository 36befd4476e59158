"""Baskets counted in plain Python, as ``curated/basket_pairs`` holds them: the tests' one reading of it.

Independent of the transform (``ecomlake.etl.transforms.curated.basket_pairs``): what the
test lakes write as that table, and what a run's published table is compared with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any

from ecomlake.contract import PARTITION_KEY


def count_baskets(
    sales: Iterable[tuple[Hashable, Hashable, Hashable, str]],
) -> tuple[Counter[tuple[Any, str, str]], Counter[Any]]:
    """From (date, customer, transaction_date, product) sales: the baskets holding each (date, a, b)
    with a <= b -- (date, a, a) counts the baskets holding a -- and every basket of each date.

    A basket is one customer's purchases of one transaction_date landed on one date.
    """
    baskets: dict[tuple[Any, Any, Any], set[str]] = {}
    for day, customer, sold_on, product in sales:
        baskets.setdefault((day, customer, sold_on), set()).add(product)
    pairs: Counter[tuple[Any, str, str]] = Counter()
    per_day: Counter[Any] = Counter()
    for (day, _customer, _sold_on), items in baskets.items():
        per_day[day] += 1
        for a in items:
            for b in items:
                if a <= b:
                    pairs[(day, a, b)] += 1
    return pairs, per_day


def basket_pair_rows(sales: Iterable[tuple[Hashable, Hashable, Hashable, str]]) -> list[dict[str, Any]]:
    """The rows of ``basket_pairs`` for ``sales`` (see :func:`count_baskets`), sorted."""
    pairs, per_day = count_baskets(sales)
    return [
        {"product_id": a, "related_product_id": b, "baskets": n, "day_baskets": per_day[day], PARTITION_KEY: day}
        for (day, a, b), n in sorted(pairs.items())
    ]
