"""File validation: whole-file rejections, row-level reports, and what lands in the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ecomlake.contract import validation_report_key
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.ingest import accepted_keys, max_file_bytes, validate_bytes, validate_object
from ecomlake.ingest.report import EXAMPLES_PER_REASON, ValidationReport
from ecomlake.storage import LocalStorage
from tests.unit.ingest.ingest_samples import (
    CLEAN_FILES,
    CLICKS,
    PRODUCTS,
    REVIEW_HEADER,
    REVIEW_ROWS,
    TXN_HEADER,
    TXN_ROWS,
    csv_bytes,
    gz,
    jsonl_bytes,
    products_array,
    products_jsonl,
    transactions_csv,
)

DAY = "2025-01-15"


def check(data: bytes, dataset: str = "transactions", name: str | None = None) -> ValidationReport:
    return validate_bytes(data, dataset, DAY, name or CLEAN_FILES[dataset][0], max_bytes=1 << 20)


@pytest.mark.parametrize("dataset", sorted(CLEAN_FILES))
def test_clean_file_of_each_dataset(dataset: str) -> None:
    name, make = CLEAN_FILES[dataset]
    report = check(make(), dataset, name)
    assert report.status == "accepted", report.rejection
    assert (report.rows, report.valid_rows, report.faults) == (2, 2, {})
    assert report.extra_columns == []
    assert report.key == f"raw/{dataset}/date={DAY}/{name}"


def test_bom_file_is_accepted() -> None:
    report = check(b"\xef\xbb\xbf" + transactions_csv())
    assert report.accepted
    assert report.encoding == "utf-8-bom"
    assert report.columns[0] == "transaction_id"
    assert report.valid_rows == 2


def test_crlf_file_is_accepted() -> None:
    report = check(transactions_csv(newline="\r\n"))
    assert report.accepted
    assert report.line_endings == "crlf"
    assert report.valid_rows == 2


def test_quoted_comma_and_newline_in_a_field() -> None:
    data = csv_bytes(REVIEW_HEADER, ['R1,P1,C1,4,"Good, but\nthe cord is short",2025-01-15', *REVIEW_ROWS[1:]])
    report = check(data, "reviews")
    assert report.accepted
    assert (report.rows, report.valid_rows) == (2, 2)


def test_extra_column_is_drift_not_a_fault() -> None:
    rows = [f"{row},web" for row in TXN_ROWS]
    report = check(csv_bytes(TXN_HEADER + ",channel", rows))
    assert report.accepted
    assert report.extra_columns == ["channel"]
    assert report.valid_rows == 2
    assert report.has_drift


def test_missing_optional_column_is_drift() -> None:
    header = "review_id,product_id,customer_id,rating,review_date"
    report = check(csv_bytes(header, ["R1,P1,C1,5,2025-01-15"]), "reviews")
    assert report.accepted
    assert report.missing_optional_columns == ["review_text"]


def test_missing_required_column_rejects_the_file_naming_it() -> None:
    header = TXN_HEADER.replace(",price", "")
    rows = [",".join(p for i, p in enumerate(r.split(",")) if i != 4) for r in TXN_ROWS]
    report = check(csv_bytes(header, rows))
    assert report.rejected
    assert report.rejection is not None
    assert (report.rejection.rule, report.rejection.line, report.rejection.column) == ("missing_columns", 1, "price")
    assert "price" in report.rejection.detail


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "empty_file"),
        (b"\n\n", "empty_file"),
        ((TXN_HEADER + "\n").encode(), "header_only"),
        ((TXN_HEADER + "\r\n\r\n").encode(), "header_only"),
    ],
)
def test_empty_and_header_only_csv(data: bytes, rule: str) -> None:
    report = check(data)
    assert report.rejected
    assert report.rejection is not None
    assert report.rejection.rule == rule


def test_zero_byte_json_is_empty() -> None:
    report = check(b"", "products", "products.json")
    assert report.rejection is not None
    assert report.rejection.rule == "empty_file"


def test_empty_json_array_has_no_records() -> None:
    report = check(b"[ ]", "products")
    assert report.rejection is not None
    assert report.rejection.rule == "no_valid_records"


def test_one_malformed_json_line_among_good_ones() -> None:
    lines = jsonl_bytes(CLICKS).decode().splitlines()
    data = "\n".join([lines[0], '{"session_id": "S2", "event_type": ', lines[1]]) + "\n"
    report = check(data.encode(), "clickstream")
    assert report.accepted
    assert (report.rows, report.valid_rows, report.faults) == (3, 2, {"malformed_record": 1})
    assert report.examples[0].line == 2
    assert report.examples[0].reason == "malformed_record"


def test_every_json_line_broken_is_no_valid_records() -> None:
    report = check(b'{"a": \n{"b"\n', "clickstream")
    assert report.rejection is not None
    assert (report.rejection.rule, report.rejection.line) == ("no_valid_records", 1)


def test_csv_content_in_a_json_dataset_is_wrong_format() -> None:
    report = check(transactions_csv(), "clickstream", "clickstream.json")
    assert report.rejection is not None
    assert report.rejection.rule == "wrong_format"


def test_json_required_column_absent_from_every_record() -> None:
    records = [{k: v for k, v in r.items() if k != "device"} for r in CLICKS]
    report = check(jsonl_bytes(records), "clickstream")
    assert report.rejection is not None
    assert (report.rejection.rule, report.rejection.column) == ("missing_columns", "device")


def test_json_required_column_absent_from_one_record_is_a_row_fault() -> None:
    records = [CLICKS[0], {k: v for k, v in CLICKS[1].items() if k != "device"}]
    report = check(jsonl_bytes(records), "clickstream")
    assert report.accepted
    assert report.faults == {"missing_required": 1}


def test_gzip_csv_is_accepted() -> None:
    report = check(gz(transactions_csv()), name="transactions.csv.gz")
    assert report.accepted
    assert report.compression == "gzip"
    assert report.valid_rows == 2


@pytest.mark.parametrize(("make", "fmt"), [(products_array, "json_array"), (products_jsonl, "json_lines")])
def test_products_as_array_and_as_json_lines(make, fmt: str) -> None:
    report = check(make(), "products")
    assert report.accepted
    assert report.format == fmt
    assert report.columns == list(PRODUCTS[0])
    assert report.valid_rows == 2


def test_clickstream_as_json_array_is_refused() -> None:
    report = check(json.dumps(CLICKS).encode(), "clickstream")
    assert report.rejection is not None
    assert report.rejection.rule == "wrong_format"


def test_wrong_file_name_ending() -> None:
    report = check(transactions_csv(), name="transactions.txt")
    assert report.rejection is not None
    assert report.rejection.rule == "wrong_format"


def test_row_faults_are_counted_with_examples_and_never_reject() -> None:
    bad = [r.replace(",2,", ",x,") for r in TXN_ROWS[:1]] * 7  # 7 bad_number rows, same id
    report = check(csv_bytes(TXN_HEADER, [*bad, TXN_ROWS[1], TXN_ROWS[1]]))
    assert report.accepted
    assert report.faults == {"bad_number": 7, "duplicate_key": 1}
    assert report.rows == 9
    assert report.valid_rows == 1
    numbers = [e for e in report.examples if e.reason == "bad_number"]
    assert len(numbers) == EXAMPLES_PER_REASON
    assert (numbers[0].line, numbers[0].column, numbers[0].value) == (2, "quantity", "x")
    assert report.examples[-1].line == 10


def test_all_rows_bad_is_still_accepted() -> None:
    report = check(
        csv_bytes(TXN_HEADER, [r.replace("completed", "lost").replace("returned", "lost") for r in TXN_ROWS])
    )
    assert report.accepted
    assert report.valid_rows == 0
    assert report.faults == {"unknown_enum": 2}


def test_report_is_deterministic() -> None:
    assert check(transactions_csv()).to_json() == check(transactions_csv()).to_json()


def test_report_round_trips_through_json() -> None:
    report = check(csv_bytes(TXN_HEADER, [TXN_ROWS[0].replace("completed", "lost")]))
    again = ValidationReport.from_dict(json.loads(report.to_json()))
    assert again == report
    assert again.examples[0].value == "lost"
    rejected = check(b"")
    assert ValidationReport.from_dict(json.loads(rejected.to_json())).rejection == rejected.rejection


def test_max_file_bytes_from_the_environment() -> None:
    assert max_file_bytes({}) == 512 * 1024 * 1024
    assert max_file_bytes({"ECOMLAKE_MAX_FILE_BYTES": "1000"}) == 1000
    with pytest.raises(InvalidArgumentError):
        max_file_bytes({"ECOMLAKE_MAX_FILE_BYTES": "lots"})


# --------------------------------------------------------------------------- against the lake

NOW = datetime(2025, 1, 15, 6, 0, tzinfo=UTC)


def land(lake: Path, key: str, data: bytes) -> LocalStorage:
    storage = LocalStorage(lake)
    storage.write_bytes(key, data)
    return storage


def test_validate_object_writes_report_and_leaves_raw_alone(lake: Path) -> None:
    key = f"raw/transactions/date={DAY}/transactions.csv"
    storage = land(lake, key, transactions_csv())
    report = validate_object(storage, key)
    assert report.accepted
    stored = json.loads(storage.read_bytes(validation_report_key("transactions", DAY, "transactions.csv")))
    assert stored["status"] == "accepted"
    assert stored["valid_rows"] == 2
    assert storage.read_bytes(key) == transactions_csv()
    assert storage.list("quarantine/") == []


def test_rejected_object_is_copied_to_quarantine_with_reason(lake: Path) -> None:
    key = f"raw/reviews/date={DAY}/reviews.csv"
    data = b"review_id,rating\nR1,5\n"
    storage = land(lake, key, data)
    report = validate_object(storage, key, now=NOW)
    quarantined = f"quarantine/reviews/date={DAY}/reviews.csv"
    assert report.quarantine_key == quarantined
    assert storage.read_bytes(quarantined) == data
    assert storage.read_bytes(key) == data  # raw untouched
    reason = json.loads(storage.read_bytes(quarantined + ".reason.json"))
    assert reason["rule"] == "missing_columns"
    assert reason["line"] == 1
    assert reason["column"] == "product_id"
    assert reason["source_key"] == key
    assert reason["size"] == len(data)
    assert reason["checked_at"] == "2025-01-15T06:00:00Z"
    assert "product_id, customer_id, review_date" in reason["detail"]


def test_oversized_object_is_refused_before_reading(lake: Path) -> None:
    key = f"raw/clickstream/date={DAY}/clickstream.json"
    storage = land(lake, key, b"x" * 100)
    report = validate_object(storage, key, max_bytes=99)
    assert report.rejection is not None
    assert report.rejection.rule == "too_large"
    assert storage.exists(f"quarantine/clickstream/date={DAY}/clickstream.json.reason.json")


def test_key_outside_the_layout_is_quarantined_unrouted(lake: Path) -> None:
    key = "raw/transactions/transactions.csv"
    storage = land(lake, key, transactions_csv())
    report = validate_object(storage, key)
    assert report.rejection is not None
    assert report.rejection.rule == "bad_key"
    assert "date= partition" in report.rejection.detail
    assert storage.read_bytes("quarantine/_unrouted/raw/transactions/transactions.csv") == transactions_csv()
    assert storage.exists("quarantine/_unrouted/raw/transactions/transactions.csv.reason.json")


def test_accepting_a_fixed_file_clears_its_old_quarantine_copy(lake: Path) -> None:
    key = f"raw/transactions/date={DAY}/transactions.csv"
    storage = land(lake, key, b"oops\n1\n")
    assert validate_object(storage, key).rejected
    storage.write_bytes(key, transactions_csv())
    assert validate_object(storage, key).accepted
    assert storage.list("quarantine/") == []


def test_accepted_keys_skip_rejected_files_and_validate_unchecked_ones(lake: Path) -> None:
    prefix = f"raw/transactions/date={DAY}/"
    storage = land(lake, prefix + "a.csv", transactions_csv())
    storage.write_bytes(prefix + "b.csv", b"not,the,header\n1,2,3\n")
    storage.write_bytes(prefix + "nested/c.csv", transactions_csv())
    validate_object(storage, prefix + "a.csv")
    assert accepted_keys(storage, "transactions", DAY) == [prefix + "a.csv"]
    # b.csv had no report: it was validated on the way, and its rejection recorded.
    assert storage.exists(f"quarantine/transactions/date={DAY}/b.csv.reason.json")
