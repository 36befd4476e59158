"""Clickstream sessions that walk the conversion funnel.

A session starts with one or more ``page_view`` events (home, a category, a search,
deals), and then drops off or goes on: ``product_view`` (60 % of sessions), ``add_to_cart``
(30 % of those), sometimes an extra item added and removed again (``remove_from_cart``),
``checkout`` (45 % of carts) and ``purchase`` (55 % of checkouts), so roughly 4.5 % of
sessions convert, a realistic e-commerce rate.

Every ``purchase`` event is a real transaction: its page is
``/checkout/complete?order=<transaction_id>``, its session belongs to that transaction's
customer, it happens on the transaction's day, and the product viewed and added to the
cart just before is the product bought. When a day has more converting sessions than
transactions left to tie them to, the surplus sessions end in a second ``checkout``
(a failed payment retried) instead of a purchase. Because there are usually far fewer
sessions than transactions (the seed's scale: 50k events for 100k transactions), only a
fraction of transactions have a session; the manifest reports how many.

The number of events is exact: each day's event budget is filled with whole sessions
and the last few events with single-page (bounce) sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ecomlake.generate.calendar import SECONDS_PER_DAY, session_starts
from ecomlake.generate.config import PRODUCT_PREFIX, TXN_PREFIX, ident
from ecomlake.generate.customers import DEVICE_SHARE, Customers
from ecomlake.generate.products import CATEGORIES, Catalog
from ecomlake.generate.transactions import Transactions
from ecomlake.schemas import EVENT_TYPES

PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, REMOVE_FROM_CART, CHECKOUT, PURCHASE = range(len(EVENT_TYPES))
assert EVENT_TYPES[PURCHASE] == "purchase"

# Funnel: probability of reaching each stage given the previous one.
P_PRODUCT_VIEW: Final = 0.60
P_ADD_TO_CART: Final = 0.30
P_CHECKOUT: Final = 0.45
P_PURCHASE: Final = 0.55
EXTRA_CART_SHARE: Final = 0.2  # carts where a second item is added and removed again
LOGGED_IN_SHARE: Final = 0.5  # of sessions without a purchase; purchases are always logged in
PREFERRED_DEVICE_SHARE: Final = 0.8  # a known customer uses their usual device
PAGE_VIEWS_P: Final = 0.55  # geometric: about 1.8 page views per session
PRODUCT_VIEWS_P: Final = 0.45  # geometric: about 2.2 product views once browsing products
MAX_PAGE_VIEWS: Final = 8
MAX_PRODUCT_VIEWS: Final = 10
SEARCH_TERMS: Final = (
    "headphones", "running+shoes", "coffee", "gift+ideas", "yoga+mat", "sunscreen", "hoodie", "board+game",
    "usb-c+charger", "tent", "novel", "skillet",
)  # fmt: skip


def landing_pages() -> tuple[list[str], np.ndarray]:
    """Pages a session browses before looking at products, with their weights."""
    pages = ["/", "/deals", "/new-arrivals"]
    weights = [0.35, 0.10, 0.05]
    pages += [f"/category/{c.slug}" for c in CATEGORIES]
    weights += [0.30 / len(CATEGORIES)] * len(CATEGORIES)
    pages += [f"/search?q={t}" for t in SEARCH_TERMS]
    weights += [0.20 / len(SEARCH_TERMS)] * len(SEARCH_TERMS)
    w = np.array(weights)
    return pages, w / w.sum()


@dataclass(frozen=True)
class Clickstream:
    """All events, ordered by day, then timestamp (the file order)."""

    session: np.ndarray  # session number (id S<n>)
    customer: np.ndarray  # customer index, -1 for anonymous
    event: np.ndarray  # index into EVENT_TYPES
    page: np.ndarray  # object array of page strings
    epoch: np.ndarray  # event time, seconds since 1970-01-01 UTC
    device: np.ndarray  # index into DEVICES
    day_start: np.ndarray
    sessions: int
    linked_transactions: np.ndarray  # transaction rows tied to a purchase event, by day

    @property
    def count(self) -> int:
        return len(self.event)

    def rows_of(self, day: int) -> slice:
        return slice(int(self.day_start[day]), int(self.day_start[day + 1]))


@dataclass
class _Sessions:
    stage: np.ndarray  # furthest funnel stage 0..4 (page_view .. purchase)
    page_views: np.ndarray
    product_views: np.ndarray
    extra_cart: np.ndarray

    @property
    def events(self) -> np.ndarray:
        reached = self.stage
        return (
            self.page_views
            + self.product_views
            + (reached >= 2) * (1 + 2 * self.extra_cart)
            + (reached >= 3)
            + (reached >= 4)
        )


def _mean_events() -> float:
    p1 = P_PRODUCT_VIEW
    p2 = p1 * P_ADD_TO_CART
    p3 = p2 * P_CHECKOUT
    return 1 / PAGE_VIEWS_P + p1 / PRODUCT_VIEWS_P + p2 * (1 + 2 * EXTRA_CART_SHARE) + p3 + p3 * P_PURCHASE


def _sample_sessions(n: int, rng: np.random.Generator) -> _Sessions:
    u = rng.random((n, 4))
    r1 = u[:, 0] < P_PRODUCT_VIEW
    r2 = r1 & (u[:, 1] < P_ADD_TO_CART)
    r3 = r2 & (u[:, 2] < P_CHECKOUT)
    r4 = r3 & (u[:, 3] < P_PURCHASE)
    stage = r1.astype(np.int64) + r2 + r3 + r4
    page_views = np.minimum(rng.geometric(PAGE_VIEWS_P, n), MAX_PAGE_VIEWS)
    product_views = np.where(r1, np.minimum(rng.geometric(PRODUCT_VIEWS_P, n), MAX_PRODUCT_VIEWS), 0)
    extra = r2 & (rng.random(n) < EXTRA_CART_SHARE)
    return _Sessions(stage, page_views, product_views, extra.astype(np.int64))


def _fill_budget(budget: int, rng: np.random.Generator) -> _Sessions:
    """Whole sessions summing to exactly ``budget`` events (topped up with bounces)."""
    parts: list[_Sessions] = []
    total = 0
    mean = _mean_events()
    while total < budget:
        part = _sample_sessions(int((budget - total) / mean * 1.1) + 8, rng)
        parts.append(part)
        total += int(part.events.sum())
    joined = _Sessions(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Sessions.__dataclass_fields__))
    cum = np.cumsum(joined.events)
    keep = int(np.searchsorted(cum, budget, side="right"))
    bounces = budget - (int(cum[keep - 1]) if keep else 0)
    ones, zeros = np.ones(bounces, np.int64), np.zeros(bounces, np.int64)
    return _Sessions(
        np.concatenate([joined.stage[:keep], zeros]),
        np.concatenate([joined.page_views[:keep], ones]),
        np.concatenate([joined.product_views[:keep], zeros]),
        np.concatenate([joined.extra_cart[:keep], zeros]),
    )


def make_clickstream(
    per_day: np.ndarray,
    day_epochs: np.ndarray,
    transactions: Transactions,
    linkable: np.ndarray,
    customers: Customers,
    catalog: Catalog,
    rng: np.random.Generator,
) -> Clickstream:
    """Events for every day. ``linkable`` marks transactions a purchase may be tied to."""
    landing, landing_w = landing_pages()
    n_products = catalog.count
    # Page table: landing pages, then one page per product, then cart and checkout;
    # order pages are appended per linked transaction.
    product_base = len(landing)
    cart_page = product_base + n_products
    checkout_page = cart_page + 1
    fixed_pages = [
        *landing,
        *(f"/product/{ident(PRODUCT_PREFIX, i)}" for i in range(1, n_products + 1)),
        "/cart",
        "/checkout",
    ]
    order_pages: list[str] = []

    blocks: list[dict[str, np.ndarray]] = []
    next_session = 1
    linked_rows: list[np.ndarray] = []
    for d, budget in enumerate(per_day.tolist()):
        if budget <= 0:
            blocks.append({})
            continue
        s = _fill_budget(int(budget), rng)
        n_s = len(s.stage)

        # Tie converting sessions to this day's transactions; surplus ones fail to pay.
        converting = np.flatnonzero(s.stage == 4)
        rows = transactions.rows_of(d)
        candidates = np.arange(rows.start, rows.stop)[linkable[rows]]
        n_link = min(len(converting), len(candidates))
        txn = rng.choice(candidates, size=n_link, replace=False) if n_link else np.empty(0, np.int64)
        txn = np.sort(txn)
        linked_rows.append(txn)
        linked = np.full(n_s, -1, dtype=np.int64)
        linked[converting[:n_link]] = txn
        failed = np.zeros(n_s, dtype=bool)
        failed[converting[n_link:]] = True

        customer = np.where(rng.random(n_s) < LOGGED_IN_SHARE, customers.sample(d, n_s, rng), -1)
        customer = np.where(linked >= 0, transactions.customer[np.maximum(linked, 0)], customer)
        random_device = rng.choice(len(DEVICE_SHARE), size=n_s, p=DEVICE_SHARE)
        preferred = customers.device[np.maximum(customer, 0)]
        use_preferred = (customer >= 0) & (rng.random(n_s) < PREFERRED_DEVICE_SHARE)
        device = np.where(use_preferred, preferred, random_device)

        n_ev = s.events
        total = int(n_ev.sum())
        sess = np.repeat(np.arange(n_s), n_ev)
        first = np.cumsum(n_ev) - n_ev
        pos = np.arange(total) - first[sess]
        a, b, extra = s.page_views[sess], s.product_views[sess], s.extra_cart[sess]
        t = pos - a - b
        event = np.select(
            [pos < a, pos < a + b, t == 0, (extra == 1) & (t == 1), (extra == 1) & (t == 2), t == 1 + 2 * extra],
            [PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, ADD_TO_CART, REMOVE_FROM_CART, CHECKOUT],
            default=PURCHASE,
        )
        event = np.where((event == PURCHASE) & failed[sess], CHECKOUT, event)

        # Pages: landing pages, products by popularity (the last one viewed before buying
        # is the product bought), the cart, checkout and the order confirmation.
        page = np.full(total, checkout_page, dtype=np.int64)
        is_pv = event == PAGE_VIEW
        page[is_pv] = rng.choice(len(landing), size=int(is_pv.sum()), p=landing_w)
        is_prod = event == PRODUCT_VIEW
        page[is_prod] = product_base + rng.choice(n_products, size=int(is_prod.sum()), p=catalog.popularity)
        last_view = first + s.page_views + s.product_views - 1  # event index, valid when product views > 0
        has_link = np.flatnonzero(linked >= 0)
        page[last_view[has_link]] = product_base + transactions.product[linked[has_link]]
        main_cart = (event == ADD_TO_CART) & (t == 0)
        page[main_cart] = page[last_view[sess[main_cart]]]
        extra_cart = (event == ADD_TO_CART) & (t == 1)
        page[extra_cart] = product_base + rng.choice(n_products, size=int(extra_cart.sum()), p=catalog.popularity)
        page[event == REMOVE_FROM_CART] = cart_page
        purchase = np.flatnonzero(event == PURCHASE)
        order_base = len(fixed_pages) + len(order_pages)
        page[purchase] = order_base + np.arange(len(purchase))
        order_pages.extend(
            f"/checkout/complete?order={ident(TXN_PREFIX, r + 1)}" for r in linked[sess[purchase]].tolist()
        )

        # Times: a few seconds to minutes between events; the whole session inside the day.
        gap = np.clip(rng.lognormal(np.log(25.0), 0.9, total), 2, 900).astype(np.int64)
        gap[first] = 0
        cum = np.cumsum(gap)
        within = cum - cum[first][sess]
        duration = within[first + n_ev - 1]
        start = np.minimum(session_starts(n_s, rng), SECONDS_PER_DAY - 1 - duration)
        epoch = day_epochs[d] + start[sess] + within

        # Session ids follow start time; the file follows event time.
        rank = np.empty(n_s, dtype=np.int64)
        rank[np.argsort(start, kind="stable")] = np.arange(n_s)
        session_no = next_session + rank[sess]
        next_session += n_s
        order = np.lexsort((pos, session_no, epoch))
        blocks.append(
            {
                "session": session_no[order],
                "customer": customer[sess][order],
                "event": event[order],
                "page": page[order],
                "epoch": epoch[order],
                "device": device[sess][order],
            }
        )

    pages = np.array([*fixed_pages, *order_pages], dtype=object)
    sizes = np.array([len(b.get("event", ())) for b in blocks])

    def cat(name: str) -> np.ndarray:
        parts = [b[name] for b in blocks if b]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    return Clickstream(
        session=cat("session"),
        customer=cat("customer"),
        event=cat("event"),
        page=pages[cat("page")] if sizes.sum() else np.empty(0, dtype=object),
        epoch=cat("epoch"),
        device=cat("device"),
        day_start=np.concatenate([[0], np.cumsum(sizes)]),
        sessions=next_session - 1,
        linked_transactions=np.concatenate(linked_rows) if linked_rows else np.empty(0, np.int64),
    )
