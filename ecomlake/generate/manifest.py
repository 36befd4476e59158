"""The manifest: what was generated, and exactly which faults are in which file.

It is the oracle the ingestion and ETL tests compare their quarantine counts with, so
it is built from the same plan the files were rendered from, per file. Its layout::

    {
      "generator": "ecomlake.generate", "format_version": 1,
      "seed": 42, "start": "2025-01-01", "end": "2025-01-30", "days": 30, "bad_rate": 0.01,
      "params": {...the generate() arguments, customers resolved...},
      "counts": {dataset: rows written, faulted rows and duplicates included},
      "valid_counts": {dataset: counts - injected faults (rows a correct ETL keeps)},
      "faults": {dataset: {reason: n}},             # non-zero reasons only
      "counts_by_date": {dataset: {date: rows}},     # dates that have a file
      "faults_by_date": {dataset: {date: {reason: n}}},  # dates with faults only
      "fault_kinds": {dataset: [reasons this dataset can carry]},
      "stats": {...sessions, purchase events, share of transactions with a session, ...},
      "files": ["transactions/date=2025-01-01/transactions.csv", ...]   # relative, sorted
    }

No wall-clock value is written: the same arguments give a byte-identical manifest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ecomlake.contract import DATASETS, Dataset
from ecomlake.generate.clickstream import PURCHASE
from ecomlake.generate.faults import FAULT_KINDS
from ecomlake.generate.products import PRICE_CHANGE_SHARE, UPDATE_SHARE
from ecomlake.generate.transactions import COMPLETED
from ecomlake.generate.writers import write_atomic
from ecomlake.schemas import REASON_ORDER

if TYPE_CHECKING:
    from ecomlake.generate.core import World

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Reasons in precedence order, zeros dropped."""
    return {str(r): counts[str(r)] for r in REASON_ORDER if counts.get(str(r))}


def build_manifest(world: World, written: list[tuple[Dataset, str, str, int, dict[str, int]]]) -> dict[str, Any]:
    p = world.params
    counts = {str(ds): 0 for ds in DATASETS}
    totals: dict[str, dict[str, int]] = {str(ds): {} for ds in DATASETS}
    by_date: dict[str, dict[str, int]] = {str(ds): {} for ds in DATASETS}
    faults_by_date: dict[str, dict[str, dict[str, int]]] = {str(ds): {} for ds in DATASETS}
    for dataset, day, _rel, rows, fault_counts in written:
        ds = str(dataset)
        counts[ds] += rows
        by_date[ds][day] = rows
        if fault_counts:
            faults_by_date[ds][day] = _ordered(fault_counts)
        for reason, n in fault_counts.items():
            totals[ds][reason] = totals[ds].get(reason, 0) + n
    faults = {ds: _ordered(t) for ds, t in totals.items()}

    txns, clicks = world.transactions, world.clickstream
    purchases = int(np.count_nonzero(clicks.event == PURCHASE))
    stats = {
        "customers": world.customers.count,
        "customers_with_transactions": len(np.unique(txns.customer)),
        "products": world.catalog.count,
        "product_update_share_per_day": UPDATE_SHARE,
        "product_price_change_share_of_updates": PRICE_CHANGE_SHARE,
        "return_share": round(float(np.mean(txns.status != COMPLETED)), 4) if txns.count else 0.0,
        "sessions": clicks.sessions,
        "purchase_events": purchases,
        "transactions_with_session": len(clicks.linked_transactions),
        "transactions_with_session_share": round(len(clicks.linked_transactions) / txns.count, 4),
        "reviews_requested": p.reviews,
        "reviews_generated": world.reviews.count,
    }
    return {
        "generator": "ecomlake.generate",
        "format_version": FORMAT_VERSION,
        "seed": p.seed,
        "start": world.dates[0],
        "end": world.dates[-1],
        "days": p.days,
        "bad_rate": p.bad_rate,
        "params": p.to_dict(),
        "counts": counts,
        "valid_counts": {ds: counts[ds] - sum(faults[ds].values()) for ds in counts},
        "faults": faults,
        "counts_by_date": by_date,
        "faults_by_date": faults_by_date,
        "fault_kinds": {str(ds): [str(r) for r in FAULT_KINDS[ds]] for ds in DATASETS},
        "stats": stats,
        "files": sorted(rel for _, _, rel, _, _ in written),
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    path = Path(out_dir) / MANIFEST_NAME
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return path


def read_manifest(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
