"""The product catalog, its daily price changes and the stock levels reported with them.

Day one lands the full catalog; every later day lands a partial update: a few percent
of the products with their new price and/or stock (see ``UPDATE_SHARE``). A transaction
on a day is priced at the product's price as of that day's update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from faker import Faker


@dataclass(frozen=True)
class Category:
    name: str
    slug: str
    share: float  # of the catalog
    median_price: float  # currency units
    price_sigma: float  # lognormal spread of prices within the category
    return_rate: float  # base probability a purchase is returned or refunded
    quantity_p: float  # geometric parameter for units per order (lower = bigger baskets)
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    brand_suffixes: tuple[str, ...]


CATEGORIES: Final = (
    Category(
        "Electronics",
        slug="electronics",
        share=0.16,
        median_price=89.0,
        price_sigma=0.95,
        return_rate=0.06,
        quantity_p=0.85,
        nouns=(
            "Wireless Headphones",
            "Bluetooth Speaker",
            "Smartwatch",
            '27" Monitor',
            "Mechanical Keyboard",
            "Webcam",
            "USB-C Charger",
            "Tablet",
            "Power Bank",
            "Wireless Mouse",
            "Soundbar",
            "Action Camera",
        ),
        adjectives=("Pro", "Ultra", "Compact", "Smart", "Noise-Cancelling", "Portable", "HD", "Fast"),
        brand_suffixes=("Audio", "Tech", "Electronics", "Labs", "Digital"),
    ),
    Category(
        "Clothing",
        slug="clothing",
        share=0.17,
        median_price=32.0,
        price_sigma=0.55,
        return_rate=0.12,
        quantity_p=0.7,
        nouns=(
            "T-Shirt",
            "Hoodie",
            "Denim Jacket",
            "Chinos",
            "Rain Coat",
            "Sweater",
            "Polo Shirt",
            "Leggings",
            "Dress",
            "Fleece Vest",
        ),
        adjectives=("Classic", "Slim Fit", "Organic Cotton", "Relaxed", "Vintage", "Lightweight", "Merino", "Everyday"),
        brand_suffixes=("Apparel", "Wear", "& Co", "Outfitters", "Clothing"),
    ),
    Category(
        "Shoes",
        slug="shoes",
        share=0.07,
        median_price=69.0,
        price_sigma=0.5,
        return_rate=0.14,
        quantity_p=0.92,
        nouns=("Running Shoes", "Sneakers", "Hiking Boots", "Sandals", "Loafers", "Trail Runners", "Slippers"),
        adjectives=("Cushioned", "Waterproof", "Lightweight", "Classic", "All-Terrain", "Leather"),
        brand_suffixes=("Footwear", "Shoes", "Athletics"),
    ),
    Category(
        "Home & Kitchen",
        slug="home-kitchen",
        share=0.15,
        median_price=39.0,
        price_sigma=0.8,
        return_rate=0.05,
        quantity_p=0.75,
        nouns=(
            "Chef's Knife",
            "Cast Iron Skillet",
            "Coffee Grinder",
            "Blender",
            "Bath Towel Set",
            "Table Lamp",
            "Storage Baskets",
            "Espresso Cups",
            "Cutting Board",
            "Air Fryer",
            "Bed Sheets",
        ),
        adjectives=("Stainless", "Non-Stick", "Bamboo", "Ceramic", "Premium", "Nordic", "Stackable", "Electric"),
        brand_suffixes=("Home", "Kitchen", "Living", "Housewares"),
    ),
    Category(
        "Books",
        slug="books",
        share=0.12,
        median_price=14.0,
        price_sigma=0.4,
        return_rate=0.02,
        quantity_p=0.8,
        nouns=(
            "Cookbook",
            "Mystery Novel",
            "Science Fiction Novel",
            "Biography",
            "Travel Guide",
            "Poetry Collection",
            "Children's Picture Book",
            "History of Rome",
            "Field Guide to Birds",
        ),
        adjectives=("Illustrated", "Paperback", "Hardcover", "Annotated", "Collector's", "Pocket"),
        brand_suffixes=("Press", "Books", "Publishing", "House"),
    ),
    Category(
        "Sports & Outdoors",
        slug="sports-outdoors",
        share=0.1,
        median_price=45.0,
        price_sigma=0.85,
        return_rate=0.05,
        quantity_p=0.8,
        nouns=(
            "Yoga Mat",
            "Camping Tent",
            "Water Bottle",
            "Dumbbell Set",
            "Bike Helmet",
            "Hiking Backpack",
            "Tennis Racket",
            "Sleeping Bag",
            "Jump Rope",
        ),
        adjectives=("Ultralight", "Insulated", "Adjustable", "Pro", "Trail", "Folding"),
        brand_suffixes=("Outdoors", "Sports", "Gear", "Athletic"),
    ),
    Category(
        "Beauty",
        slug="beauty",
        share=0.09,
        median_price=18.0,
        price_sigma=0.6,
        return_rate=0.04,
        quantity_p=0.6,
        nouns=(
            "Face Serum",
            "Moisturizer",
            "Shampoo",
            "Lip Balm",
            "Sunscreen SPF 50",
            "Hair Dryer",
            "Body Lotion",
            "Perfume",
        ),
        adjectives=("Hydrating", "Organic", "Fragrance-Free", "Vitamin C", "Gentle", "Travel-Size"),
        brand_suffixes=("Beauty", "Cosmetics", "Skincare", "Naturals"),
    ),
    Category(
        "Toys & Games",
        slug="toys-games",
        share=0.08,
        median_price=24.0,
        price_sigma=0.7,
        return_rate=0.04,
        quantity_p=0.8,
        nouns=(
            "Building Blocks",
            "Board Game",
            "Jigsaw Puzzle",
            "Plush Bear",
            "Remote Control Car",
            "Card Game",
            "Science Kit",
        ),
        adjectives=("Deluxe", "Family", "1000-Piece", "Junior", "Classic", "Glow-in-the-Dark"),
        brand_suffixes=("Toys", "Games", "Playthings", "Kids"),
    ),
    Category(
        "Grocery",
        slug="grocery",
        share=0.06,
        median_price=7.5,
        price_sigma=0.5,
        return_rate=0.01,
        quantity_p=0.5,
        nouns=("Ground Coffee", "Green Tea", "Dark Chocolate", "Olive Oil", "Pasta", "Granola", "Honey", "Hot Sauce"),
        adjectives=("Organic", "Fair Trade", "Extra Virgin", "Single-Origin", "Spicy", "Whole Grain"),
        brand_suffixes=("Foods", "Pantry", "Farms", "Provisions"),
    ),
)

PRICE_ENDINGS: Final = np.array([99, 49, 95, 0])
PRICE_ENDING_SHARE: Final = np.array([0.55, 0.2, 0.15, 0.1])
MIN_PRICE_CENTS: Final = 99
MAX_PRICE_CENTS: Final = 999_999  # 9,999.99: far inside decimal(10,2)
# Share of the catalog with a price and/or stock change on each day after the first.
UPDATE_SHARE: Final = 0.03
PRICE_CHANGE_SHARE: Final = 0.6  # of updated products; the rest report only a new stock level


@dataclass(frozen=True)
class Catalog:
    """Product i has id P<i+1>. All arrays are indexed by product."""

    name: list[str]
    noun: list[str]  # what the product is, e.g. "Hoodie" (review texts mention it)
    category: np.ndarray  # index into CATEGORIES
    brand: list[str]
    base_price_cents: np.ndarray
    initial_stock: np.ndarray
    popularity: np.ndarray  # sums to 1
    quality: np.ndarray  # latent; drives ratings and returns
    return_rate: np.ndarray

    @property
    def count(self) -> int:
        return len(self.name)

    def category_names(self) -> list[str]:
        return [CATEGORIES[c].name for c in self.category.tolist()]


def snap_price(cents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to shop prices (x.99, x.49, x.95, x.00) inside the allowed range."""
    whole = np.floor(np.asarray(cents, dtype=float) / 100.0).astype(np.int64)
    ending = rng.choice(PRICE_ENDINGS, size=len(whole), p=PRICE_ENDING_SHARE)
    return np.clip(whole * 100 + ending, MIN_PRICE_CENTS, MAX_PRICE_CENTS)


def _brand_pool(fake: Faker, category: Category, count: int) -> list[str]:
    names: dict[str, None] = {}  # insertion-ordered: deterministic, unlike a set
    while len(names) < count:
        suffix = category.brand_suffixes[len(names) % len(category.brand_suffixes)]
        names[f"{fake.last_name()} {suffix}"] = None
    return list(names)


def make_catalog(count: int, rng: np.random.Generator, fake: Faker) -> Catalog:
    shares = np.array([c.share for c in CATEGORIES])
    category = rng.choice(len(CATEGORIES), size=count, p=shares / shares.sum())
    names: list[str] = [""] * count
    nouns: list[str] = [""] * count
    brands: list[str] = [""] * count
    price = np.zeros(count)
    for ci, cat in enumerate(CATEGORIES):
        members = np.flatnonzero(category == ci)
        if not len(members):
            continue
        pool = _brand_pool(fake, cat, max(2, min(25, len(members) // 6)))
        # A few brands carry most of a category (Zipf), and each has its own price level.
        brand_weight = 1.0 / np.arange(1, len(pool) + 1) ** 1.1
        brand_idx = rng.choice(len(pool), size=len(members), p=brand_weight / brand_weight.sum())
        premium = rng.lognormal(0.0, 0.25, size=len(pool))
        adjective = rng.integers(0, len(cat.adjectives), size=len(members))
        noun = rng.integers(0, len(cat.nouns), size=len(members))
        base = rng.lognormal(np.log(cat.median_price), cat.price_sigma, size=len(members))
        for j, p in enumerate(members.tolist()):
            brands[p] = pool[brand_idx[j]]
            nouns[p] = cat.nouns[noun[j]]
            names[p] = f"{pool[brand_idx[j]].split(' ')[0]} {cat.adjectives[adjective[j]]} {cat.nouns[noun[j]]}"
        price[members] = base * premium[brand_idx] * 100.0
    ranks = rng.permutation(count) + 1
    popularity = 1.0 / ranks**0.9
    quality = rng.normal(0.0, 0.45, size=count)
    base_rate = np.array([c.return_rate for c in CATEGORIES])[category]
    # Poorly made products come back more often; ratings use the same latent quality.
    return_rate = np.clip(base_rate * np.exp(-0.8 * quality), 0.0, 0.5)
    stock = np.where(rng.random(count) < 0.02, 0, np.round(rng.lognormal(np.log(120), 0.8, size=count)))
    return Catalog(
        name=names,
        noun=nouns,
        category=category,
        brand=brands,
        base_price_cents=snap_price(price, rng),
        initial_stock=stock.astype(np.int64),
        popularity=popularity / popularity.sum(),
        quality=quality,
        return_rate=return_rate,
    )


@dataclass(frozen=True)
class PriceSchedule:
    """Price of every product on every day, and which products each day's update names."""

    cents: np.ndarray  # [day, product]
    updated: list[np.ndarray]  # per day: sorted product indices in that day's file (day 0: all)
    price_changed: list[np.ndarray]  # per day: bool per entry of ``updated``


def make_price_schedule(catalog: Catalog, days: int, rng: np.random.Generator) -> PriceSchedule:
    n = catalog.count
    cents = np.empty((days, n), dtype=np.int64)
    cents[0] = catalog.base_price_cents
    updated = [np.arange(n)]
    changed = [np.ones(n, dtype=bool)]
    per_day = max(1, round(UPDATE_SHARE * n))
    for d in range(1, days):
        cents[d] = cents[d - 1]
        idx = np.sort(rng.choice(n, size=min(per_day, n), replace=False))
        change = rng.random(len(idx)) < PRICE_CHANGE_SHARE
        # Mostly small moves either way, sometimes a 15-30 % promotion.
        factor = np.where(
            rng.random(len(idx)) < 0.2, rng.uniform(0.70, 0.85, size=len(idx)), rng.lognormal(0.0, 0.07, len(idx))
        )
        new = snap_price(cents[d - 1, idx] * factor, rng)
        cents[d, idx] = np.where(change, new, cents[d - 1, idx])
        updated.append(idx)
        changed.append(change)
    return PriceSchedule(cents, updated, changed)


def stock_reports(
    catalog: Catalog, schedule: PriceSchedule, units_by_day: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Stock level each day's file reports for the products it names.

    Day one reports the initial stock. A later report is the last reported level minus
    the units sold since, plus a restock when the shelf ran low (or at random).
    """
    days = len(schedule.updated)
    reported = catalog.initial_stock.copy()
    last_day = np.zeros(catalog.count, dtype=np.int64)
    sold_before = np.vstack([np.zeros((1, catalog.count), dtype=np.int64), np.cumsum(units_by_day, axis=0)])
    out = [reported.copy()]
    for d in range(1, days):
        idx = schedule.updated[d]
        sold = sold_before[d, idx] - sold_before[last_day[idx], idx]
        level = np.maximum(reported[idx] - sold, 0)
        restock = (level < 0.2 * np.maximum(catalog.initial_stock[idx], 10)) | (rng.random(len(idx)) < 0.3)
        level = level + np.where(restock, np.round(rng.lognormal(np.log(100), 0.6, len(idx))).astype(np.int64), 0)
        reported[idx] = level
        last_day[idx] = d
        out.append(level)
    return out
