"""The fault manifest is exact: an independent reader finds the same faults in the files."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from foundation_rawcheck import check_file, classify, partition_files
from foundation_trees import FAULTY_RATE, SMALL

from ecomlake.contract import Dataset
from ecomlake.generate import FAULT_KINDS, generate, read_manifest
from ecomlake.generate.faults import corrupt, place, plan_faults
from ecomlake.generate.writers import Malformed, Num, csv_line, json_line
from ecomlake.schemas import REASON_ORDER, Reason


def found_faults(root, dataset):
    """date -> Counter(reason) as read back from the files."""
    return {day: check_file(path, dataset)[1] for day, path in partition_files(root, dataset).items()}


@pytest.mark.parametrize("dataset", list(Dataset))
def test_manifest_matches_the_files_per_date(faulty_tree, dataset):
    root, manifest = faulty_tree
    found = found_faults(root, dataset)
    expected = manifest["faults_by_date"][str(dataset)]
    assert {day: dict(c) for day, c in found.items() if c} == expected
    total: Counter[str] = Counter()
    for c in found.values():
        total.update(c)
    assert dict(total) == manifest["faults"][str(dataset)]
    assert manifest["valid_counts"][str(dataset)] == manifest["counts"][str(dataset)] - total.total()


def test_every_kind_is_injected_and_only_the_kinds_that_fit(faulty_tree):
    _, manifest = faulty_tree
    for dataset in Dataset:
        kinds = manifest["faults"][str(dataset)]
        assert list(kinds) == [str(r) for r in REASON_ORDER if str(r) in kinds]  # precedence order
        if str(dataset) != "reviews":  # 300 reviews * 8 % = 24 faults over 6 kinds
            assert set(kinds) == {str(r) for r in FAULT_KINDS[dataset]}
        assert set(kinds) <= {str(r) for r in FAULT_KINDS[dataset]}
    assert Reason.MALFORMED_RECORD not in FAULT_KINDS[Dataset.PRODUCTS]  # one bad element breaks a JSON array
    assert Reason.AMOUNT_MISMATCH in FAULT_KINDS[Dataset.TRANSACTIONS]


def test_fault_rate_and_balance(faulty_tree):
    _, manifest = faulty_tree
    tx = manifest["faults"]["transactions"]
    assert sum(tx.values()) == round(FAULTY_RATE * SMALL["transactions"])
    assert max(tx.values()) - min(tx.values()) <= 1  # kinds dealt out evenly
    clicks = manifest["faults"]["clickstream"]
    assert sum(clicks.values()) == round(FAULTY_RATE * SMALL["clickstream"])
    # duplicates add rows; every other fault replaces one
    assert manifest["counts"]["transactions"] == SMALL["transactions"] + tx["duplicate_key"]


def test_manifest_on_disk_is_the_returned_one(faulty_tree):
    root, manifest = faulty_tree
    assert read_manifest(root) == manifest
    assert {"seed", "start", "days", "counts", "faults", "files"} <= set(manifest)
    assert manifest["seed"] == SMALL["seed"]
    assert manifest["days"] == SMALL["days"]


def test_duplicates_are_exact_resends_later_in_the_same_file(faulty_tree):
    root, _ = faulty_tree
    for dataset in Dataset:
        for path in partition_files(root, dataset).values():
            rows, counts = check_file(path, dataset)
            # physical lines are records in these two; reviews have multi-line texts, products a "["
            lines = path.read_text().splitlines() if dataset in (Dataset.TRANSACTIONS, Dataset.CLICKSTREAM) else None
            dups = [r for r in rows if r.reason is Reason.DUPLICATE_KEY]
            assert len(dups) == counts.get("duplicate_key", 0)
            for dup in dups:
                earlier = [r for r in rows if r.line < dup.line and r.values == dup.values]
                assert earlier, (path, dup.line)
                if lines is not None:
                    assert lines[dup.line - 1] == lines[earlier[0].line - 1]


def test_clean_run_has_no_faults(clean_tree):
    root, manifest = clean_tree
    assert all(f == {} for f in manifest["faults"].values())
    assert manifest["valid_counts"] == manifest["counts"]
    for dataset in Dataset:
        assert all(not c for c in found_faults(root, dataset).values())


def test_every_row_bad_at_rate_one(tmp_path):
    small = {**SMALL, "transactions": 300, "clickstream": 300, "reviews": 30, "products": 40}
    manifest = generate(tmp_path, **small, bad_rate=1.0)
    for dataset in (Dataset.TRANSACTIONS, Dataset.CLICKSTREAM):
        found = Counter()
        for c in found_faults(tmp_path, dataset).values():
            found.update(c)
        assert dict(found) == manifest["faults"][str(dataset)]
        assert found.total() - found["duplicate_key"] + 2 * found["duplicate_key"] == manifest["counts"][str(dataset)]
    # only the clean originals of duplicated transactions are left to review or to tie a purchase to
    clean_transactions = manifest["faults"]["transactions"]["duplicate_key"]
    assert 0 < manifest["stats"]["reviews_generated"] <= clean_transactions
    assert manifest["stats"]["transactions_with_session"] <= clean_transactions


# --------------------------------------------------------------------------- each fault, many times

SAMPLES = {
    Dataset.TRANSACTIONS: {
        "transaction_id": "T000000042",
        "customer_id": "C000000007",
        "product_id": "P000000003",
        "quantity": "3",
        "price": "19.99",
        "total_amount": "59.97",
        "transaction_date": "2025-01-31",
        "status": "completed",
    },
    Dataset.CLICKSTREAM: {
        "session_id": "S000000001",
        "customer_id": None,
        "event_type": "product_view",
        "page": "/product/P000000003",
        "timestamp": "2025-01-31T23:59:58Z",
        "device": "tablet",
    },
    Dataset.REVIEWS: {
        "review_id": "R000000001",
        "product_id": "P000000003",
        "customer_id": "C000000007",
        "rating": "4",
        "review_text": 'Nice, "really" nice',
        "review_date": "2025-01-31",
    },
    Dataset.PRODUCTS: {
        "product_id": "P000000003",
        "name": 'Acme 27" Monitor',
        "category": "Electronics",
        "brand": "Acme Tech",
        "price": Num("199.00"),
        "stock": Num("0"),
    },
}


def reparse(dataset, record):
    """Render a (possibly corrupted) record as the file would hold it, then read it back."""
    import csv
    import io
    import json
    from decimal import Decimal

    if dataset in (Dataset.TRANSACTIONS, Dataset.REVIEWS):
        line = str(record) if isinstance(record, Malformed) else csv_line(record)
        fields = next(csv.reader(io.StringIO(line, newline="")))
        return dict(zip(SAMPLES[dataset], fields, strict=True)) if len(fields) == len(SAMPLES[dataset]) else None
    line = str(record) if isinstance(record, Malformed) else json_line(record)
    try:
        obj = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


@pytest.mark.parametrize(
    ("dataset", "reason"),
    [(ds, r) for ds in Dataset for r in FAULT_KINDS[ds] if r is not Reason.DUPLICATE_KEY],
)
def test_each_fault_breaks_exactly_its_rule(dataset, reason):
    assert classify(dataset, reparse(dataset, SAMPLES[dataset])) is None  # the sample itself is clean
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        bad = corrupt(dataset, reason, dict(SAMPLES[dataset]), rng)
        assert classify(dataset, reparse(dataset, bad)) is reason, bad
        seen.add(str(bad))
    assert len(seen) >= 2  # realistic variants, not one canned row


def test_corrupt_refuses_a_kind_the_dataset_cannot_carry():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="cannot inject"):
        corrupt(Dataset.PRODUCTS, Reason.MALFORMED_RECORD, dict(SAMPLES[Dataset.PRODUCTS]), rng)
    with pytest.raises(ValueError, match="cannot inject"):
        corrupt(Dataset.TRANSACTIONS, Reason.DUPLICATE_KEY, dict(SAMPLES[Dataset.TRANSACTIONS]), rng)


def test_plan_is_exact_and_place_puts_duplicates_after_their_original():
    rng = np.random.default_rng(1)
    rows, kinds = plan_faults(1000, 0.05, FAULT_KINDS[Dataset.TRANSACTIONS], rng)
    assert len(rows) == 50 == len(set(rows.tolist()))
    assert list(rows) == sorted(rows)
    assert set(Counter(kinds).values()) <= {6, 7}
    assert plan_faults(10, 0.0, FAULT_KINDS[Dataset.TRANSACTIONS], rng)[0].size == 0

    lines = [f"row{i}" for i in range(10)]
    faults = [(0, Reason.DUPLICATE_KEY), (3, Reason.BAD_DATE), (9, Reason.DUPLICATE_KEY)]
    out = place(lines, faults, lambda i, r: f"bad{i}", extra_rows=False, rng=rng)
    assert len(out) == 12
    assert out.count("row0") == 2
    assert out.count("row9") == 2
    assert "bad3" in out
    assert out.index("row0") == 0
    assert out[-1] == "row9"
    extra = place(lines, [(3, Reason.BAD_DATE)], lambda i, r: f"bad{i}", extra_rows=True, rng=rng)
    assert len(extra) == 11
    assert "row3" in extra
    assert "bad3" in extra
