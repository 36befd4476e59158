"""``generate()``: build the world (customers, catalog, prices, sales, sessions, reviews),
render each day's files in the seed's raw formats with the planned faults, write them
and the manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from faker import Faker

from ecomlake.contract import DATASETS, RAW_FILE_NAMES, Dataset
from ecomlake.generate import faults as fl
from ecomlake.generate.calendar import SECONDS_PER_DAY, day_weights, split_over_days
from ecomlake.generate.clickstream import Clickstream, make_clickstream
from ecomlake.generate.config import (
    CUSTOMER_PREFIX,
    PRODUCT_PREFIX,
    REVIEW_PREFIX,
    SESSION_PREFIX,
    TXN_PREFIX,
    GenerateParams,
    Stream,
    idents,
    rng,
)
from ecomlake.generate.customers import Customers, make_customers
from ecomlake.generate.manifest import build_manifest, write_manifest
from ecomlake.generate.products import (
    CATEGORIES,
    Catalog,
    PriceSchedule,
    make_catalog,
    make_price_schedule,
    stock_reports,
)
from ecomlake.generate.reviews import Reviews, make_reviews
from ecomlake.generate.transactions import MAX_UNITS, Transactions, make_transactions
from ecomlake.generate.writers import (
    Num,
    assemble,
    clear_previous,
    csv_field,
    json_line,
    lookup,
    money,
    money_column,
    render_line,
    write_atomic,
)
from ecomlake.schemas import DEVICES, EVENT_TYPES, RAW_SCHEMAS, TRANSACTION_STATUSES, Reason

Progress = Callable[[str, int, int], None]
STAGES = ("customers and catalog", "transactions", "clickstream", "reviews", "faults", "write files")


@dataclass(frozen=True)
class World:
    params: GenerateParams
    dates: list[str]
    customers: Customers
    catalog: Catalog
    prices: PriceSchedule
    stock: list[np.ndarray]
    transactions: Transactions
    clickstream: Clickstream
    reviews: Reviews
    faults: dict[Dataset, tuple[np.ndarray, list[Reason]]]  # global row -> reason, per dataset
    fault_streams: dict[Dataset, np.random.Generator]  # plans, then the faults' own draws


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days * SECONDS_PER_DAY


def build_world(params: GenerateParams, progress: Progress) -> World:
    seed, days = params.seed, params.days
    dates = params.dates
    weights = day_weights(params.first_day, days, rng(seed, Stream.CALENDAR))
    cal = rng(seed, Stream.CALENDAR + 50)  # count splits: separate from the weights themselves

    progress(STAGES[0], 0, len(STAGES))
    customers = make_customers(params.n_customers, days, rng(seed, Stream.CUSTOMERS))
    fake = Faker("en_US")
    fake.seed_instance(seed)
    catalog = make_catalog(params.products, rng(seed, Stream.CATALOG), fake)
    prices = make_price_schedule(catalog, days, rng(seed, Stream.PRICES))

    progress(STAGES[1], 1, len(STAGES))
    txn_per_day = split_over_days(params.transactions, weights, cal, minimum=1)
    txns = make_transactions(txn_per_day, customers, catalog, prices, rng(seed, Stream.TRANSACTIONS))
    stock = stock_reports(catalog, prices, txns.units_by_day(days, catalog.count), rng(seed, Stream.STOCK))

    # Transaction faults are decided now: a corrupted transaction gets no session and no review.
    fault_rng = {ds: rng(seed, Stream.FAULTS + i) for i, ds in enumerate(DATASETS)}
    plans: dict[Dataset, tuple[np.ndarray, list[Reason]]] = {}
    plans[Dataset.TRANSACTIONS] = _plan(Dataset.TRANSACTIONS, txns.count, params.bad_rate, fault_rng)
    clean_txn = np.ones(txns.count, dtype=bool)
    rows, kinds = plans[Dataset.TRANSACTIONS]
    clean_txn[rows[[k is not Reason.DUPLICATE_KEY for k in kinds]]] = False

    progress(STAGES[2], 2, len(STAGES))
    clicks_per_day = split_over_days(params.clickstream, weights, cal, minimum=1)
    epochs = np.array([_epoch_day(params.first_day) + i * SECONDS_PER_DAY for i in range(days)], dtype=np.int64)
    clicks = make_clickstream(
        clicks_per_day, epochs, txns, clean_txn, customers, catalog, rng(seed, Stream.CLICKSTREAM)
    )

    progress(STAGES[3], 3, len(STAGES))
    reviews = make_reviews(params.reviews, days, txns, clean_txn, catalog, rng(seed, Stream.REVIEWS))

    progress(STAGES[4], 4, len(STAGES))
    product_rows = sum(len(u) for u in prices.updated)
    plans[Dataset.PRODUCTS] = _plan(Dataset.PRODUCTS, product_rows, params.bad_rate, fault_rng)
    plans[Dataset.CLICKSTREAM] = _plan(Dataset.CLICKSTREAM, clicks.count, params.bad_rate, fault_rng)
    plans[Dataset.REVIEWS] = _plan(Dataset.REVIEWS, reviews.count, params.bad_rate, fault_rng)
    return World(params, dates, customers, catalog, prices, stock, txns, clicks, reviews, plans, fault_rng)


def _plan(
    dataset: Dataset, rows: int, rate: float, streams: dict[Dataset, np.random.Generator]
) -> tuple[np.ndarray, list[Reason]]:
    return fl.plan_faults(rows, rate, fl.FAULT_KINDS[dataset], streams[dataset])


# --------------------------------------------------------------------------- per-day rendering


@dataclass
class DayRows:
    """A day's clean rows, rendered, and a way to get any of them back as a record."""

    lines: list[str]
    record: Callable[[int], dict[str, Any]]


class Renderer:
    """Renders each dataset's day from the world, sharing precomputed id strings."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.customer_ids = np.array(idents(CUSTOMER_PREFIX, np.arange(1, world.customers.count + 1)), dtype=object)
        self.customer_json = np.array([f'"{c}"' for c in self.customer_ids.tolist()], dtype=object)
        self.product_ids = np.array(idents(PRODUCT_PREFIX, np.arange(1, world.catalog.count + 1)), dtype=object)
        self.quantities = np.array([str(q) for q in range(MAX_UNITS + 1)], dtype=object)
        self.category_names = [c.name for c in CATEGORIES]
        self.product_day_start = np.concatenate([[0], np.cumsum([len(u) for u in world.prices.updated])])
        self.next_product = world.catalog.count + 1  # fresh ids for broken new listings

    def transactions(self, d: int) -> DayRows:
        t, day = self.w.transactions, self.w.dates[d]
        rows = t.rows_of(d)
        cols = {
            "transaction_id": idents(TXN_PREFIX, np.arange(rows.start, rows.stop) + 1),
            "customer_id": self.customer_ids[t.customer[rows]].tolist(),
            "product_id": self.product_ids[t.product[rows]].tolist(),
            "quantity": self.quantities[t.quantity[rows]].tolist(),
            "price": money_column(t.price_cents[rows]).tolist(),
            "total_amount": money_column(t.total_cents[rows]).tolist(),
            "transaction_date": [day] * (rows.stop - rows.start),
            "status": lookup(TRANSACTION_STATUSES, t.status[rows]).tolist(),
        }
        lines = list(map(",".join, zip(*cols.values(), strict=True)))
        return DayRows(lines, lambda i: {k: v[i] for k, v in cols.items()})

    def clickstream(self, d: int) -> DayRows:
        c = self.w.clickstream
        rows = c.rows_of(d)
        sessions, inverse = np.unique(c.session[rows], return_inverse=True)
        session_ids = np.array(idents(SESSION_PREFIX, sessions), dtype=object)[inverse.reshape(-1)]
        customer = c.customer[rows]
        customer_ids = np.where(customer >= 0, self.customer_ids[np.maximum(customer, 0)], None)
        customer_json = np.where(customer >= 0, self.customer_json[np.maximum(customer, 0)], "null").tolist()
        stamps = np.datetime_as_string(c.epoch[rows].astype("datetime64[s]"), unit="s")
        cols = {
            "session_id": session_ids.tolist(),
            "customer_id": customer_ids.tolist(),
            "event_type": lookup(EVENT_TYPES, c.event[rows]).tolist(),
            "page": c.page[rows].tolist(),
            "timestamp": [f"{s}Z" for s in stamps.tolist()],
            "device": lookup(DEVICES, c.device[rows]).tolist(),
        }
        # Clean values are plain ASCII without quotes or backslashes, so a template is
        # byte-identical to json_line (which faulted rows use) and much faster.
        lines = [
            f'{{"session_id": "{s}", "customer_id": {u}, "event_type": "{e}", '
            f'"page": "{p}", "timestamp": "{ts}", "device": "{dv}"}}'
            for s, u, e, p, ts, dv in zip(
                cols["session_id"],
                customer_json,
                *(cols[k] for k in ("event_type", "page", "timestamp", "device")),
                strict=True,
            )
        ]
        return DayRows(lines, lambda i: {k: v[i] for k, v in cols.items()})

    def reviews(self, d: int) -> DayRows:
        r, t, day = self.w.reviews, self.w.transactions, self.w.dates[d]
        rows = r.rows_of(d)
        txn = r.transaction[rows]
        cols = {
            "review_id": idents(REVIEW_PREFIX, np.arange(rows.start, rows.stop) + 1),
            "product_id": self.product_ids[t.product[txn]].tolist(),
            "customer_id": self.customer_ids[t.customer[txn]].tolist(),
            "rating": [str(x) for x in r.rating[rows].tolist()],
            "review_text": r.text[rows],
            "review_date": [day] * (rows.stop - rows.start),
        }
        lines = [",".join(csv_field(v) for v in row) for row in zip(*cols.values(), strict=True)]
        return DayRows(lines, lambda i: {k: v[i] for k, v in cols.items()})

    def products(self, d: int) -> DayRows:
        cat, prices = self.w.catalog, self.w.prices
        idx = prices.updated[d].tolist()
        cents = prices.cents[d, prices.updated[d]].tolist()
        stock = self.w.stock[d].tolist()

        def record(i: int) -> dict[str, Any]:
            p = idx[i]
            return {
                "product_id": self.product_ids[p],
                "name": cat.name[p],
                "category": self.category_names[cat.category[p]],
                "brand": cat.brand[p],
                "price": Num(money(cents[i])),
                "stock": Num(str(stock[i])),
            }

        return DayRows([json_line(record(i)) for i in range(len(idx))], record)


def _day_faults(plan: tuple[np.ndarray, list[Reason]], start: int, stop: int) -> list[tuple[int, Reason]]:
    rows, kinds = plan
    lo, hi = np.searchsorted(rows, [start, stop])
    return [(int(rows[j]) - start, kinds[j]) for j in range(lo, hi)]


def render_day(world: World, renderer: Renderer, dataset: Dataset, d: int) -> tuple[list[str], dict[str, int]]:
    """The final rows of one day's file and the faults they carry, by reason."""
    schema = RAW_SCHEMAS[dataset]
    fmt = "csv" if schema.format == "csv" else ("jsonl" if schema.format == "jsonl" else "json")
    day_rows: DayRows = getattr(renderer, str(dataset))(d)
    if dataset is Dataset.PRODUCTS:
        start, stop = int(renderer.product_day_start[d]), int(renderer.product_day_start[d + 1])
    else:
        part = getattr(world, str(dataset)).rows_of(d)
        start, stop = part.start, part.stop
    faults = _day_faults(world.faults[dataset], start, stop)
    stream = world.fault_streams[dataset]
    extra = dataset in fl.EXTRA_ROW_DATASETS

    def corrupt_line(i: int, reason: Reason) -> str:
        rec = day_rows.record(i)
        if extra:
            rec["product_id"] = idents(PRODUCT_PREFIX, np.array([renderer.next_product]))[0]
            renderer.next_product += 1
        return render_line(fmt, fl.corrupt(dataset, reason, rec, stream))

    lines = fl.place(day_rows.lines, faults, corrupt_line, extra, stream)
    counts: dict[str, int] = {}
    for _, reason in faults:
        counts[str(reason)] = counts.get(str(reason), 0) + 1
    return lines, counts


def generate(
    out_dir: Path | str,
    *,
    days: int = 30,
    start: str = "2025-01-01",
    transactions: int = 100_000,
    products: int = 500,
    clickstream: int = 50_000,
    reviews: int = 2_000,
    customers: int | None = None,
    seed: int = 42,
    bad_rate: float = 0.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Generate ``days`` days of the four raw sources under ``out_dir``; return the manifest.

    Files: ``<out_dir>/<dataset>/date=YYYY-MM-DD/<file>`` (transactions.csv, products.json,
    clickstream.json, reviews.csv) and ``<out_dir>/manifest.json``. A day with no rows of a
    dataset gets no file for it. Files a previous run left in the same layout are removed
    first, so the directory holds exactly this run. Same arguments, same bytes.
    """
    params = GenerateParams(
        days=days,
        start=start,
        transactions=transactions,
        products=products,
        clickstream=clickstream,
        reviews=reviews,
        customers=customers,
        seed=seed,
        bad_rate=bad_rate,
    )
    say = progress or (lambda _stage, _done, _total: None)
    world = build_world(params, say)
    renderer = Renderer(world)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clear_previous(out, {str(ds): name for ds, name in RAW_FILE_NAMES.items()})

    say(STAGES[5], 5, len(STAGES))
    written: list[tuple[Dataset, str, str, int, dict[str, int]]] = []
    for dataset in DATASETS:
        schema = RAW_SCHEMAS[dataset]
        fmt = "csv" if schema.format == "csv" else ("jsonl" if schema.format == "jsonl" else "json")
        for d, day in enumerate(world.dates):
            lines, fault_counts = render_day(world, renderer, dataset, d)
            if not lines:
                continue
            rel = f"{dataset}/date={day}/{RAW_FILE_NAMES[dataset]}"
            write_atomic(out / rel, assemble(fmt, schema.column_names, lines))
            written.append((dataset, day, rel, len(lines), fault_counts))

    manifest = build_manifest(world, written)
    write_manifest(out, manifest)
    say("done", len(STAGES), len(STAGES))
    return manifest
