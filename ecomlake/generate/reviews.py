"""Reviews: written by buyers, on or after the day they bought, rating tied to the outcome.

A review is for one transaction: same customer, same product, ``review_date`` 0 to a
few days after the purchase (the file is the review date's partition). Returned or
refunded purchases are four times as likely to be reviewed and are rated low; kept
purchases are rated mostly 4-5; a product's latent quality shifts both. The free text
has commas, double quotes and, now and then, a line break -- properly CSV-quoted -- so
the parsers downstream are exercised. About 5 % of reviews are a rating with no text.

If fewer transactions can be reviewed inside the window than reviews were asked for,
every one of them is reviewed once and the count is smaller (the manifest says).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ecomlake.generate.products import Catalog
from ecomlake.generate.transactions import COMPLETED, Transactions

RETURN_REVIEW_WEIGHT: Final = 4.0
REVIEW_LAG_P: Final = 0.28  # geometric lag in days: 28 % same day, mean about 2.6 days
EMPTY_TEXT_SHARE: Final = 0.05

POSITIVE: Final = (
    "Great {noun}, exactly as described.",
    "Works perfectly. Setup took 5 minutes, no issues at all.",
    'Bought this for my "home office" and it is perfect.',
    "Love it! Quality is excellent, and the packaging was neat.",
    "Solid {noun} for the price; would buy again.",
    "Arrived a day early, well packed, and it looks even better in person.",
    'My partner calls it the "best purchase of the year", and I agree.',
    "Five stars. Does what it says, nothing more, nothing less.",
)
NEUTRAL: Final = (
    "It is OK, nothing special.",
    'Decent {noun}, but the "premium" finish scratches easily.',
    "Does the job, although shipping took a week.",
    "Good value, but the instructions were confusing.",
    "Fine for everyday use; I expected a bit more, honestly.",
)
NEGATIVE: Final = (
    "Stopped working after 3 days, very disappointed.",
    "Not as described: the colour is off, and it feels cheap.",
    'The so-called "fast shipping" took two weeks.',
    "Broke on first use. Support never answered, so I gave up.",
    "Smaller than the pictures suggest, and it smells of plastic.",
)
RETURN_NOTES: Final = (
    "Had to return it, wrong size.",
    "Sent it back; refund took a while, but it came.",
    'Returned. Box said "new", item was clearly used.',
)
PROS_CONS: Final = (
    "Pros: sturdy, good looking\nCons: pricey",
    "Pros: easy to use, light\nCons: short cable, no case",
    'Update after a month:\nstill going strong, the "eco" mode really helps.',
)


@dataclass(frozen=True)
class Reviews:
    """Row i is review R<i+1>; rows ordered by review day (the file order)."""

    transaction: np.ndarray
    day: np.ndarray
    rating: np.ndarray
    text: list[str]
    day_start: np.ndarray

    @property
    def count(self) -> int:
        return len(self.day)

    def rows_of(self, day: int) -> slice:
        return slice(int(self.day_start[day]), int(self.day_start[day + 1]))


def _text(rating: int, returned: bool, noun: str, pick: np.ndarray) -> str:
    """One review text, chosen by ``pick``: four uniform draws from the seeded stream."""
    pool = POSITIVE if rating >= 4 else NEUTRAL if rating == 3 else NEGATIVE
    parts = [pool[int(pick[0] * len(pool))].format(noun=noun.lower())]
    if returned and pick[1] < 0.6:
        parts.append(RETURN_NOTES[int(pick[2] * len(RETURN_NOTES))])
    elif pick[1] < 0.08:
        parts.append(PROS_CONS[int(pick[2] * len(PROS_CONS))])
    elif pick[1] < 0.4:
        extra = POSITIVE if rating >= 4 else NEGATIVE if rating <= 2 else NEUTRAL
        parts.append(extra[int(pick[3] * len(extra))].format(noun=noun.lower()))
    return " ".join(parts)


def make_reviews(
    wanted: int,
    days: int,
    transactions: Transactions,
    reviewable: np.ndarray,
    catalog: Catalog,
    rng: np.random.Generator,
) -> Reviews:
    rows = np.flatnonzero(reviewable)
    returned = transactions.status[rows] != COMPLETED
    weight = np.where(returned, RETURN_REVIEW_WEIGHT, 1.0)
    # Weighted order without replacement (Efraimidis-Spirakis): sort by log(u) / w.
    keys = np.log(rng.random(len(rows))) / weight
    lag = rng.geometric(REVIEW_LAG_P, len(rows)) - 1
    review_day = transactions.day[rows] + lag
    order = np.argsort(-keys, kind="stable")
    order = order[review_day[order] < days][:wanted]
    # File order: by review day, within a day in the weighted order.
    order = order[np.argsort(review_day[order], kind="stable")]
    txn, day = rows[order], review_day[order]

    product = transactions.product[txn]
    is_return = transactions.status[txn] != COMPLETED
    mean = np.where(is_return, 1.7, 4.2) + 0.8 * catalog.quality[product]
    rating = np.clip(np.rint(mean + rng.normal(0.0, 0.8, len(txn))), 1, 5).astype(np.int64)

    picks = rng.random((len(txn), 4))
    empty = rng.random(len(txn)) < EMPTY_TEXT_SHARE
    noun_of = [catalog.noun[p] for p in product.tolist()]
    text = [
        "" if e else _text(r, bool(ret), n, pk)
        for e, r, ret, n, pk in zip(empty.tolist(), rating.tolist(), is_return.tolist(), noun_of, picks, strict=True)
    ]
    day_start = np.searchsorted(day, np.arange(days + 1), side="left")
    return Reviews(txn, day, rating, text, day_start)
