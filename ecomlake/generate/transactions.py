"""Transactions: who bought what, how many, at which price, and whether it came back.

One row per order line. ``price`` is the product's price on the transaction's day,
``total_amount = quantity * price`` exactly (integer cents throughout, so no rounding
drift), and a few percent come back as ``returned`` or ``refunded`` -- more for clothes
and shoes, hardly any for groceries, more for poorly made products and for customers
who return a lot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ecomlake.generate.customers import Customers
from ecomlake.generate.products import CATEGORIES, Catalog, PriceSchedule
from ecomlake.schemas import TRANSACTION_STATUSES

COMPLETED, RETURNED, REFUNDED = (TRANSACTION_STATUSES.index(s) for s in ("completed", "returned", "refunded"))
RETURNED_SHARE: Final = 0.6  # of returns: item sent back; the rest refunded without a return
MAX_UNITS: Final = 10
# Share of order lines that are the companion of the line before (same customer, same day):
# the co-purchase signal the "bought together" analysis is there to find.
COMPANION_SHARE: Final = 0.12


@dataclass(frozen=True)
class Transactions:
    """Row i is transaction T<i+1>; rows are ordered by day (the file order)."""

    day: np.ndarray
    customer: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    price_cents: np.ndarray
    status: np.ndarray  # index into TRANSACTION_STATUSES
    day_start: np.ndarray  # first row of each day; day d is rows day_start[d]:day_start[d+1]

    @property
    def count(self) -> int:
        return len(self.day)

    @property
    def total_cents(self) -> np.ndarray:
        return self.quantity * self.price_cents

    def rows_of(self, day: int) -> slice:
        return slice(int(self.day_start[day]), int(self.day_start[day + 1]))

    def units_by_day(self, days: int, products: int) -> np.ndarray:
        """Units sold per [day, product] (all statuses: a return comes back later)."""
        flat = np.bincount(self.day * products + self.product, weights=self.quantity, minlength=days * products)
        return flat.reshape(days, products).astype(np.int64)


def make_transactions(
    per_day: np.ndarray,
    customers: Customers,
    catalog: Catalog,
    prices: PriceSchedule,
    rng: np.random.Generator,
) -> Transactions:
    days = len(per_day)
    day = np.repeat(np.arange(days), per_day)
    customer = np.concatenate([customers.sample(d, int(n), rng) for d, n in enumerate(per_day)])
    n = len(day)
    product = rng.choice(catalog.count, size=n, p=catalog.popularity)
    customer, product = add_companion_lines(day, customer, product, catalog, rng)
    quantity_p = np.array([c.quantity_p for c in CATEGORIES])[catalog.category[product]]
    quantity = np.minimum(rng.geometric(quantity_p), MAX_UNITS).astype(np.int64)
    price = prices.cents[day, product]
    return_p = np.clip(catalog.return_rate[product] * customers.return_factor[customer], 0.0, 0.6)
    is_return = rng.random(n) < return_p
    status = np.where(is_return, np.where(rng.random(n) < RETURNED_SHARE, RETURNED, REFUNDED), COMPLETED)
    day_start = np.concatenate([[0], np.cumsum(per_day)])
    return Transactions(day, customer, product, quantity, price, status, day_start)


def add_companion_lines(
    day: np.ndarray,
    customer: np.ndarray,
    product: np.ndarray,
    catalog: Catalog,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn some lines into the companion purchase of the line before.

    Every product has one companion (another product, drawn by popularity), and a share of
    lines become "the same customer, the same day, also bought the companion", so some pairs
    are bought together far more often than chance, as in real baskets.
    """
    companion = rng.choice(catalog.count, size=catalog.count, p=catalog.popularity)
    clash = companion == np.arange(catalog.count)
    companion[clash] = (companion[clash] + 1) % catalog.count
    n = len(day)
    pick = rng.random(n) < COMPANION_SHARE
    pick[0] = False
    pick[1:] &= day[1:] == day[:-1]  # never across a day boundary: a basket is one day
    idx = np.flatnonzero(pick)
    customer, product = customer.copy(), product.copy()
    # In order, so a run of picked lines chains (A, companion of A, its companion, ...)
    # like a basket built item by item.
    for i in idx.tolist():
        customer[i] = customer[i - 1]
        product[i] = companion[product[i - 1]]
    return customer, product
