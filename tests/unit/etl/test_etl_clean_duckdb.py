"""The DuckDB job's duplicate search on a hand-made classified table: exact keys decide, not their hash."""

from __future__ import annotations

from typing import Any

import pytest

from ecomlake.contract import Dataset
from ecomlake.etl import clean_duckdb

# (date, file, line, key, valid): T1 twice on one date (the later line loses), T2 across dates (the later
# date loses, lake-keyed), T3 once, T4 twice but once invalid (no duplicate: only valid rows claim a key),
# T5 in two files of one date (the file whose key sorts later loses, whatever the lines).
ROWS = [
    ("2025-01-02", "raw/b.csv", 3, "T1", True),
    ("2025-01-02", "raw/b.csv", 2, "T1", True),
    ("2025-01-01", "raw/a.csv", 9, "T2", True),
    ("2025-01-02", "raw/a.csv", 1, "T2", True),
    ("2025-01-02", "raw/b.csv", 4, "T3", True),
    ("2025-01-02", "raw/b.csv", 5, "T4", False),
    ("2025-01-02", "raw/b.csv", 6, "T4", True),
    ("2025-01-02", "raw/b.csv", 1, "T5", True),
    ("2025-01-02", "raw/a.csv", 7, "T5", True),
]


def _classified(duck: Any, same_hash: bool) -> Any:
    conn = duck._conn
    conn.execute(
        'CREATE OR REPLACE TABLE "_c_transactions" ("date" VARCHAR, _file VARCHAR, _line BIGINT, _order BIGINT, '
        '"_t_transaction_id" VARCHAR, _stateless VARCHAR, _key_hash UBIGINT)'
    )
    # The order is (the file's rank among the files' keys, the line), as the classification writes it.
    ranks = {file: rank for rank, file in enumerate(sorted({row[1] for row in ROWS}))}
    for day, file, line, key, valid in ROWS:
        conn.execute(
            'INSERT INTO "_c_transactions" VALUES (?, ?, ?, (?::BIGINT << 32) + ?, ?, ?, '
            "CASE WHEN ? THEN 7 ELSE hash(?) END)",
            [day, file, line, ranks[file], line, key, None if valid else "bad_number", same_hash, key],
        )
    return conn


def _duplicates(conn: Any, claims: bool) -> list[tuple[str, int, str]]:
    sql = clean_duckdb.duplicates_sql(Dataset.TRANSACTIONS, claims=claims)
    return conn.execute(
        f'SELECT c._file, c._line, d._first FROM ({sql}) d JOIN "_c_transactions" c ON c.rowid = d._rid ORDER BY 1, 2'
    ).fetchall()


@pytest.mark.parametrize("same_hash", [False, True], ids=["real hashes", "every key one hash"])
def test_duplicates_are_found_by_the_key_whatever_the_hash(duck: Any, same_hash: bool) -> None:
    conn = _classified(duck, same_hash)
    assert _duplicates(conn, claims=False) == [
        ("raw/a.csv", 1, "2025-01-01"),
        ("raw/b.csv", 1, "2025-01-02"),
        ("raw/b.csv", 3, "2025-01-02"),
    ]


@pytest.mark.parametrize("same_hash", [False, True], ids=["real hashes", "every key one hash"])
def test_a_published_claim_makes_the_runs_row_a_duplicate(duck: Any, same_hash: bool) -> None:
    """T3 was published on an earlier date: the run's only T3 is now a duplicate of it; T9's claim matches nothing."""
    conn = _classified(duck, same_hash)
    conn.execute(
        'CREATE OR REPLACE VIEW "_claims_transactions" AS SELECT * FROM (VALUES '
        "('T3', '2024-12-31'), ('T9', '2024-12-30')) v(\"_key0\", \"date\")"
    )
    assert _duplicates(conn, claims=True) == [
        ("raw/a.csv", 1, "2025-01-01"),
        ("raw/b.csv", 1, "2025-01-02"),
        ("raw/b.csv", 3, "2025-01-02"),
        ("raw/b.csv", 4, "2024-12-31"),
    ]
