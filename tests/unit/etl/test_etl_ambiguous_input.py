"""Ambiguous input gets one verdict: the validator, the DuckDB ETL and the Spark ETL agree, in every framing.

Each case is a raw file and the verdict worked out by hand from the rules in docs/ingestion.md:
either the file is rejected whole (with its rule), or each record line gets a reason (None for a
good row). The verdict is checked three ways: the validator's report, and the ETL's read and
classification on DuckDB (sqlframe) and on Spark.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ecomlake.etl import io
from ecomlake.etl.cleaning import REASON
from ecomlake.etl.transforms import processed
from ecomlake.ingest import validate_bytes
from tests.unit.ingest.ingest_samples import TXN_HEADER, txn

DAY = "2025-01-01"
HEADER = TXN_HEADER


def product(n: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"product_id": f"P{n}", "name": "Lamp", "category": "Home", "brand": "Lumo"}
    values.update({"price": "12.50", "stock": 3})
    values.update(changes)
    return values


def lines(*records: str, newline: str = "\n") -> bytes:
    return (newline.join(records) + newline).encode()


def as_array(*records: str) -> bytes:
    return ("[\n" + ",\n".join(records) + "\n]\n").encode()


TWICE = '{"product_id": "P2", "name": "Lamp", "category": "Home", "brand": "Lumo", "price": 1, "price": 2, "stock": 1}'
LONE = json.dumps(product(2)).replace('"Lamp"', '"La\\ud800mp"')
RAW_CONTROL = json.dumps(product(2)).replace('"Lamp"', '"La\x01mp"')
ESCAPED_CONTROL = json.dumps(product(2)).replace('"Home"', '"Ho\\u0001me"')
LONG_NAME = json.dumps(product(2, name="n" * 200_000))
P1 = json.dumps(product(1))

# name -> (dataset, file name, bytes, verdict): ("rejected", rule) or {line: reason or None}
CASES: dict[str, tuple[str, str, bytes, Any]] = {
    "csv blank lines before the header": (
        "transactions",
        "t.csv",
        lines("", "  ", HEADER, txn(1), "", txn(2)),
        {4: None, 6: None},
    ),
    "csv bare CR inside a quoted field": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1, customer_id='"C\r1"'), txn(2)),
        {2: None, 3: None},
    ),
    "csv bare CR as a value's last character is trimmed": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1, status="completed\r"), txn(2)),
        {2: None, 3: None},
    ),
    "csv CRLF and a UTF-8 BOM": (
        "transactions",
        "t.csv",
        b"\xef\xbb\xbf" + lines(HEADER, txn(1), txn(1), newline="\r\n"),
        {2: None, 3: "duplicate_key"},
    ),
    "csv field over 131072 characters": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1, transaction_id="T" + "9" * 140_000), txn(2, customer_id='"' + "c" * 140_000 + '"')),
        {2: None, 3: None},
    ),
    "csv control character in a value": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1, status="compl\x01eted"), txn(2)),
        {2: "unknown_enum", 3: None},
    ),
    "csv quotes used wrongly": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1, customer_id='C"1'), txn(2, customer_id='"C2"x'), txn(3)),
        {2: "malformed_record", 3: "malformed_record", 4: None},
    ),
    "csv gzip members concatenated": (
        "transactions",
        "t.csv.gz",
        gzip.compress(lines(HEADER, *(txn(i, customer_id=os.urandom(6).hex()) for i in range(30_000))), mtime=0)
        + gzip.compress(lines(txn(30_000)), mtime=0),
        {**{i + 2: None for i in range(30_000)}, 30_002: None},
    ),
    "csv UTF-16": ("transactions", "t.csv", lines(HEADER, txn(1)).decode().encode("utf-16"), ("rejected", "not_utf8")),
    "csv invalid UTF-8": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1), "T2,caf\xe9").replace(b"\xc3\xa9", b"\xe9"),
        ("rejected", "not_utf8"),
    ),
    "csv bare CR line endings": (
        "transactions",
        "t.csv",
        lines(HEADER, txn(1), newline="\r"),
        ("rejected", "wrong_format"),
    ),
    "jsonl duplicate key": ("products", "p.jsonl", lines(P1, TWICE), {1: None, 2: "malformed_record"}),
    "json array duplicate key": ("products", "p.json", as_array(P1, TWICE), {2: None, 3: "malformed_record"}),
    "jsonl lone surrogate": ("products", "p.jsonl", lines(P1, LONE), {1: None, 2: "malformed_record"}),
    "json array lone surrogate": ("products", "p.json", as_array(P1, LONE), {2: None, 3: "malformed_record"}),
    "jsonl control characters": (
        "products",
        "p.jsonl",
        lines(P1, RAW_CONTROL, ESCAPED_CONTROL.replace("P2", "P3")),
        {1: None, 2: "malformed_record", 3: None},
    ),
    "jsonl very long value, blank lines, CRLF": (
        "products",
        "p.jsonl",
        lines(P1, "", "  ", LONG_NAME, newline="\r\n"),
        {1: None, 4: None},
    ),
    "json array with a BOM, numbers as written": (
        "products",
        "p.json",
        b"\xef\xbb\xbf"
        + as_array(
            P1,
            json.dumps(product(2, price="X")).replace('"X"', "12.505"),
            json.dumps(product(3, price="X")).replace('"X"', "1e3"),
        ),
        {2: None, 3: "bad_number", 4: "bad_number"},
    ),
}


def validator_verdict(dataset: str, name: str, data: bytes) -> Any:
    report = validate_bytes(data, dataset, DAY, name)
    if report.rejected:
        assert report.rejection is not None
        return ("rejected", report.rejection.rule), report
    return report, report


def etl_verdict(session: Any, lake: Path, dataset: str, name: str, data: bytes) -> Any:
    path = lake / "raw" / dataset / f"date={DAY}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    handle = io.LakeIO.local(lake)
    files = io.raw_files(handle, dataset, [DAY])
    if not files:
        reason = json.loads((lake / "quarantine" / dataset / f"date={DAY}" / f"{name}.reason.json").read_text())
        return ("rejected", reason["rule"])
    classified = processed.classify(io.read_raw(session, handle, dataset, files), dataset)
    return {int(r["_line"]): r[REASON] for r in classified.select("_line", REASON).collect()}


def check(session: Any, lake: Path, case: str) -> None:
    dataset, name, data, expected = CASES[case]
    verdict, report = validator_verdict(dataset, name, data)
    if isinstance(expected, tuple):
        assert verdict == expected
    else:
        faults = Counter(reason for reason in expected.values() if reason)
        assert (report.rows, report.valid_rows, Counter(report.faults)) == (
            len(expected),
            len(expected) - sum(faults.values()),
            faults,
        )
        assert {(e.line, e.reason) for e in report.examples} == {(n, r) for n, r in expected.items() if r}
    assert etl_verdict(session, lake, dataset, name, data) == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_verdict_on_duckdb(duck: Any, lake: Path, case: str) -> None:
    check(duck, lake, case)


@pytest.mark.spark
@pytest.mark.parametrize("case", sorted(CASES))
def test_one_verdict_on_spark(spark: Any, lake: Path, case: str) -> None:
    check(spark, lake, case)
