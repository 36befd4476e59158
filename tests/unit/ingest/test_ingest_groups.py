"""Files validated together (``validate_objects``, what ``ingest`` does with a tree): every
report is the one the file gets alone, however files are grouped, rejected or flushed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ecomlake.ingest import classifier, validator
from ecomlake.ingest.local import Batch, _jobs
from ecomlake.ingest.validator import validate_object, validate_objects
from ecomlake.storage import LocalStorage
from tests.unit.ingest.ingest_samples import TXN_HEADER, csv_bytes, txn

DAY = "2025-01-01"


def put(lake: Path, key: str, data: bytes) -> str:
    path = lake / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key


def alone(storage: LocalStorage, key: str) -> dict:
    report = validate_object(storage, key, write=False).to_dict()
    return {k: v for k, v in report.items() if k not in ("report_key", "quarantine_key")}


def together(storage: LocalStorage, keys: list[str]) -> list[dict]:
    reports = validate_objects(storage, [(key, None) for key in keys])
    return [{k: v for k, v in r.to_dict().items() if k not in ("report_key", "quarantine_key")} for r in reports]


def test_a_key_repeated_in_another_file_is_no_duplicate(lake: Path) -> None:
    # Duplicates are looked for within a file: T1 in both files is good in both; T2 twice in
    # the second is one duplicate there.
    storage = LocalStorage(lake)
    a = put(lake, f"raw/transactions/date={DAY}/a.csv", csv_bytes(TXN_HEADER, [txn(1), txn(2)]))
    b = put(lake, f"raw/transactions/date={DAY}/b.csv", csv_bytes(TXN_HEADER, [txn(1), txn(2), txn(2)]))
    first, second = together(storage, [a, b])
    assert (first["rows"], first["valid_rows"], first["faults"]) == (2, 2, {})
    assert (second["rows"], second["valid_rows"], second["faults"]) == (3, 2, {"duplicate_key": 1})
    assert [(e["line"], e["value"]) for e in second["examples"]] == [(4, "T2")]


def test_a_file_rejected_after_its_rows_were_classified_leaves_no_trace(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flushing every 3 rows: the broken file's first rows are classified (and their keys kept)
    # before its fault is found, part way through; its neighbours' reports are unchanged.
    monkeypatch.setattr(classifier, "FLUSH_ROWS", 3)
    storage = LocalStorage(lake)
    good = csv_bytes(TXN_HEADER, [txn(1), txn(2), txn(2), txn(3, quantity="0")])
    rows = [txn(i) for i in range(1, 7)]
    broken = (TXN_HEADER + "\n" + "\n".join(rows) + "\n").encode() + b"\xff\xfe bad bytes\n"
    keys = [
        put(lake, f"raw/transactions/date={DAY}/a.csv", good),
        put(lake, f"raw/transactions/date={DAY}/b.csv", broken),
        put(lake, f"raw/transactions/date={DAY}/c.csv", good),
    ]
    reports = together(storage, keys)
    assert [r["status"] for r in reports] == ["accepted", "rejected", "accepted"]
    assert reports[1]["rejection"]["rule"] == "not_utf8"
    assert (reports[1]["rows"], reports[1]["faults"], reports[1]["examples"]) == (0, {}, [])
    assert reports[0]["faults"] == reports[2]["faults"] == {"out_of_range": 1, "duplicate_key": 1}
    assert reports == [alone(storage, key) for key in keys]


def test_groups_of_every_kind_give_each_file_its_own_report(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Random files of three datasets (faults, duplicates, broken framing, bad keys, too large)
    # validated together, in random order and with random flush sizes, against each alone.
    storage = LocalStorage(lake)
    rng = random.Random(7)
    keys = []
    for n in range(24):
        day = f"2025-01-0{1 + n % 3}"
        kind = rng.choice(["transactions", "transactions", "reviews", "products", "bad_key", "too_large", "not_csv"])
        if kind == "transactions" or kind == "too_large" or kind == "not_csv":
            ids = [rng.randint(1, 8) for _ in range(rng.randint(1, 12))]
            rows = [txn(i, quantity=rng.choice(["2", "2", "0", "x"])) for i in ids]
            data = csv_bytes(TXN_HEADER, rows)
            if kind == "too_large":
                data += b"#" * 5000
            if kind == "not_csv":
                data = b'{"transaction_id": "T1"}\n'
            keys.append(put(lake, f"raw/transactions/date={day}/t{n}.csv", data))
        elif kind == "reviews":
            rows = [f"R{rng.randint(1, 4)},P1,C1,{rng.choice(['5', '9'])},ok,{day}" for _ in range(rng.randint(1, 6))]
            header = "review_id,product_id,customer_id,rating,review_text,review_date"
            keys.append(put(lake, f"raw/reviews/date={day}/r{n}.csv", csv_bytes(header, rows)))
        elif kind == "products":
            items = [
                {"product_id": f"P{rng.randint(1, 3)}", "name": "n", "category": "c", "price": rng.choice([1, -1])}
                for _ in range(rng.randint(1, 5))
            ]
            keys.append(
                put(lake, f"raw/products/date={day}/p{n}.jsonl", "".join(json.dumps(i) + "\n" for i in items).encode())
            )
        else:
            keys.append(put(lake, f"raw/transactions/date={day}/nested/x{n}.csv", csv_bytes(TXN_HEADER, [txn(1)])))
    monkeypatch.setenv("ECOMLAKE_MAX_FILE_BYTES", "4000")
    expected = {key: alone(storage, key) for key in keys}
    assert {r["status"] for r in expected.values()} == {"accepted", "rejected"}
    assert any(r["faults"].get("duplicate_key") for r in expected.values())
    for flush in (2, 5, classifier.FLUSH_ROWS):
        monkeypatch.setattr(classifier, "FLUSH_ROWS", flush)
        order = rng.sample(keys, len(keys))
        assert together(storage, order) == [expected[key] for key in order]


def test_jobs_keep_a_dataset_together_up_to_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import ecomlake.ingest.local as local

    monkeypatch.setattr(local, "JOB_BYTES", 100)
    batches = [Batch(ds, DAY, ()) for ds in ["clickstream"] * 3 + ["products"] * 2 + ["transactions"] * 3]
    sizes = [40, 40, 40, 5, 5, 150, 10, 10]
    assert _jobs(batches, sizes, 1) == [[0, 1], [2], [3, 4], [5], [6, 7]]
    # Two workers: at most a quarter of each worker's share (300 bytes / 8 = 37) per job.
    assert _jobs(batches, sizes, 2) == [[0], [1], [2], [3, 4], [5], [6, 7]]


def test_one_file_and_a_group_of_one_are_the_same_path(lake: Path) -> None:
    storage = LocalStorage(lake)
    key = put(lake, f"raw/transactions/date={DAY}/a.csv", csv_bytes(TXN_HEADER, [txn(1), txn(1, quantity="0")]))
    (grouped,) = together(storage, [key])
    assert grouped == alone(storage, key)
    assert grouped["faults"] == {"out_of_range": 1}
    assert validator.validate_objects(storage, []) == []
