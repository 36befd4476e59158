"""Generator parameters, their validation, identifiers and random streams.

Every random draw comes from a numpy ``Generator`` seeded from ``(seed, stream)``, one
stream per concern, so the clean data of a dataset does not change when an unrelated
option (the fault rate, another dataset's size) changes, and the same seed always
gives the same bytes. Nothing reads the wall clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from enum import IntEnum
from typing import Any, Final

import numpy as np

from ecomlake.contract import DATE_FORMAT, to_date
from ecomlake.exceptions import InvalidArgumentError

MAX_DAYS: Final = 3660  # ten years of daily partitions; more is a typo, not a workload

# Identifier prefixes and widths: T000000001 (transaction), C, P, S, R.
ID_WIDTH: Final = 9
TXN_PREFIX: Final = "T"
CUSTOMER_PREFIX: Final = "C"
PRODUCT_PREFIX: Final = "P"
SESSION_PREFIX: Final = "S"
REVIEW_PREFIX: Final = "R"


def ident(prefix: str, number: int) -> str:
    """One identifier, e.g. ``ident("T", 1) == "T000000001"``."""
    return f"{prefix}{number:0{ID_WIDTH}d}"


def idents(prefix: str, numbers: np.ndarray) -> list[str]:
    """Identifiers for an array of 1-based numbers."""
    fmt = f"{prefix}{{:0{ID_WIDTH}d}}".format
    return [fmt(n) for n in numbers.tolist()]


class Stream(IntEnum):
    """Independent random streams (see module docstring)."""

    CALENDAR = 1
    CUSTOMERS = 2
    CATALOG = 3
    PRICES = 4
    TRANSACTIONS = 5
    STOCK = 6
    CLICKSTREAM = 7
    REVIEWS = 8
    FAULTS = 100  # + dataset index


def rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(stream)])


@dataclass(frozen=True)
class GenerateParams:
    """What to generate. ``customers=None`` picks one customer per four transactions."""

    days: int = 30
    start: str = "2025-01-01"
    transactions: int = 100_000
    products: int = 500
    clickstream: int = 50_000
    reviews: int = 2_000
    customers: int | None = None
    seed: int = 42
    bad_rate: float = 0.0

    def __post_init__(self) -> None:
        to_date(self.start)  # raises InvalidDateError with a clear message
        for name in ("days", "transactions", "products", "clickstream", "reviews"):
            _positive(name, getattr(self, name))
        if self.customers is not None:
            _positive("customers", self.customers)
        if self.days > MAX_DAYS:
            raise InvalidArgumentError(f"--days must be at most {MAX_DAYS}, got {self.days}")
        try:
            to_date(self.start) + timedelta(days=self.days - 1)
        except OverflowError:
            raise InvalidArgumentError(f"--start {self.start} plus {self.days} days runs past year 9999") from None
        if self.transactions < self.days:
            # Every day needs a transactions partition: the pipeline treats a missing one as an outage.
            raise InvalidArgumentError(
                f"--transactions must be at least --days ({self.days}) so every day has one, got {self.transactions}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidArgumentError(f"--seed must be a non-negative integer, got {self.seed!r}")
        rate = self.bad_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
            raise InvalidArgumentError(f"--bad-rate must be a number in [0, 1], got {rate!r}")

    @property
    def n_customers(self) -> int:
        return self.customers if self.customers is not None else max(10, round(self.transactions / 4))

    @property
    def dates(self) -> list[str]:
        first = to_date(self.start)
        return [(first + timedelta(days=i)).strftime(DATE_FORMAT) for i in range(self.days)]

    @property
    def first_day(self) -> date:
        return to_date(self.start)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["customers"] = self.n_customers
        return out


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentError(f"--{name} must be a positive integer, got {value!r}")
