"""Injected faults: which rows get one, what each looks like, and where it goes in the file.

``bad_rate`` F gives ``round(F * rows)`` faulted rows per dataset (rows = clean rows
generated), spread at random over rows and days, the kinds dealt out evenly among the
kinds that make sense for the dataset (``FAULT_KINDS``). Every faulted row breaks
exactly one rule, chosen so that a validator checking the rules in ``Reason`` order
(first broken rule wins) classifies it with exactly the injected reason:

- ``malformed_record``: CSV -- a row with one field too many (an unquoted decimal comma
  in ``price`` or ``total_amount``; in reviews, unquoted review text containing a comma); JSON Lines -- a
  truncated line or a Python-style dict with single quotes.
- ``missing_required``: one required field blank (CSV) or null / empty (JSON).
- ``bad_number``: ``"two"``, ``"3 pcs"``, ``"12,50"`` (quoted), ``"$12.50"``, ``"12.50 USD"``.
- ``bad_date``: ``"01/05/2025"``, ``"2025-13-05"``, ``"2025-02-30"``, hour 25 in a timestamp.
- ``unknown_enum``: status ``pending`` / ``shipped`` / ``cancelled`` / ``complete``; device
  ``smart-tv`` / ``console`` / ``smartwatch``; event_type ``wishlist_add`` / ``share`` / ``scroll``.
- ``out_of_range``: quantity 0, -1, -3 or 1500 (total recomputed as quantity * price, so
  it is not also an amount mismatch), rating 0, 6, 7, 10 or -1, price 0 or negative, stock
  negative.
- ``amount_mismatch``: total_amount off by at least 1.00 (ten times the amount, the unit
  price only, or a few currency units more).
- ``duplicate_key``: an exact re-send of a clean row, later in the same day's file.

Transactions, clickstream and reviews are corrupted in place: the faulted row replaces
the row it was made from (and a faulted transaction is never tied to a session or a
review). Products are an exception: a fault there is an extra record, a new listing
with a fresh product id that arrived broken, so the clean catalog stays complete. A
duplicate is always an extra row. products.json is a JSON array, where one malformed
element would make the whole file unreadable, so it gets no ``malformed_record``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Final

import numpy as np

from ecomlake.contract import Dataset
from ecomlake.generate.writers import Malformed, Num, json_line, money
from ecomlake.schemas import MAX_PRICE, Reason

R = Reason
FAULT_KINDS: Final[dict[Dataset, tuple[Reason, ...]]] = {
    Dataset.TRANSACTIONS: tuple(Reason),
    Dataset.PRODUCTS: (R.MISSING_REQUIRED, R.BAD_NUMBER, R.OUT_OF_RANGE, R.DUPLICATE_KEY),
    Dataset.CLICKSTREAM: (R.MALFORMED_RECORD, R.MISSING_REQUIRED, R.BAD_DATE, R.UNKNOWN_ENUM, R.DUPLICATE_KEY),
    Dataset.REVIEWS: (
        R.MALFORMED_RECORD,
        R.MISSING_REQUIRED,
        R.BAD_NUMBER,
        R.BAD_DATE,
        R.OUT_OF_RANGE,
        R.DUPLICATE_KEY,
    ),
}
EXTRA_ROW_DATASETS: Final = frozenset({Dataset.PRODUCTS})

NUMBER_WORDS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
UNKNOWN_STATUSES: Final = ("pending", "shipped", "cancelled", "complete")
UNKNOWN_DEVICES: Final = ("smart-tv", "console", "smartwatch")
UNKNOWN_EVENTS: Final = ("wishlist_add", "share", "scroll")
UNQUOTED_TEXTS: Final = ("Good value, would buy again", "Arrived late, works fine", "Nice colour, a bit small")

Record = dict[str, str | None]
Corruptor = Callable[[Reason, Record, np.random.Generator], "Record | Malformed"]


def plan_faults(
    rows: int, rate: float, kinds: Sequence[Reason], rng: np.random.Generator
) -> tuple[np.ndarray, list[Reason]]:
    """Sorted distinct row indices that carry a fault, and the fault of each."""
    n_bad = min(rows, int(np.floor(rate * rows + 0.5)))
    if n_bad == 0 or not kinds:
        return np.empty(0, dtype=np.int64), []
    chosen = np.sort(rng.choice(rows, size=n_bad, replace=False))
    # Deal kinds round-robin from a shuffled order, then shuffle: balanced counts, random placement.
    dealt = rng.permutation(np.resize(rng.permutation(len(kinds)), n_bad))
    return chosen, [kinds[k] for k in dealt.tolist()]


def place(
    lines: list[str],
    faults: Sequence[tuple[int, Reason]],
    corrupt_line: Callable[[int, Reason], str],
    extra_rows: bool,
    rng: np.random.Generator,
) -> list[str]:
    """A day's rows with its faults applied: in place, or as extra rows, duplicates later in the file."""
    n = len(lines)
    out = list(lines)
    extra_lines: list[str] = []
    extra_keys: list[float] = []
    for i, reason in faults:
        if reason is Reason.DUPLICATE_KEY:
            extra_lines.append(lines[i])
            extra_keys.append(i + 0.5 + rng.random() * (n - i - 0.5))
        elif extra_rows:
            extra_lines.append(corrupt_line(i, reason))
            extra_keys.append(rng.random() * n - 0.5)
        else:
            out[i] = corrupt_line(i, reason)
    if not extra_lines:
        return out
    keys = np.concatenate([np.arange(n, dtype=float), np.array(extra_keys)])
    merged = out + extra_lines
    return [merged[j] for j in np.argsort(keys, kind="stable").tolist()]


# --------------------------------------------------------------------------- field-level faults


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def bad_integer(value: str, unit: str, rng: np.random.Generator) -> str:
    n = int(value)
    word = NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else "many"
    return word if rng.random() < 0.5 else f"{n} {unit}"


def bad_money(value: str, rng: np.random.Generator) -> str:
    text = str(value)
    return _pick(rng, (text.replace(".", ","), f"${text}", f"{text} USD"))


def bad_date(day: str, rng: np.random.Generator) -> str:
    y, m, d = day.split("-")
    return _pick(rng, (f"{m}/{d}/{y}", f"{y}-13-{d}", f"{y}-02-30"))


def bad_timestamp(ts: str, rng: np.random.Generator) -> str:
    day, clock = ts[:10], ts[11:19]
    y, m, d = day.split("-")
    return _pick(rng, (f"{day}T25:{clock[3:]}Z", f"{m}/{d}/{y} {clock}", f"{y}-02-30T{clock}Z"))


def _transactions(reason: Reason, rec: Record, rng: np.random.Generator) -> Record | Malformed:
    r = dict(rec)
    price = str(r["price"])
    if reason is R.MALFORMED_RECORD:
        col = _pick(rng, ("price", "total_amount"))
        r[col] = str(r[col]).replace(".", ",")
        return Malformed(",".join(str(v) for v in r.values()))
    if reason is R.MISSING_REQUIRED:
        r[_pick(rng, ("transaction_id", "customer_id", "product_id"))] = ""
    elif reason is R.BAD_NUMBER:
        col = _pick(rng, ("quantity", "price", "total_amount"))
        r[col] = bad_integer(str(r[col]), "pcs", rng) if col == "quantity" else bad_money(str(r[col]), rng)
    elif reason is R.BAD_DATE:
        r["transaction_date"] = bad_date(str(r["transaction_date"]), rng)
    elif reason is R.UNKNOWN_ENUM:
        r["status"] = _pick(rng, UNKNOWN_STATUSES)
    elif reason is R.OUT_OF_RANGE:
        quantity = int(_pick(rng, ("0", "-1", "-3", "1500")))
        r["quantity"] = str(quantity)
        r["total_amount"] = money(quantity * _cents(price))
    elif reason is R.AMOUNT_MISMATCH:
        quantity, unit = int(str(r["quantity"])), _cents(price)
        right = quantity * unit
        options = [right + int(rng.integers(100, 2001))]
        if right * 10 <= int(MAX_PRICE * 100):
            options.append(right * 10)
        if quantity >= 2:
            options.append(unit)
        r["total_amount"] = money(options[int(rng.integers(len(options)))])
    return r


def _clickstream(reason: Reason, rec: Record, rng: np.random.Generator) -> Record | Malformed:
    r = dict(rec)
    if reason is R.MALFORMED_RECORD:
        if rng.random() < 0.5:
            line = json_line(r)
            return Malformed(line[: int(rng.integers(10, len(line) - 1))])
        return Malformed(str(r))  # Python dict syntax: single quotes, None
    if reason is R.MISSING_REQUIRED:
        col = _pick(rng, ("session_id", "event_type", "page", "timestamp", "device"))
        r[col] = "" if col == "page" else None
    elif reason is R.BAD_DATE:
        r["timestamp"] = bad_timestamp(str(r["timestamp"]), rng)
    elif reason is R.UNKNOWN_ENUM:
        if rng.random() < 0.5:
            r["device"] = _pick(rng, UNKNOWN_DEVICES)
        else:
            r["event_type"] = _pick(rng, UNKNOWN_EVENTS)
    return r


def _reviews(reason: Reason, rec: Record, rng: np.random.Generator) -> Record | Malformed:
    r = dict(rec)
    if reason is R.MALFORMED_RECORD:
        r["review_text"] = _pick(rng, UNQUOTED_TEXTS)
        return Malformed(",".join(str(v) for v in r.values()))
    if reason is R.MISSING_REQUIRED:
        r[_pick(rng, ("review_id", "product_id", "customer_id"))] = ""
    elif reason is R.BAD_NUMBER:
        r["rating"] = bad_integer(str(r["rating"]), "stars", rng)
    elif reason is R.BAD_DATE:
        r["review_date"] = bad_date(str(r["review_date"]), rng)
    elif reason is R.OUT_OF_RANGE:
        r["rating"] = _pick(rng, ("0", "6", "7", "10", "-1"))
    return r


def _products(reason: Reason, rec: Record, rng: np.random.Generator) -> Record | Malformed:
    r = dict(rec)
    if reason is R.MISSING_REQUIRED:
        col = _pick(rng, ("product_id", "name", "category", "brand"))
        r[col] = None if col in {"product_id", "category"} else ""
    elif reason is R.BAD_NUMBER:
        if rng.random() < 0.6:
            r["price"] = bad_money(str(r["price"]), rng)
        else:
            r["stock"] = bad_integer(str(r["stock"]), "units", rng)
    elif reason is R.OUT_OF_RANGE:
        if rng.random() < 0.6:
            r["price"] = Num(_pick(rng, ("0.00", f"-{r['price']}")))
        else:
            r["stock"] = Num(str(-int(rng.integers(1, 50))))
    return r


CORRUPTORS: Final[Mapping[Dataset, Corruptor]] = {
    Dataset.TRANSACTIONS: _transactions,
    Dataset.CLICKSTREAM: _clickstream,
    Dataset.REVIEWS: _reviews,
    Dataset.PRODUCTS: _products,
}


def corrupt(dataset: Dataset, reason: Reason, record: Record, rng: np.random.Generator) -> Record | Malformed:
    """A copy of ``record`` that breaks exactly the rule ``reason`` (never a duplicate: see ``place``)."""
    if reason not in FAULT_KINDS[dataset] or reason is Reason.DUPLICATE_KEY:
        raise ValueError(f"{dataset}: cannot inject {reason}")
    return CORRUPTORS[dataset](reason, record, rng)
