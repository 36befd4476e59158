"""Readers keep every record with its exact line; the writer replaces exactly the dates it writes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from etl_helpers import put_raw as put

from ecomlake.etl import io
from ecomlake.etl.engines import api
from ecomlake.exceptions import InvalidArgumentError

HEADER = "transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date,status\n"
GOOD = "T{n},C1,P1,1,2.50,2.50,2025-01-01,completed\n"


def read(session: Any, lake: Path, dataset: str, files: list[io.RawFile]) -> list[dict[str, Any]]:
    df = io.read_raw(session, io.LakeIO.local(lake), dataset, files)
    return sorted((r.asDict() for r in df.collect()), key=lambda r: (r["_file"], r["_line"]))


CSV_CASES = {
    "plain": HEADER + "".join(GOOD.format(n=i) for i in range(5)),
    "malformed rows": HEADER
    + GOOD.format(n=1)
    + "T2,C1,P1,1,2,50,2.50,2025-01-01,completed\n"  # decimal comma: one field too many
    + GOOD.format(n=3)
    + "T4,C1\n"
    + GOOD.format(n=5),
    "quoted newline and blank line": HEADER
    + GOOD.format(n=1)
    + 'T2,"C1\nC2",P1,1,2.50,2.50,2025-01-01,completed\n'
    + "\n"
    + GOOD.format(n=3),
    "crlf and bom": "\ufeff" + (HEADER + GOOD.format(n=1) + GOOD.format(n=2)).replace("\n", "\r\n"),
    "extra column": HEADER.replace("status\n", "status,note\n") + "T1,C1,P1,1,2.50,2.50,2025-01-01,completed,hi\n",
    "blank lines before the header": "\n  \n" + HEADER + GOOD.format(n=1),
    "bare CR inside a quoted field": HEADER + 'T1,"C\r1",P1,1,2.50,2.50,2025-01-01,completed\n' + GOOD.format(n=2),
    "field over 131072 characters": HEADER + GOOD.format(n=1).replace("C1", "C" + "x" * 140_000),
}
# (line, transaction_id, parses) of every record, worked out by hand from the cases above.
CSV_EXPECTED = {
    "plain": [(i + 2, f"T{i}", True) for i in range(5)],
    "malformed rows": [(2, "T1", True), (3, None, False), (4, "T3", True), (5, None, False), (6, "T5", True)],
    "quoted newline and blank line": [(2, "T1", True), (3, "T2", True), (6, "T3", True)],
    "crlf and bom": [(2, "T1", True), (3, "T2", True)],
    "extra column": [(2, "T1", True)],
    "blank lines before the header": [(4, "T1", True)],
    "bare CR inside a quoted field": [(2, "T1", True), (3, "T2", True)],
    "field over 131072 characters": [(2, "T1", True)],
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_records_and_lines(duck: Any, lake: Path, case: str) -> None:
    data = CSV_CASES[case].encode()
    files = [put(lake, "transactions", "2025-01-01", "transactions.csv", data)]
    got = [(r["_line"], r["transaction_id"], r["_error"] is None) for r in read(duck, lake, "transactions", files)]
    assert got == CSV_EXPECTED[case]


def test_gzip_csv_reads_like_plain(duck: Any, lake: Path) -> None:
    text = CSV_CASES["malformed rows"].encode()
    files = [
        put(lake, "transactions", "2025-01-01", "transactions.csv", text),
        put(lake, "transactions", "2025-01-02", "transactions.csv.gz", gzip.compress(text)),
    ]
    rows = read(duck, lake, "transactions", files)
    by_day = {}
    for r in rows:
        by_day.setdefault(r["date"], []).append((r["_line"], r["transaction_id"], r["_error"]))
    assert by_day["2025-01-01"] == by_day["2025-01-02"]
    assert len(by_day["2025-01-01"]) == 5


def test_json_lines_keep_numbers_as_written_and_report_bad_lines(duck: Any, lake: Path) -> None:
    lines = [
        json.dumps({"product_id": "P1", "name": "a", "category": "c", "brand": "b", "price": "1.00", "stock": "1"}),
        '{"product_id": "P2", "name": "a", "category": "c", "brand": "b", "price": 12.50, "stock": 3}',
        "",
        '{"product_id": "P3", "name": ',
        "{'product_id': 'P4'}",
        "[1, 2]",
        '{"product_id": "P5", "name": null, "category": "c", "brand": "b", "price": "1", "stock": "1"}',
    ]
    data = ("\n".join(lines) + "\n").encode()
    files = [put(lake, "products", "2025-01-01", "products.json", data)]
    rows = read(duck, lake, "products", files)
    assert [(r["_line"], r["product_id"], r["_error"] is None) for r in rows] == [
        (1, "P1", True),
        (2, "P2", True),
        (4, None, False),
        (5, None, False),
        (6, None, False),
        (7, "P5", True),
    ]
    by_line = {r["_line"]: r for r in rows}
    assert (by_line[2]["price"], by_line[2]["stock"]) == ("12.50", "3")  # as written, not 12.5
    assert [by_line[n]["_error"] is not None for n in (4, 5, 6)] == [True, True, True]
    assert by_line[7]["name"] is None


def test_json_array_elements_carry_their_lines(duck: Any, lake: Path) -> None:
    rest = '"name": "n", "category": "c", "brand": "b", "stock": 1'
    first, second = f'{{"product_id": "P1", "price": 1.5, {rest}}}', f'{{"product_id": "P2",\n   "price": 2, {rest}}}'
    data = f"[\n  {first},\n  {second}\n]\n".encode()
    files = [put(lake, "products", "2025-01-01", "products.json", data)]
    rows = read(duck, lake, "products", files)
    assert [(r["_line"], r["product_id"], r["price"]) for r in rows] == [(2, "P1", "1.5"), (3, "P2", "2")]


def test_a_file_the_reader_cannot_read_is_rejected_and_the_rest_goes_on(duck: Any, lake: Path) -> None:
    from ecomlake.ingest.validator import validate_object

    good = CSV_CASES["plain"].encode()
    put(lake, "transactions", "2025-01-01", "transactions.csv", good)
    put(lake, "transactions", "2025-01-02", "transactions.csv", good)
    storage = io.LakeIO.local(lake).storage
    for day in ("2025-01-01", "2025-01-02"):
        assert validate_object(storage, f"raw/transactions/date={day}/transactions.csv").accepted
    files = io.raw_files(io.LakeIO.local(lake), "transactions", ["2025-01-01", "2025-01-02"])
    # The file changes after it was accepted (same size, so its report still looks current).
    broken = good.replace(b"T3,C1", b"T3,\xe91")
    assert len(broken) == len(good)
    (lake / "raw/transactions/date=2025-01-02/transactions.csv").write_bytes(broken)
    rows = read(duck, lake, "transactions", files)
    assert {r["date"] for r in rows} == {"2025-01-01"}
    assert len(rows) == 5
    reason = json.loads((lake / "quarantine/transactions/date=2025-01-02/transactions.csv.reason.json").read_text())
    assert (reason["rule"], reason["line"]) == ("not_utf8", 5)
    assert io.raw_files(io.LakeIO.local(lake), "transactions", ["2025-01-02"]) == []


def test_rejected_files_are_not_read(duck: Any, lake: Path) -> None:
    put(lake, "transactions", "2025-01-01", "transactions.csv", CSV_CASES["plain"].encode())
    put(lake, "transactions", "2025-01-01", "broken.csv", b"\x00\x01binary")
    files = io.raw_files(io.LakeIO.local(lake), "transactions", ["2025-01-01"])
    assert [f.name for f in files] == ["transactions.csv"]
    assert (lake / "quarantine/transactions/date=2025-01-01/broken.csv.reason.json").is_file()


# --------------------------------------------------------------------------- the writer


def _frame(session: Any, rows: list[tuple[str, int]]) -> Any:
    T = api(session).T
    schema = T.StructType([T.StructField("date", T.StringType()), T.StructField("n", T.LongType())])
    return session.createDataFrame(rows, schema)


def _versions(lake: Path, unit: str, run: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for part in sorted((lake / unit).glob(f"date=*/run={run}")):
        values = duckdb.sql(f"select n from read_parquet('{part}/*.parquet') order by n").fetchall()
        out[part.parent.name.split("=")[1]] = [v[0] for v in values]
    return out


def _scoped(lake: Path, run: str) -> io.LakeIO:
    from ecomlake.snapshots import Snapshot

    return io.LakeIO.local(lake, io.RunScope(run, Snapshot()))


UNIT = "processed/sessions"


def test_writer_writes_new_versions_and_records_empty_dates(duck: Any, lake: Path) -> None:
    first = _scoped(lake, "r1")
    got = io.write_unit(_frame(duck, [("2025-01-01", 1), ("2025-01-02", 2)]), first, UNIT, ["2025-01-01", "2025-01-02"])
    assert got == ["2025-01-01", "2025-01-02"]
    assert _versions(lake, UNIT, "r1") == {"2025-01-01": [1], "2025-01-02": [2]}
    # A second run re-computes 01-02 (new rows) and 01-03 (none): new versions beside the old.
    second = _scoped(lake, "r2")
    io.write_unit(_frame(duck, [("2025-01-02", 20), ("2025-01-02", 21)]), second, UNIT, ["2025-01-02", "2025-01-03"])
    assert _versions(lake, UNIT, "r2") == {"2025-01-02": [20, 21]}
    assert _versions(lake, UNIT, "r1") == {"2025-01-01": [1], "2025-01-02": [2]}  # untouched
    assert second.run.changes.partitions == {UNIT: {"2025-01-02": "r2", "2025-01-03": None}}
    view = second.run.base.overlay(first.run.changes).overlay(second.run.changes)
    assert view.partitions[UNIT] == {"2025-01-01": "r1", "2025-01-02": "r2"}


def test_a_retried_job_replaces_its_own_versions(duck: Any, lake: Path) -> None:
    scope = _scoped(lake, "r1")
    io.write_unit(_frame(duck, [("2025-01-01", 1), ("2025-01-02", 2)]), scope, UNIT, ["2025-01-01", "2025-01-02"])
    io.write_unit(_frame(duck, [("2025-01-01", 7)]), scope, UNIT, ["2025-01-01", "2025-01-02"])
    assert _versions(lake, UNIT, "r1") == {"2025-01-01": [7]}
    assert scope.run.changes.partitions[UNIT] == {"2025-01-01": "r1", "2025-01-02": None}


def test_writer_refuses_rows_outside_the_dates(duck: Any, lake: Path) -> None:
    scope = _scoped(lake, "r1")
    with pytest.raises(ValueError, match="outside the run's dates"):
        io.write_unit(_frame(duck, [("2025-01-05", 1)]), scope, UNIT, ["2025-01-01"])
    assert UNIT not in scope.run.changes.partitions


def test_writing_needs_a_run_and_a_known_unit(duck: Any, lake: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="needs a run"):
        io.write_unit(_frame(duck, [("2025-01-01", 1)]), io.LakeIO.local(lake), UNIT, ["2025-01-01"])
    from ecomlake.snapshots import SnapshotError

    with pytest.raises(SnapshotError, match="unknown unit"):
        io.write_unit(_frame(duck, [("2025-01-01", 1)]), _scoped(lake, "r1"), "processed/nope", ["2025-01-01"])


def test_unpartitioned_table_is_one_version_per_run(duck: Any, lake: Path) -> None:
    unit = "curated/dim_customers"
    io.write_unit(_frame(duck, [("x", 1), ("x", 2)]), _scoped(lake, "r1"), unit, None)
    second = _scoped(lake, "r2")
    io.write_unit(_frame(duck, [("x", 3)]), second, unit, None)
    assert sorted(p.name for p in (lake / unit).iterdir()) == ["run=r1", "run=r2"]
    assert duckdb.sql(f"select n from read_parquet('{lake / unit}/run=r2/*.parquet')").fetchall() == [(3,)]
    assert second.run.changes.whole == {unit: "r2"}


def test_quarantine_rows_are_versions_beside_whole_file_rejects(duck: Any, lake: Path) -> None:
    folder = lake / "quarantine" / "transactions" / "date=2025-01-01"
    folder.mkdir(parents=True)
    (folder / "bad.csv").write_text("x")
    (folder / "bad.csv.reason.json").write_text("{}")
    T = api(duck).T
    schema = T.StructType(
        [
            T.StructField("_line", T.LongType()),
            T.StructField("_file", T.StringType()),
            T.StructField("date", T.StringType()),
        ]
    )
    scope = _scoped(lake, "r1")
    io.write_quarantine(duck.createDataFrame([(3, "f", "2025-01-01")], schema), scope, "transactions", ["2025-01-01"])
    assert sorted(p.name for p in folder.iterdir()) == ["bad.csv", "bad.csv.reason.json", "run=r1"]
    # A later run with no bad rows writes no version and records the date as empty.
    later = _scoped(lake, "r2")
    io.write_quarantine(duck.createDataFrame([], schema), later, "transactions", ["2025-01-01"])
    assert sorted(p.name for p in folder.iterdir()) == ["bad.csv", "bad.csv.reason.json", "run=r1"]
    assert later.run.changes.partitions == {"quarantine/transactions": {"2025-01-01": None}}


def test_a_spark_write_keeps_what_the_caller_cached_and_frees_its_own(spark: Any, lake: Path) -> None:
    # The merge caches its product-activity state, writes it, then builds dim_products from it:
    # the write must not drop that cache (it did, and dim_products recomputed the state).
    import time

    from ecomlake.contract import Job
    from ecomlake.etl.jobs import write_built
    from ecomlake.schemas import FCT_SESSIONS

    scope = _scoped(lake, "r1")
    kept = spark.range(3).selectExpr("'2025-01-01' AS date", "id AS n").cache()
    fresh = spark.range(2).selectExpr("'2025-01-02' AS date", "id AS n")
    try:
        for frame in (kept, fresh):
            write_built(Job.MASTER_DATA_MERGE, FCT_SESSIONS, frame, ["2025-01-01", "2025-01-02"], scope, time.time())
        assert kept.is_cached
        assert not fresh.is_cached
    finally:
        kept.unpersist()
