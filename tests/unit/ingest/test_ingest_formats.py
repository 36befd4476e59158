"""Decoding and record readers: encodings, compression, line numbers."""

from __future__ import annotations

import gzip

import pytest

from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest.formats import (
    CSV,
    JSON_ARRAY,
    JSON_LINES,
    check_extension,
    decode,
    gunzip,
    read_records,
)
from tests.unit.ingest.ingest_samples import gz

LIMIT = 1 << 20


def rejected(call, *args, **kwargs) -> FileRejectedError:
    with pytest.raises(FileRejectedError) as info:
        call(*args, **kwargs)
    return info.value


def test_bom_is_stripped_and_reported() -> None:
    decoded = decode(b"\xef\xbb\xbfa,b\n1,2\n", "x.csv", max_bytes=LIMIT)
    assert decoded.text == "a,b\n1,2\n"
    assert decoded.bom is True
    assert decoded.line_endings == "lf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\r\nb\r\n", "crlf"), ("a\nb\n", "lf"), ("a\rb\r", "cr"), ("a\r\nb\n", "mixed"), ("ab", "none")],
)
def test_line_endings_are_detected(text: str, expected: str) -> None:
    assert decode(text.encode(), "x.csv", max_bytes=LIMIT).line_endings == expected


def test_gzip_is_decompressed_when_named_gz() -> None:
    decoded = decode(gz(b"a,b\n1,2\n"), "x.csv.gz", max_bytes=LIMIT)
    assert decoded.text == "a,b\n1,2\n"
    assert decoded.compression == "gzip"


def test_concatenated_gzip_members_are_read_whole() -> None:
    assert gunzip(gz(b"a,b\n") + gz(b"1,2\n"), LIMIT) == b"a,b\n1,2\n"


def test_gzip_bomb_stops_at_the_limit() -> None:
    err = rejected(decode, gz(b"0" * 5000), "x.csv.gz", max_bytes=4096)
    assert err.rule == "too_large"


def test_gzip_data_needs_a_gz_name_and_the_reverse() -> None:
    assert rejected(decode, gz(b"a\n"), "x.csv", max_bytes=LIMIT).rule == "wrong_format"
    assert rejected(decode, b"a,b\n", "x.csv.gz", max_bytes=LIMIT).rule == "wrong_format"


def test_truncated_gzip_is_wrong_format() -> None:
    err = rejected(decode, gzip.compress(b"a,b\n" * 100)[:-12], "x.csv.gz", max_bytes=LIMIT)
    assert err.rule == "wrong_format"
    assert "gzip" in err.detail


def test_latin1_byte_is_reported_with_its_line() -> None:
    err = rejected(decode, "a,b\n1,ok\n2,caf\xe9\n".encode("latin-1"), "x.csv", max_bytes=LIMIT)
    assert err.rule == "not_utf8"
    assert err.line == 3
    assert "0xe9" in err.detail


def test_utf16_is_not_utf8() -> None:
    assert rejected(decode, "a,b\n".encode("utf-16"), "x.csv", max_bytes=LIMIT).rule == "not_utf8"


@pytest.mark.parametrize("data", [b"PK\x03\x04\x14\x00rest", b"PAR1\x00\x00", b"a,b\n1,\x002\n"])
def test_binary_content_is_refused(data: bytes) -> None:
    assert rejected(decode, data, "x.csv", max_bytes=LIMIT).rule == "binary_content"


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf"])
def test_empty_files(data: bytes) -> None:
    assert rejected(decode, data, "x.json", max_bytes=LIMIT).rule == "empty_file"


def test_size_limit() -> None:
    err = rejected(decode, b"a" * 11, "x.csv", max_bytes=10)
    assert err.rule == "too_large"
    assert "11 bytes" in err.detail


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
        assert rejected(check_extension, name, fmt).rule == "wrong_format"


def test_csv_quoted_comma_and_newline_keep_line_numbers() -> None:
    text = 'id,text,n\n1,"a, b",2\n2,"line one\nline two",3\n\n3,plain,4\n'
    source = read_records(text, "csv")
    assert source.format == CSV
    assert source.header == ("id", "text", "n")
    records = list(source.records)
    assert [(r.line, r.values["text"]) for r in records] == [
        (2, "a, b"),
        (3, "line one\nline two"),
        (6, "plain"),
    ]
    assert all(r.error is None for r in records)


def test_csv_crlf_inside_quotes_is_kept() -> None:
    records = list(read_records('id,text\r\n1,"x\r\ny"\r\n2,z\r\n', "csv").records)
    assert [(r.line, r.values["text"]) for r in records] == [(2, "x\r\ny"), (4, "z")]


def test_csv_wrong_field_count_and_bad_quoting_are_malformed_records() -> None:
    text = 'a,b\n1,2,3\n4,"5"x\n6,7\n'
    records = list(read_records(text, "csv").records)
    assert [(r.line, r.error is not None) for r in records] == [(2, True), (3, True), (4, False)]
    assert "expected 2 fields" in (records[0].error or "")
    assert records[2].values == {"a": "6", "b": "7"}


def test_csv_header_names_are_trimmed_and_duplicates_refused() -> None:
    assert read_records(" a , b\n1,2\n", "csv").header == ("a", "b")
    err = rejected(read_records, "a,b,a\n1,2,3\n", "csv")
    assert err.rule == "wrong_format"
    assert err.column == "a"


def test_json_where_csv_expected() -> None:
    assert rejected(read_records, '{"a": 1}\n', "csv").rule == "wrong_format"


def test_json_array_elements_carry_their_line() -> None:
    text = '[\n  {"id": "a", "n": 12.50},\n  {"id": "b",\n   "n": 3},\n  7\n]\n'
    source = read_records(text, "json")
    assert source.format == JSON_ARRAY
    records = list(source.records)
    assert [(r.line, r.values, r.error is None) for r in records] == [
        (2, {"id": "a", "n": "12.50"}, True),
        (3, {"id": "b", "n": "3"}, True),
        (5, {}, False),
    ]


@pytest.mark.parametrize("text", ['[{"a": 1},]', '[{"a": 1} {"b": 2}]', '[{"a": 1}] trailing', '[{"a": 1}'])
def test_broken_json_array_is_wrong_format(text: str) -> None:
    err = rejected(lambda: list(read_records(text, "json").records))
    assert err.rule == "wrong_format"
    assert err.line == 1


def test_json_lines_keep_number_text_and_flag_bad_lines() -> None:
    text = '{"a": 1e3, "b": true, "c": null, "d": {"x": 1}}\r\n\r\n{"a": \n[1, 2]\n'
    source = read_records(text, "jsonl")
    assert source.format == JSON_LINES
    records = list(source.records)
    assert records[0].values == {"a": "1e3", "b": "true", "c": None, "d": '{"x":"1"}'}
    assert [(r.line, r.error is not None) for r in records] == [(1, False), (3, True), (4, True)]
    assert "not valid JSON" in (records[1].error or "")
    assert "array" in (records[2].error or "")


def test_json_array_for_a_json_lines_dataset_is_wrong_format() -> None:
    err = rejected(read_records, '[{"a": 1}]', "jsonl")
    assert err.rule == "wrong_format"
    assert "JSON Lines" in err.detail
