"""The DuckDB reader frames plain files in SQL: row for row what the framer gives, on hostile files.

Each case lands one or more raw files, reads them twice on DuckDB -- through the SQL path
(``ecomlake.etl.io.framing_duckdb``) and through the framer alone (``sql_framing=False``) --
and requires the same rows (every text column, ``_error``, ``_line``, ``_file``, ``date``),
the same rejected files, and, where the case says so, that the SQL path really took the
file (a reader that sends everything to the framer would pass the equality trivially).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from etl_helpers import put_raw

from ecomlake.contract import Dataset
from ecomlake.etl import cleaning, io
from ecomlake.etl.cleaning import PLAIN_HINT
from ecomlake.etl.io.framing_duckdb import SIMPLE_JSON_LINE, SqlFile, SqlFramer
from ecomlake.etl.io.raw import SOURCE
from ecomlake.etl.io.raw_duckdb import read_raw_duckdb, records_at
from ecomlake.ingest.framing import ordered_json_line
from ecomlake.schemas import RAW_SCHEMAS

DAY = "2025-01-01"
HEADER = "transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date,status"
ROW = "T{n},C1,P1,2,1.50,3.00,2025-01-01,completed"
CLICK = {
    "session_id": "S1",
    "customer_id": None,
    "event_type": "page_view",
    "page": "/",
    "timestamp": "2025-01-01T00:00:01Z",
    "device": "mobile",
}


def rows(n: int, start: int = 1) -> list[str]:
    return [ROW.format(n=i) for i in range(start, start + n)]


def text(*records: str, newline: str = "\n", last: bool = True) -> bytes:
    return (newline.join(records) + (newline if last else "")).encode()


def click(**changes: Any) -> str:
    return json.dumps({**CLICK, **changes})


# name -> (dataset, {file name: bytes}, files the SQL path must take itself)
CSV_CASES: dict[str, tuple[str, dict[str, bytes], set[str]]] = {
    "plain": ("transactions", {"t.csv": text(HEADER, *rows(5))}, {"t.csv"}),
    "no final line feed": ("transactions", {"t.csv": text(HEADER, *rows(3), last=False)}, {"t.csv"}),
    "CRLF, blank lines anywhere": (
        "transactions",
        {"t.csv": text("", " \t", HEADER, "", *rows(2), "\x0b\x0c ", *rows(2, 3), "", newline="\r\n")},
        {"t.csv"},
    ),
    # Lines that start below '!' but are not blank: records, malformed or not, never skipped.
    "lines starting with a control character or a space": (
        "transactions",
        {
            "t.csv": text(
                HEADER,
                "\x01T1,C1,P1,2,1.50,3.00,2025-01-01,completed",
                " T2,C1,P1,2,1.50,3.00,2025-01-01,completed",
                "\t\x0b",
                "\x1f",
                " \u00a0",
                *rows(3, 2),
            )
        },
        {"t.csv"},
    ),
    # The header and the first record of the header's width are looked for near the top first.
    "the header after many blank lines": (
        "transactions",
        {"t.csv": text(*[" "] * 40, HEADER, *rows(2))},
        {"t.csv"},
    ),
    "the first record of the header's width after many malformed ones": (
        "transactions",
        {"t.csv": text(HEADER, *["T0,C1,P1"] * 40, *rows(1), *["T9,C9"] * 3)},
        {"t.csv"},
    ),
    "only malformed records, many of them": (
        "transactions",
        {"t.csv": text(HEADER, *["T0,C1,P1"] * 40), "ok.csv": text(HEADER, *rows(2))},
        {"ok.csv"},
    ),
    "the only good record quoted, after many malformed ones": (
        "transactions",
        {"t.csv": text(HEADER, *["T0,C1,P1"] * 40, 'T1,"C1",P1,2,1.50,3.00,2025-01-01,completed')},
        {"t.csv"},
    ),
    "wrong field counts and empty fields": (
        "transactions",
        {"t.csv": text(HEADER, "T1,C1,P1,2,1,50,3.00,2025-01-01,completed", "T2,,P1,2", ",,,,,,,", *rows(2, 3))},
        {"t.csv"},
    ),
    "quoted fields on one line, doubled quotes, commas inside": (
        "transactions",
        {
            "t.csv": text(
                HEADER,
                'T1,"C,1",P1,2,"1,50",3.00,2025-01-01,"compl""eted"',
                'T2,"",P1,2,1.50,3.00,2025-01-01,completed',
                'T3,"C\r3",P1,2,1.50,3.00,2025-01-01,completed',
                *rows(2, 4),
            )
        },
        {"t.csv"},
    ),
    "quotes used wrongly on one line (an even number of them)": (
        "transactions",
        {
            "t.csv": text(
                HEADER, 'T1,C"1",P1,2,1.50,3.00,2025-01-01,completed', 'T2,"C2"x,P1', 'T3,"a""b"x', *rows(1, 4)
            )
        },
        {"t.csv"},
    ),
    "quotes used wrongly on one line (an odd number of them)": (
        "transactions",
        {"t.csv": text(HEADER, 'T1,C"1,P1,2,1.50,3.00,2025-01-01,completed', *rows(1, 4))},
        set(),
    ),
    "a quoted field over two lines": (
        "transactions",
        {"t.csv": text(HEADER, 'T1,"C\n1",P1,2,1.50,3.00,2025-01-01,completed', *rows(2, 2))},
        set(),
    ),
    "a quoted field never closed": ("transactions", {"t.csv": text(HEADER, *rows(2), 'T9,"C9,P1')}, set()),
    "header in another order, an extra column, a quoted header": (
        "transactions",
        {
            "t.csv": text(
                '"status",extra,transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date',
                "completed,x,T1,C1,P1,2,1.50,3.00,2025-01-01",
                "returned,,T2,C2,P2,1,1.00,1.00,2025-01-01",
            )
        },
        {"t.csv"},
    ),
    "blank header names": (
        "reviews",
        {
            "r.csv": text(
                "review_id,product_id,customer_id,rating,review_text,review_date, ,", "R1,P1,C1,5,ok,2025-01-01,a,b"
            )
        },
        {"r.csv"},
    ),
    "values with spaces, tabs and unicode kept as written": (
        "transactions",
        {
            "t.csv": text(
                HEADER,
                " T1 ,C1\t,P1,2, 1.50,3.00,2025-01-01,\u00a0completed\u3000",
                "T2,Cé,P✓,1,1.00,1.00,2025-01-01,refunded",
            )
        },
        {"t.csv"},
    ),
    "every record malformed": ("transactions", {"t.csv": text(HEADER, "a,b", "c,d,e")}, set()),
    "header only": ("transactions", {"t.csv": text("", HEADER, "")}, set()),
    "a required column missing": (
        "transactions",
        {"t.csv": text(HEADER.replace(",status", ""), "T1,C1,P1,2,1.50,3.00,2025-01-01")},
        set(),
    ),
    "a header name twice": ("transactions", {"t.csv": text(HEADER + ",status", *rows(1))}, set()),
    "JSON where CSV is expected": ("transactions", {"t.csv": text('{"a": 1}')}, set()),
    "a byte order mark": ("transactions", {"t.csv": b"\xef\xbb\xbf" + text(HEADER, *rows(2))}, set()),
    "a NUL byte": ("transactions", {"t.csv": text(HEADER, "T1,C\x001,P1,2,1.50,3.00,2025-01-01,completed")}, set()),
    "whitespace only": ("transactions", {"t.csv": b" \n\t\n"}, set()),
    "bare CR line ends": ("transactions", {"t.csv": text(HEADER, *rows(2), newline="\r")}, set()),
    "a ZIP signature": ("transactions", {"t.csv": b"PK\x03\x04" + text(HEADER, *rows(1))}, set()),
    "one file not UTF-8 among plain ones": (
        "transactions",
        {
            "a.csv": text(HEADER, *rows(2)),
            "b.csv": text(HEADER, "T9,caf\xe9,P1,1,1.00,1.00,2025-01-01,completed").replace(b"\xc3\xa9", b"\xe9"),
            "c.csv": text(HEADER, *rows(2, 5)),
        },
        {"a.csv", "c.csv"},
    ),
    "encoded surrogate": ("transactions", {"t.csv": text(HEADER, *rows(1)) + b"T2,C\xed\xa0\x80,P1\n"}, set()),
    "several files, several headers": (
        "transactions",
        {
            "a.csv": text(HEADER, *rows(3)),
            "b.csv": text(",".join(reversed(HEADER.split(","))), "completed,2025-01-01,3.00,1.50,2,P1,C1,T7"),
            "c.csv": text(HEADER, *rows(2, 1)),  # duplicates of a.csv: the classifier's business, not framing's
        },
        {"a.csv", "b.csv", "c.csv"},
    ),
}

JSON_CASES: dict[str, tuple[str, dict[str, bytes], set[str]]] = {
    "plain lines, nulls, unicode, CRLF, blank lines": (
        "clickstream",
        {
            "c.json": text(
                click(),
                "",
                click(session_id="S2", page="/café ✓", customer_id="C1"),
                "  \t",
                click(device=None),
                newline="\r\n",
            )
        },
        {"c.json"},
    ),
    "compact, spaced and odd spellings": (
        "clickstream",
        {
            "c.json": text(
                json.dumps(CLICK, separators=(",", ":")),
                '{ "session_id":  "S3" ,"event_type":"page_view","page":"/","timestamp":"t","device":"mobile"}',
                '{"session_id" : "S4", "event_type": "page_view", "page": "/", "timestamp": "t", "device": "mobile"}',
                '  {"session_id": "S5", "event_type": "page_view", "page": "/", "timestamp": "t", "device": "tv"}  ',
                "{}",
            )
        },
        {"c.json"},
    ),
    "values the decoder must read": (
        "clickstream",
        {
            "c.json": text(
                click(page="/a\\b"),
                click(page='say "hi"'),
                click(page="/\u00e9".encode("ascii", "backslashreplace").decode()),
                json.dumps(CLICK, ensure_ascii=True).replace("/", "\\/"),
                click(customer_id=12, device=True),
                click(customer_id={"id": "C1"}),
                click(page=["/a", "/b"]),
                click(extra="x"),
                click(timestamp=1.50),
            )
        },
        {"c.json"},
    ),
    "lines the decoder refuses": (
        "clickstream",
        {
            "c.json": text(
                click(),
                '{"session_id": "S1", "session_id": "S2", "event_type": "page_view", "page": "/", "timestamp": "t"}',
                click()[:-10],
                "{'session_id': 'S1'}",
                '{"session_id": "S1", "event_type": "x", "page": "/", "timestamp": "t",}',
                '{"session_id": "S1", "event_type": NaN, "page": "/", "timestamp": "t"}',
                '{"session_id": "S\\ud800", "event_type": "x", "page": "/", "timestamp": "t"}',
                '{"session_id": "S\x01", "event_type": "x", "page": "/", "timestamp": "t"}',
                '{"session_id": "S\t1", "event_type": "x", "page": "/", "timestamp": "t"}',
                '["S1"]',
                '"S1"',
                "42",
                "null",
            )
        },
        {"c.json"},
    ),
    "a key twice in a nested object": (
        "clickstream",
        {"c.json": text(click(), click(extra={"a": 1}).replace('"a": 1', '"a": 1, "a": 2'))},
        {"c.json"},
    ),
    "a JSON array": (
        "products",
        # Three records on one line: the framer's records, found again by their row, not their line.
        {"p.json": json.dumps([{"product_id": f"P{i}", "name": "n"} for i in range(3)]).encode()},
        set(),
    ),
    "products as JSON Lines with numbers": (
        "products",
        {
            "p.jsonl": text(
                json.dumps(
                    {"product_id": "P1", "name": "n", "category": "c", "brand": "b", "price": "1.5", "stock": "2"}
                ),
                json.dumps(
                    {"product_id": "P2", "name": "n", "category": "c", "brand": "b", "price": 12.50, "stock": 3}
                ),
                '{"product_id": "P3", "name": "n", "category": "c", "brand": "b", "price": 1e3, "stock": 007}',
            )
        },
        {"p.jsonl"},
    ),
    "a required column in no record": ("clickstream", {"c.json": text('{"session_id": "S1"}', '{"page": "/"}')}, set()),
    "every line broken": ("clickstream", {"c.json": text("{", "{'a': 1}")}, set()),
    "a JSON array for a JSON Lines dataset": ("clickstream", {"c.json": text("[", click(), "]")}, set()),
}

CASES = {**CSV_CASES, **JSON_CASES}


def land(lake: Path, dataset: str, files: dict[str, bytes]) -> list[io.RawFile]:
    return [put_raw(lake, dataset, DAY, name, files[name]) for name in sorted(files)]


def read(lake: Path, dataset: str, files: list[io.RawFile], sql: bool, threads: int = 0) -> list[tuple[Any, ...]]:
    from ecomlake.etl.engines import duckdb_session

    session = duckdb_session()
    try:
        if threads:
            session._conn.execute(f"SET threads = {threads}")
        read_raw_duckdb(session, io.LakeIO.local(lake), Dataset(dataset), files, sql_framing=sql)
        # The plain verdict is the SQL path's alone (the framer's rows leave it to the classification),
        # and a record's place is where each path keeps it.
        return session._conn.execute(
            f"SELECT * EXCLUDE ({PLAIN_HINT}, {SOURCE}) FROM raw_{dataset} ORDER BY _file, _line"
        ).fetchall()
    finally:
        session._conn.close()


def hints(lake: Path, dataset: str, files: list[io.RawFile]) -> list[tuple[bool, bool]]:
    """(the SQL framer's plain verdict, the classification's own) for every row that has the first."""
    from ecomlake.etl.engines import duckdb_session

    schema = RAW_SCHEMAS[Dataset(dataset)]
    values = ", ".join(c.name if c.required else f"coalesce({c.name}, '')" for c in schema.columns)
    pattern = cleaning.plain_row_pattern(schema)
    assert pattern is not None
    session = duckdb_session()
    try:
        read_raw_duckdb(session, io.LakeIO.local(lake), Dataset(dataset), files)
        return session._conn.execute(
            f"SELECT {PLAIN_HINT}, coalesce(regexp_matches(concat_ws(chr(1), {values}), ?), false) "
            f"FROM raw_{dataset} WHERE {PLAIN_HINT} IS NOT NULL",
            [pattern],
        ).fetchall()
    finally:
        session._conn.close()


def rejected(lake: Path, dataset: str) -> dict[str, str]:
    folder = lake / "quarantine" / dataset / f"date={DAY}"
    return {p.name: json.loads(p.read_text())["rule"] for p in sorted(folder.glob("*.reason.json"))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sql_framing_gives_the_framers_rows(tmp_path: Path, case: str) -> None:
    dataset, files, _taken = CASES[case]
    lakes = {sql: tmp_path / ("sql" if sql else "framer") for sql in (True, False)}
    found = {}
    for sql, lake in lakes.items():
        raw = land(lake, dataset, files)
        found[sql] = (read(lake, dataset, raw, sql), rejected(lake, dataset))
    assert found[True] == found[False]


@pytest.mark.parametrize("sql", [True, False], ids=["sql", "framer"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_records_are_found_again_by_their_place(tmp_path: Path, case: str, sql: bool) -> None:
    """Each record's place is its own, and the records-at view gives back exactly the records whose
    places are wanted, as the raw view has them (a JSON array's records share lines: the framer's)."""
    from ecomlake.etl.engines import duckdb_session

    dataset, files, _taken = CASES[case]
    raw = land(tmp_path, dataset, files)
    session = duckdb_session()
    conn = session._conn
    try:
        read_raw_duckdb(session, io.LakeIO.local(tmp_path), Dataset(dataset), raw, sql_framing=sql)
        places = [row[0] for row in conn.execute(f"SELECT {SOURCE} FROM raw_{dataset}").fetchall()]
        assert len(places) == len(set(places))
        assert None not in places
        at, wanted = records_at(Dataset(dataset))
        for chosen in (places, random.Random(len(places)).sample(places, len(places) // 2), []):
            conn.execute(f"DELETE FROM {wanted}")
            conn.execute(f"INSERT INTO {wanted} SELECT unnest(?::BIGINT[])", [chosen])
            expected = conn.execute(
                f"SELECT * FROM raw_{dataset} WHERE list_contains(?, {SOURCE}) ORDER BY {SOURCE}", [chosen]
            ).fetchall()
            assert conn.execute(f"SELECT * FROM {at} ORDER BY {SOURCE}").fetchall() == expected
            assert len(expected) == len(chosen)
    finally:
        conn.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_sql_framing_takes_the_plain_files_itself(tmp_path: Path, duck: Any, case: str) -> None:
    dataset, files, taken = CASES[case]
    raw = land(tmp_path, dataset, files)
    framer = SqlFramer(duck._conn, Dataset(dataset))
    plain = [SqlFile(str(tmp_path / f.key), f.key, f.date) for f in raw]
    left = {f.key.rsplit("/", 1)[-1] for f in framer.add(plain)}
    assert set(files) - left == taken


def test_simple_json_line_pattern_is_strict() -> None:
    import re

    pattern = re.compile(SIMPLE_JSON_LINE)
    assert pattern.fullmatch('{"a": "x", "b": null}')
    assert pattern.fullmatch("{}")
    for line in ('{"a": "x",}', '{"a": 1}', '{"a" : "x"}', '{"a": "x\\"y"}', '{"a": "\x01"}', '{"a": true}', "[]"):
        assert not pattern.fullmatch(line), line


def test_ordered_json_line_pattern_takes_only_plain_lines_with_every_column_once() -> None:
    # The fast path may only take what the full check takes: a plain line whose keys are the
    # columns, each once. Random lines built from keys, values and spacing, checked against
    # the definition (decoded with every pair kept).
    import json
    import re

    columns = ["a", "b", "c"]
    ordered, simple = re.compile(ordered_json_line(columns)), re.compile(SIMPLE_JSON_LINE)
    rng = random.Random(11)
    keys = ["a", "b", "c", "d", "a b", "A"]
    values = ['"x"', "null", '""', '"y, z"', "1", '"q\\"r"', "true", '"\u00e9"']
    spaces = ["", " ", "\t", "  "]
    taken = 0
    for _ in range(3000):
        chosen = rng.sample(keys, rng.randint(0, 4)) if rng.random() < 0.5 else list(columns)
        if rng.random() < 0.2 and chosen:
            chosen.append(rng.choice(chosen))
        pairs = [
            f'"{k}":{rng.choice(spaces)}{rng.choice(values[:4] if rng.random() < 0.8 else values)}' for k in chosen
        ]
        line = "{" + rng.choice(spaces) + ("," + rng.choice(spaces)).join(pairs) + rng.choice(spaces) + "}"
        if ordered.fullmatch(line):
            taken += 1
            assert simple.fullmatch(line), line
            found = [k for k, _ in json.loads(line, object_pairs_hook=lambda kv: kv)]
            assert found == columns, line
    assert taken > 300  # the common line (every column once, in order) is taken
    assert not ordered.fullmatch('{"a": "x", "c": "z", "b": "y"}')  # another order: the full check decides
    assert not ordered.fullmatch('{"a": "x", "b": "y"}')  # a column left out: likewise


def test_files_shared_between_threads_read_as_on_one(tmp_path: Path) -> None:
    """The lines of a group's files are loaded by one cursor per thread: same rows, same refusals as one thread
    and as the framer, with files the SQL path hands back (not UTF-8, a NUL byte) among them."""
    rng = random.Random(11)
    files = {
        f"f{k}.csv": text(HEADER, *(rng.choice([ROW, ROW, ROW + ",extra", " "]).format(n=i) for i in range(50 * k)))
        for k in range(1, 8)
    }
    files["latin1.csv"] = text(HEADER, ROW.format(n=1)) + "é".encode("latin-1")
    files["nul.csv"] = text(HEADER, ROW.format(n=2)).replace(b"T2", b"T\x002")
    found = {}
    for threads in (1, 3):
        lake = tmp_path / f"threads{threads}"
        raw = land(lake, "transactions", files)
        found[threads] = (read(lake, "transactions", raw, True, threads), rejected(lake, "transactions"))
    lake = tmp_path / "framer"
    found[0] = (read(lake, "transactions", land(lake, "transactions", files), False), rejected(lake, "transactions"))
    assert found[1] == found[3] == found[0]
    assert len(found[3][0]) > 1000
    assert set(found[3][1]) == {"latin1.csv.reason.json", "nul.csv.reason.json"}


def test_work_is_shared_by_size() -> None:
    from ecomlake.etl.io import framing_duckdb

    sizes = {1: 900, 2: 500, 3: 400, 4: 100}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(framing_duckdb.os.path, "getsize", lambda path: sizes[int(path)])
        fids = {fid: SqlFile(str(fid), f"k{fid}", DAY) for fid in sizes}
        parts = framing_duckdb._parts(fids, 2)
        assert [sorted(p) for p in parts] == [[1, 4], [2, 3]]  # 1000 and 900 bytes
        assert [list(p) for p in framing_duckdb._parts(fids, 8)] == [[1], [2], [3], [4]]
        assert [list(p) for p in framing_duckdb._parts(fids, 1)] == [[1, 2, 3, 4]]


def test_random_files_read_the_same_both_ways(tmp_path: Path) -> None:
    """Random transactions files built from plain and awkward pieces: the two paths agree on every one."""
    rng = random.Random(7)
    pieces = [
        lambda i: ROW.format(n=i),
        lambda i: f'T{i},"C,{i}",P1,1,"1,00",1.00,2025-01-01,completed',
        lambda i: f"T{i},C1,P1",
        lambda i: "",
        lambda i: " \t",
        lambda i: f'T{i},C"1,P1,1,1.00,1.00,2025-01-01,completed',
        lambda i: f"T{i},C1,P1,1,1.00,1.00,2025-01-01,completed,extra",
        # Records the plain match must turn down (padding, a non-ASCII end, a case) or take (a bad day).
        lambda i: f" T{i},C1 ,P1,1,1.00,1.00,2025-01-01,completed",
        lambda i: f"T{i},Cé,P1,02,1.5,3.00,2025-01-01,Completed",
        lambda i: f"T{i},C1,P1,1,1.00,1.00,2025-02-30,completed",
        lambda i: f"T{i},C\u00a0,P1,1,1.00,1.00,2025-01-01,completed",
        lambda i: f'T{i},"multi\nline",P1,1,1.00,1.00,2025-01-01,completed',
        lambda i: f"T{i},C\r1,P1,1,1.00,1.00,2025-01-01,completed",
    ]
    files = {}
    for k in range(12):
        chosen = [rng.choice(pieces[:-2] if k % 3 else pieces) for _ in range(rng.randint(1, 40))]
        newline = rng.choice(["\n", "\r\n"])
        files[f"f{k}.csv"] = text(
            HEADER, *(p(i) for i, p in enumerate(chosen)), newline=newline, last=rng.random() < 0.8
        )
    lakes = {sql: tmp_path / ("sql" if sql else "framer") for sql in (True, False)}
    found = {}
    for sql, lake in lakes.items():
        raw = land(lake, "transactions", files)
        found[sql] = (read(lake, "transactions", raw, sql), rejected(lake, "transactions"))
    assert found[True] == found[False]
    assert len(found[True][0]) > 100
    # Every line the SQL framer matched whole gets the verdict the joined values get.
    verdicts = hints(lakes[True], "transactions", land(lakes[True], "transactions", files))
    assert all(line == joined for line, joined in verdicts)
    assert {line for line, _ in verdicts} == {True, False}
