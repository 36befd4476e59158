"""How activity spreads over days and over the hours of a day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

import numpy as np

# Monday .. Sunday: shoppers buy more at the weekend.
WEEKDAY_FACTOR: Final = np.array([0.95, 0.93, 0.97, 1.0, 1.08, 1.16, 1.11])
# Share of sessions starting in each UTC hour: quiet nights, a lunch bump, an evening peak.
HOUR_WEIGHTS: Final = np.array(
    [
        1.2,
        0.8,
        0.5,
        0.4,
        0.4,
        0.6,
        1.2,
        2.2,
        3.4,
        4.2,
        4.6,
        4.9,
        5.4,
        5.2,
        4.8,
        4.7,
        4.9,
        5.3,
        6.0,
        6.8,
        7.2,
        6.9,
        5.2,
        2.8,
    ]
)
SECONDS_PER_DAY: Final = 86_400


def day_weights(first: date, days: int, rng: np.random.Generator) -> np.ndarray:
    """Relative activity per day: weekday pattern, a gentle growth trend and a little noise."""
    weekday = np.array([(first + timedelta(days=i)).weekday() for i in range(days)])
    trend = 1.0 + 0.10 * np.arange(days) / max(days - 1, 1)
    noise = rng.lognormal(0.0, 0.04, size=days)
    weights = WEEKDAY_FACTOR[weekday] * trend * noise
    return weights / weights.sum()


def split_over_days(total: int, weights: np.ndarray, rng: np.random.Generator, minimum: int = 0) -> np.ndarray:
    """``total`` split into per-day counts following ``weights``; each day gets at least ``minimum``."""
    floor = min(minimum, total // len(weights))
    rest = total - floor * len(weights)
    return floor + rng.multinomial(rest, weights)


def session_starts(n: int, rng: np.random.Generator) -> np.ndarray:
    """Second of the day (UTC) each of ``n`` sessions starts at, following HOUR_WEIGHTS."""
    hours = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return hours * 3600 + rng.integers(0, 3600, size=n)
