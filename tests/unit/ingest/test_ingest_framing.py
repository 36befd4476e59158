"""Streams and framing: encodings, compression, line numbers, and ambiguous input."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import Any

import pytest

from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest import streams
from ecomlake.ingest.framing import CSV, JSON_ARRAY, JSON_LINES, RecordReader, check_extension
from tests.unit.ingest.ingest_samples import TXN_HEADER, gz, txn

LIMIT = 1 << 20
CLICK = (
    '{"session_id": "S1", "event_type": "page_view", "page": "/", '
    '"timestamp": "2025-01-01T00:00:00Z", "device": "mobile"}'
)
PRODUCT = '{"product_id": "P1", "name": "n", "category": "c", "brand": "b", "price": 12.50, "stock": 3}'


def frame(
    data: bytes, name: str = "t.csv", dataset: str = "transactions", limit: int = LIMIT
) -> tuple[list[dict], RecordReader]:
    reader = RecordReader(io.BytesIO(data), name, dataset, max_bytes=limit)
    rows = [row for batch in reader.batches() for row in batch.to_pylist()]
    return rows, reader


def rejected(data: bytes, name: str = "t.csv", dataset: str = "transactions", limit: int = LIMIT) -> FileRejectedError:
    with pytest.raises(FileRejectedError) as info:
        frame(data, name, dataset, limit)
    return info.value


def chunks(data: bytes, name: str = "x.csv", limit: int = LIMIT, chunk_bytes: int = streams.CHUNK_BYTES) -> bytes:
    facts = streams.StreamFacts()
    return b"".join(streams.text_chunks(io.BytesIO(data), name, max_bytes=limit, facts=facts, chunk_bytes=chunk_bytes))


def csv(*rows: str, newline: str = "\n") -> bytes:
    return (newline.join([TXN_HEADER, *rows]) + newline).encode()


def ids(rows: list[dict[str, Any]]) -> list[tuple[int, str | None, bool]]:
    return [
        (r["_line"], r["transaction_id"] or r.get("session_id") or r.get("product_id"), r["_error"] is None)
        for r in rows
    ]


# --------------------------------------------------------------------------- streams


def test_bom_is_stripped_and_reported() -> None:
    rows, reader = frame(b"\xef\xbb\xbf" + csv(txn(1)))
    assert reader.facts.bom is True
    assert reader.stats.header is not None
    assert reader.stats.header[0] == "transaction_id"
    assert ids(rows) == [(2, "T1", True)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\r\nb\r\n", "crlf"), ("a\nb\n", "lf"), ("a\r\nb\n", "mixed"), ("ab", "none"), ("a\r1\nb\n", "mixed")],
)
def test_line_endings_are_detected(text: str, expected: str) -> None:
    facts = streams.StreamFacts()
    b"".join(streams.text_chunks(io.BytesIO(text.encode()), "x.csv", max_bytes=LIMIT, facts=facts))
    assert facts.line_endings == expected


def test_bare_cr_line_endings_are_refused() -> None:
    err = rejected(csv(txn(1), newline="\r"))
    assert err.rule == "wrong_format"
    assert "bare CR" in err.detail


def test_gzip_is_decompressed_when_named_gz() -> None:
    rows, reader = frame(gz(csv(txn(1), txn(2))), "t.csv.gz")
    assert reader.facts.compression == "gzip"
    assert ids(rows) == [(2, "T1", True), (3, "T2", True)]


def test_concatenated_gzip_members_past_a_mebibyte_are_read_whole() -> None:
    # The first member inflates past 1 MiB (the inflater's step), then a second member follows:
    # what `cat a.gz b.gz` makes. Random IDs keep the first member from compressing to nothing.
    first = csv(*(txn(i, customer_id=os.urandom(8).hex()) for i in range(20_000)))
    assert len(first) > 1 << 20
    second = "".join(txn(i) + "\n" for i in range(20_000, 20_010)).encode()
    rows, _ = frame(gz(first) + gz(second), "t.csv.gz", limit=1 << 26)
    assert len(rows) == 20_010
    assert rows[-1]["transaction_id"] == "T20009"
    assert rows[-1]["_line"] == 20_011


def test_gzip_bomb_stops_at_the_size_limit() -> None:
    assert rejected(gz(b"0" * 5000), "t.csv.gz", limit=4096).rule == "too_large"


def test_gzip_bomb_stops_at_the_ratio_without_inflating_it() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = bomb.compress(b"\n" * (streams.RATIO_GRACE_BYTES * 4)) + bomb.flush()
    err = rejected(data, "t.csv.gz", limit=1 << 30)
    assert err.rule == "too_large"
    assert f"{streams.MAX_GZIP_RATIO} times" in err.detail


def test_gzip_data_needs_a_gz_name_and_the_reverse() -> None:
    assert rejected(gz(csv(txn(1))), "t.csv").rule == "wrong_format"
    assert rejected(csv(txn(1)), "t.csv.gz").rule == "wrong_format"


def test_truncated_and_corrupt_gzip_are_wrong_format() -> None:
    whole = gzip.compress(csv(*(txn(i) for i in range(100))))
    err = rejected(whole[:-12], "t.csv.gz")
    assert (err.rule, "gzip" in err.detail) == ("wrong_format", True)
    assert rejected(whole[:10] + b"\xff" * 40, "t.csv.gz").rule == "wrong_format"


def test_latin1_byte_is_reported_with_its_line() -> None:
    err = rejected(csv(txn(1), txn(2, customer_id="caf\xe9")).decode().encode("latin-1"))
    assert (err.rule, err.line) == ("not_utf8", 3)
    assert "0xe9" in err.detail


def test_bad_utf8_is_found_past_the_first_chunk() -> None:
    data = csv(*(txn(i) for i in range(2000))) + b"T9,caf\xe9\n"
    with pytest.raises(FileRejectedError) as info:
        chunks(data, chunk_bytes=4096)
    assert (info.value.rule, info.value.line) == ("not_utf8", 2002)


def test_encoded_surrogates_are_not_utf8() -> None:
    assert rejected(csv(txn(1)) + b"T2,\xed\xa0\x80\n").rule == "not_utf8"


def test_utf16_is_not_utf8() -> None:
    assert rejected(csv(txn(1)).decode().encode("utf-16")).rule == "not_utf8"


@pytest.mark.parametrize("data", [b"PK\x03\x04\x14\x00rest", b"PAR1\x00\x00", csv(txn(1)) + b"T2,\x002\n"])
def test_binary_content_is_refused(data: bytes) -> None:
    assert rejected(data).rule == "binary_content"


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf"])
def test_empty_files(data: bytes) -> None:
    assert rejected(data, "c.json", "clickstream").rule == "empty_file"


def test_size_limit() -> None:
    err = rejected(b"a" * 11, limit=10)
    assert err.rule == "too_large"


@pytest.mark.parametrize(
    ("name", "fmt", "ok"),
    [
        ("t.csv", "csv", True),
        ("t.csv.gz", "csv", True),
        ("t.txt", "csv", False),
        ("t.json", "csv", False),
        ("p.json", "json", True),
        ("p.jsonl.gz", "json", True),
        ("p.ndjson", "jsonl", True),
        ("p.csv", "jsonl", False),
        ("t.csv.zip", "csv", False),
    ],
)
def test_file_name_endings(name: str, fmt: str, ok: bool) -> None:
    if ok:
        check_extension(name, fmt)
    else:
        with pytest.raises(FileRejectedError) as info:
            check_extension(name, fmt)
        assert info.value.rule == "wrong_format"


def test_chunks_end_at_line_feeds_and_keep_every_byte() -> None:
    data = csv(*(txn(i) for i in range(3000)))
    assert chunks(data, chunk_bytes=1000) == data


# --------------------------------------------------------------------------- CSV framing


def test_csv_quoted_comma_and_newline_keep_line_numbers() -> None:
    rows, reader = frame(csv(txn(1, customer_id='"a, b"'), txn(2, customer_id='"line one\nline two"'), "", txn(3)))
    assert reader.stats.format == CSV
    assert [(r["_line"], r["customer_id"]) for r in rows] == [(2, "a, b"), (3, "line one\nline two"), (6, "C1")]
    assert all(r["_error"] is None for r in rows)


def test_csv_quoted_field_spanning_chunks_is_one_record() -> None:
    long_text = "x\n" * 3000  # longer than the chunk below, so the record spans chunks
    data = csv(txn(1), txn(2, customer_id=f'"{long_text}"'), txn(3))
    reader = RecordReader(io.BytesIO(data), "t.csv", "transactions", max_bytes=LIMIT, chunk_bytes=1024)
    rows = [r for batch in reader.batches() for r in batch.to_pylist()]
    assert [(r["_line"], r["transaction_id"]) for r in rows] == [(2, "T1"), (3, "T2"), (3004, "T3")]
    assert rows[1]["customer_id"] == long_text


def test_csv_crlf_inside_quotes_is_kept_and_crlf_ends_records() -> None:
    rows, _ = frame(csv(txn(1, customer_id='"x\r\ny"'), txn(2), newline="\r\n"))
    assert [(r["_line"], r["customer_id"], r["status"]) for r in rows] == [
        (2, "x\r\ny", "completed"),
        (4, "C1", "completed"),
    ]


def test_csv_bare_cr_inside_a_field_is_data_quoted_or_not() -> None:
    rows, _ = frame(csv(txn(1, customer_id='"a\rb"'), txn(2, customer_id="c\rd")))
    assert [(r["_line"], r["customer_id"], r["_error"]) for r in rows] == [(2, "a\rb", None), (3, "c\rd", None)]


def test_csv_wrong_field_count_and_bad_quoting_are_malformed_records() -> None:
    rows, _ = frame(csv(txn(1) + ",extra", txn(2, customer_id='"C2"x'), txn(3, customer_id='C"3'), '"open', txn(5)))
    assert ids(rows) == [(2, None, False), (3, None, False), (4, None, False), (5, None, False), (6, "T5", True)]
    errors = [r["_error"] for r in rows]
    assert errors[0] == "expected 8 fields (the header's), found 9"
    assert "after the closing quote" in errors[1]
    assert "double quote inside an unquoted field" in errors[2]
    assert "never closed" in errors[3]


def test_csv_blank_lines_are_skipped_even_before_the_header() -> None:
    rows, reader = frame(b"\n \t\r\n" + csv(txn(1), "   ", txn(2)))
    assert reader.stats.header is not None
    assert ids(rows) == [(4, "T1", True), (6, "T2", True)]
    assert reader.stats.rows == 2


def test_csv_fields_have_no_length_limit() -> None:
    long_id = "T" + "9" * 200_000  # past the csv module's 131,072 default
    rows, _ = frame(csv(txn(1, transaction_id=long_id), txn(2, customer_id='"' + "q" * 200_000 + '"')))
    assert [r["_error"] for r in rows] == [None, None]
    assert rows[0]["transaction_id"] == long_id
    assert len(rows[1]["customer_id"]) == 200_000


def test_csv_header_names_are_trimmed_and_duplicates_refused() -> None:
    rows, reader = frame((" " + TXN_HEADER.replace(",", " , ") + "\n" + txn(1) + "\n").encode())
    assert reader.stats.header == tuple(TXN_HEADER.split(","))
    assert rows[0]["status"] == "completed"
    err = rejected((TXN_HEADER + ",status\n" + txn(1) + ",x\n").encode())
    assert (err.rule, err.column) == ("wrong_format", "status")


def test_csv_header_lacking_a_required_column() -> None:
    err = rejected(b"transaction_id,customer_id\nT1,C1\n")
    assert (err.rule, err.line, err.column) == ("missing_columns", 1, "product_id")


def test_csv_header_only_and_all_malformed() -> None:
    assert rejected(csv()).rule == "header_only"
    assert rejected(csv("a,b", "c")).rule == "no_valid_records"


def test_json_where_csv_expected() -> None:
    assert rejected(b'{"a": 1}\n').rule == "wrong_format"


# --------------------------------------------------------------------------- JSON framing


def test_json_array_elements_carry_their_line() -> None:
    split = PRODUCT.replace("P1", "P2").replace(', "stock": 3}', ",")
    data = f'[\n  {PRODUCT},\n  {split}\n   "stock": 4}},\n  7\n]\n'.encode()
    rows, reader = frame(data, "p.json", "products")
    assert reader.stats.format == JSON_ARRAY
    assert [(r["_line"], r["product_id"], r["price"], r["_error"]) for r in rows] == [
        (2, "P1", "12.50", None),
        (3, "P2", "12.50", None),
        (5, None, None, "found a scalar where a JSON object was expected"),
    ]


@pytest.mark.parametrize("chunk_bytes", [64, 200, 4096, streams.CHUNK_BYTES])
def test_json_array_lines_are_right_across_chunks_and_pretty_printing(chunk_bytes: int) -> None:
    # Elements one to a line, then pretty-printed over several lines, then two to a line;
    # every element's line is known from how the text was built, whatever the chunking.
    parts, expected, line = ["["], [], 1
    for i in range(120):
        element = PRODUCT.replace("P1", f"P{i}")
        if i % 3 == 1:
            element = element.replace(", ", ",\n    ")
        sep = " " if i % 3 == 2 else "\n  "
        line += sep.count("\n")
        expected.append((line, f"P{i}"))
        parts.append(sep + element + ("," if i < 119 else ""))
        line += element.count("\n")
    data = ("".join(parts) + "\n]\n").encode()
    reader = RecordReader(io.BytesIO(data), "p.json", "products", max_bytes=LIMIT, chunk_bytes=chunk_bytes)
    rows = [row for batch in reader.batches() for row in batch.to_pylist()]
    assert [(r["_line"], r["product_id"]) for r in rows] == expected
    broken = data.replace(b'"P100",', b'"P100" "x",')
    err = rejected(broken, "p.json", "products")
    assert (err.rule, err.line) == ("wrong_format", dict((pid, n) for n, pid in expected)["P100"])


@pytest.mark.parametrize("text", [f"[{PRODUCT},]", f"[{PRODUCT} {PRODUCT}]", f"[{PRODUCT}] trailing", f"[{PRODUCT}"])
def test_broken_json_array_is_wrong_format(text: str) -> None:
    err = rejected(text.encode(), "p.json", "products")
    assert (err.rule, err.line) == ("wrong_format", 1)


def test_empty_json_array_has_no_records() -> None:
    assert rejected(b"[ ]", "p.json", "products").rule == "no_valid_records"


def test_json_lines_keep_number_text_and_flag_bad_lines() -> None:
    line = PRODUCT.replace("12.50", "1e3").replace('"c"', "true").replace('"b"', '{"x": 1}')
    rows, reader = frame(f'{line}\r\n\r\n{{"a": \n[1, 2]\n'.encode(), "p.jsonl", "products")
    assert reader.stats.format == JSON_LINES
    assert (rows[0]["price"], rows[0]["category"], rows[0]["brand"]) == ("1e3", "true", '{"x":"1"}')
    assert [(r["_line"], r["_error"] is None) for r in rows] == [(1, True), (3, False), (4, False)]
    assert "not valid JSON" in rows[1]["_error"]
    assert "array" in rows[2]["_error"]


def test_json_array_for_a_json_lines_dataset_is_wrong_format() -> None:
    err = rejected(f"[{CLICK}]".encode(), "c.json", "clickstream")
    assert (err.rule, "JSON Lines" in err.detail) == ("wrong_format", True)


def test_json_lines_that_are_not_json_are_wrong_format() -> None:
    assert rejected(b"session_id,page\nS1,/\n", "c.json", "clickstream").rule == "wrong_format"


@pytest.mark.parametrize("name", ["p.jsonl", "p.json"])
def test_duplicate_json_keys_make_a_malformed_record_in_both_framings(name: str) -> None:
    twice = PRODUCT.replace('"price": 12.50', '"price": 12.50, "price": 99.00')
    text = f"{PRODUCT}\n{twice}\n" if name.endswith("l") else f"[{PRODUCT},\n{twice}]"
    rows, _ = frame(text.encode(), name, "products")
    assert [(r["_line"], r["price"]) for r in rows] == [(1, "12.50"), (2, None)]
    assert rows[1]["_error"] == "key 'price' appears twice in one object"


@pytest.mark.parametrize("name", ["p.jsonl", "p.json"])
def test_lone_surrogate_escape_is_a_malformed_record_in_both_framings(name: str) -> None:
    lone = PRODUCT.replace('"n"', '"a\\ud800b"')
    paired = PRODUCT.replace('"n"', '"a\\ud83d\\ude00b"').replace("P1", "P2")
    text = f"{lone}\n{paired}\n" if name.endswith("l") else f"[{lone},\n{paired}]"
    rows, _ = frame(text.encode(), name, "products")
    assert "lone surrogate" in rows[0]["_error"]
    assert rows[1]["name"] == "a\U0001f600b"


def test_control_characters_in_json_strings() -> None:
    raw = CLICK.replace('"/"', '"/\x01"')
    escaped = CLICK.replace('"/"', '"/\\u0001"')
    rows, _ = frame(f"{raw}\n{escaped}\n".encode(), "c.jsonl", "clickstream")
    assert "not valid JSON" in rows[0]["_error"]
    assert rows[1]["page"] == "/\x01"


@pytest.mark.parametrize(
    "line",
    [
        '{"session_id": "S", "page": 1, "page": 2}',
        '{"session_id": "S", "page" : 1, "page": 2}',
        '{"session_id": "S", "page":1,\t"page"\t:2}',
        '{"session_id": "S", "x": {"k": 1, "k": 2}}',
        '{"session_id": "S", "note": "a\\":b", "page": 1, "page": 2}',
    ],
)
def test_duplicate_keys_are_found_whatever_the_spacing_or_depth(line: str) -> None:
    rows, _ = frame(f"{line}\n{CLICK}\n".encode(), "c.jsonl", "clickstream")
    assert rows[0]["_error"] is not None
    assert "appears twice" in rows[0]["_error"]
    assert rows[1]["_error"] is None


# --------------------------------------------------------------------------- JSON Lines: the plain-line pattern

CLICK_COLUMNS = ("session_id", "customer_id", "event_type", "page", "timestamp", "device")


def plain_click(session: str, customer: str | None = "C1", spacing: str = " ") -> str:
    values = [f'"{session}"', "null" if customer is None else f'"{customer}"', '"page_view"', '"/a, b"', '"t"', '""']
    return "{" + ",".join(f'"{k}":{spacing}{v}' for k, v in zip(CLICK_COLUMNS, values, strict=True)) + "}"


def test_plain_json_lines_read_by_the_pattern_keep_nulls_empties_and_line_order() -> None:
    lines = [
        '{"device": "d", "extra": 1, "session_id": "S0"}',  # keys in another order, first: they lead
        plain_click("S1"),
        plain_click("S2", None, spacing="\t"),
        plain_click("S3").replace('"/a, b"', '"/caf\u00e9"'),
        "",
        plain_click("S4") + " ",  # trailing space: not plain, still one good record
        plain_click("S5").replace('"t"', '"a\\"b"'),  # an escape: not plain
        plain_click("S6")[:-2],  # broken
    ]
    rows, reader = frame(("\n".join(lines) + "\n").encode(), "c.jsonl", "clickstream")
    assert [(r["_line"], r["session_id"], r["customer_id"], r["_error"] is None) for r in rows] == [
        (1, "S0", None, True),
        (2, "S1", "C1", True),
        (3, "S2", None, True),
        (4, "S3", "C1", True),
        (6, "S4", "C1", True),
        (7, "S5", "C1", True),
        (8, None, None, False),
    ]
    assert (rows[1]["page"], rows[1]["device"], rows[3]["page"], rows[5]["timestamp"]) == (
        "/a, b",
        "",
        "/caf\u00e9",
        'a"b',
    )
    # Keys in order of first appearance: line 1's, then the plain lines' others.
    assert list(reader.stats.keys) == [
        "device",
        "extra",
        "session_id",
        "customer_id",
        "event_type",
        "page",
        "timestamp",
    ]
    assert (reader.stats.rows, reader.stats.malformed) == (7, 1)


def test_keys_of_a_plain_first_line_come_first() -> None:
    lines = [plain_click("S1"), '{"zeta": "z", "session_id": "S2"}']
    _, reader = frame(("\n".join(lines) + "\n").encode(), "c.jsonl", "clickstream")
    assert list(reader.stats.keys) == [*CLICK_COLUMNS, "zeta"]


@pytest.mark.parametrize("seed", range(6))
def test_the_plain_line_pattern_reads_what_the_decoder_reads(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # The decoder, line by line, is the definition: random lines (plain, reordered, extra or
    # repeated keys, escapes, numbers, nesting, spacing, broken, blank) framed with the
    # pattern and without it give the same rows, keys and counts, at any chunk size.
    import random

    from ecomlake.ingest import framing

    rng = random.Random(seed)
    values = ['"x"', "null", '""', '"a, b"', "1", '"q\\"r"', "true", '"\u00e9"', '"\\ud800"', '{"k": 1}', "[1]"]

    def line() -> str:
        keys = list(CLICK_COLUMNS)
        if rng.random() < 0.3:
            keys = rng.sample([*CLICK_COLUMNS, "extra"], rng.randint(0, 7))
        elif rng.random() < 0.1:
            keys.append(rng.choice(keys))
        pairs = [
            f'"{k}"{rng.choice(["", "", " "])}:{rng.choice(["", " ", chr(9)])}'
            f"{rng.choice(values[:4] if rng.random() < 0.85 else values)}{rng.choice(['', ' '])}"
            for k in keys
        ]
        text = "{" + rng.choice(["", " "]) + ",".join(pairs) + "}"
        return rng.choice([text] * 12 + [text[:-3], " " + text, text + " x", "  ", "[1]"])

    def read(chunk_bytes: int) -> tuple[Any, ...]:
        reader = RecordReader(io.BytesIO(data), "c.jsonl", "clickstream", max_bytes=LIMIT, chunk_bytes=chunk_bytes)
        try:
            rows = [row for batch in reader.batches() for row in batch.to_pylist()]
        except FileRejectedError as err:
            return (str(err),)
        return rows, list(reader.stats.keys), reader.stats.rows, reader.stats.malformed, reader.stats.first_error

    for _ in range(40):
        newline = "\r\n" if rng.random() < 0.2 else "\n"
        data = newline.join(line() for _ in range(rng.randint(1, 50))).encode() + newline.encode()
        for chunk_bytes in (64, 4096, streams.CHUNK_BYTES):
            with_pattern = read(chunk_bytes)
            with monkeypatch.context() as patched:
                patched.setattr(framing, "_plain_line", lambda _columns: None)
                assert read(chunk_bytes) == with_pattern


@pytest.mark.parametrize("indented", [0.02, 0.9])
def test_blank_lines_are_found_byte_by_byte_whether_few_or_many_lines_start_blank(indented: float) -> None:
    # The definition: a line is blank when every byte is a space, tab, CR, VT or FF (or it has
    # none). Few indented lines are tested one by one, many by one pass over every byte.
    import random

    from ecomlake.ingest.framing import _lines

    rng = random.Random(int(indented * 100))
    blanks = [" ", "\t", "\x0b", "\x0c", "\r"]
    lines = []
    for _ in range(3000):
        body = "".join(rng.choice(blanks) for _ in range(rng.randint(0, 3)))
        if rng.random() > 0.2:
            body += rng.choice(["x", "é", "0", "{", ","]) + "".join(rng.choice(["a", " ", "\t"]) for _ in range(4))
        if rng.random() >= indented:
            body = body.lstrip("".join(blanks))
        lines.append(body)
    buf = ("\n".join(lines) + "\n").encode()
    found = _lines(buf, 1)
    expected = [all(ch in " \t\r\x0b\x0c" for ch in line) for line in lines]
    assert found.blank.tolist() == expected
    assert sum(expected) > 300
    starting_blank = sum(1 for line in lines if line[:1] in blanks)
    assert starting_blank > 256 if indented > 0.5 else starting_blank <= 256
