"""Customers: who buys, how often, from which device, and how readily they return things.

Customers never appear as a file of their own (the seed has no customer source); they
are the population the transactions, sessions and reviews draw from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ecomlake.schemas import DEVICES

# Device mix of shoppers (order of schemas.DEVICES: mobile, desktop, tablet).
DEVICE_SHARE: Final = np.array([0.56, 0.36, 0.08])
# Share of customers already known before the first generated day; the rest sign up
# during the period, so "new customers per day" is a real, non-zero figure.
EXISTING_SHARE: Final = 0.65
MAX_WEIGHT: Final = 12.0  # in medians
assert len(DEVICE_SHARE) == len(DEVICES)


@dataclass(frozen=True)
class Customers:
    """Customer i has id C<i+1>. All arrays are indexed by customer."""

    weight: np.ndarray  # purchase propensity: lognormal, so a few customers buy a lot
    first_day: np.ndarray  # index of the first day the customer can shop
    device: np.ndarray  # preferred device, index into DEVICES
    return_factor: np.ndarray  # multiplies the category return rate (mean 1)

    @property
    def count(self) -> int:
        return len(self.weight)

    def active_on(self, day: int) -> np.ndarray:
        """Indices of customers who can shop on ``day``."""
        return np.flatnonzero(self.first_day <= day)

    def sample(self, day: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` customers shopping on ``day``, drawn by their purchase propensity."""
        active = self.active_on(day)
        weights = self.weight[active]
        return active[rng.choice(len(active), size=size, p=weights / weights.sum())]


def make_customers(count: int, days: int, rng: np.random.Generator) -> Customers:
    # Heavy tail: lognormal weights put about 30 % of purchases on the top 10 % of customers;
    # the cap keeps the busiest customer to a few dozen orders a month, not hundreds.
    weight = np.minimum(rng.lognormal(0.0, 1.1, size=count), MAX_WEIGHT)
    existing = rng.random(count) < EXISTING_SHARE
    first_day = np.where(existing, 0, rng.integers(0, days, size=count))
    first_day[0] = 0  # someone can always shop on day one
    device = rng.choice(len(DEVICES), size=count, p=DEVICE_SHARE)
    factor = rng.lognormal(0.0, 0.5, size=count)
    return Customers(weight, first_day, device, factor / factor.mean())
