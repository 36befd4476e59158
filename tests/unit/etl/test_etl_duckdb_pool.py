"""The DuckDB databases a process keeps between jobs: each job starts on an empty catalog, alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecomlake.etl import duckdb_pool
from ecomlake.etl.duckdb_pool import job_session


@pytest.fixture(autouse=True)
def _no_idle_databases() -> Iterator[None]:
    """Each test starts and ends with no database kept."""
    _close_idle()
    yield
    _close_idle()


def _close_idle() -> None:
    with duckdb_pool._lock:
        while duckdb_pool._idle:
            duckdb_pool._idle.pop()[0].close()


def _database_id(session: Any) -> int:
    """An identity of the database a session works in: a table the test leaves in it (read before it is dropped)."""
    conn = session._conn
    conn.execute("CREATE TABLE IF NOT EXISTS _marker AS SELECT (random() * 1e12)::BIGINT AS id")
    return int(conn.execute("SELECT id FROM _marker").fetchone()[0])


def _user_objects(session: Any) -> list[tuple[str, str]]:
    return session._conn.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = current_database()"
    ).fetchall()


def test_a_job_after_another_gets_the_same_database_emptied() -> None:
    with job_session() as first:
        conn = first._conn
        conn.execute("CREATE TABLE kept AS SELECT * FROM range(1000)")
        conn.execute("CREATE VIEW kept_view AS SELECT * FROM kept")
        conn.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
        first_db = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert duckdb_pool.idle_count() == 0  # lent: not idle while the job runs
    assert duckdb_pool.idle_count() == 1
    with job_session() as second:
        # Nothing of the first job is seen, and sqlframe's own function could be registered again.
        assert _user_objects(second) == []
        assert second._conn.execute("SELECT soundex('Robert')").fetchone()[0] == "R163"
        assert second._conn.execute("SELECT current_setting('memory_limit')").fetchone()[0] == first_db
        assert duckdb_pool.idle_count() == 0
    assert duckdb_pool.idle_count() == 1


def test_the_same_database_is_lent_again() -> None:
    kept = []
    for _ in range(3):
        with job_session() as session:
            session._conn.execute("CREATE TABLE t AS SELECT 1")  # would fail if an earlier job's were left
        kept.append(duckdb_pool._idle[0][0])
    assert kept[0] is kept[1] is kept[2]


def test_memory_settings_are_set_again_only_when_the_environment_changed_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Setting DuckDB's memory cap makes it hand back the memory it keeps: a kept database is left as it is
    unless ``ECOMLAKE_DUCKDB_MEMORY_LIMIT`` says otherwise now."""
    from ecomlake.contract import EnvVar
    from ecomlake.etl import engines

    applied: list[str] = []
    real = engines.bound_memory
    monkeypatch.setattr(engines, "bound_memory", lambda conn, s=None: (applied.append((s or ("?",))[0]), real(conn, s)))
    monkeypatch.setenv(EnvVar.DUCKDB_MEMORY_LIMIT, "3GB")

    def limit() -> str:
        with job_session() as session:
            return str(session._conn.execute("SELECT current_setting('memory_limit')").fetchone()[0])

    first, again = limit(), limit()
    monkeypatch.setenv(EnvVar.DUCKDB_MEMORY_LIMIT, "2GB")
    changed = limit()
    assert applied == ["3GB", "2GB"]  # the new database, then the change; not the job in between
    assert first == again != changed
    assert changed.startswith("1.8")  # 2 GB in GiB, as DuckDB shows it


def test_a_failed_job_leaves_nothing_behind() -> None:
    def job() -> None:
        with job_session() as session:
            session._conn.execute("CREATE TABLE half_done AS SELECT * FROM range(10)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        job()
    assert duckdb_pool.idle_count() == 1
    with job_session() as session:
        assert _user_objects(session) == []


def test_jobs_side_by_side_get_databases_of_their_own() -> None:
    """Two jobs at once never share a database: the second one is lent none (the first holds it)."""
    started, release = threading.Barrier(2), threading.Event()
    ids: dict[str, int] = {}

    def job(name: str) -> None:
        with job_session() as session:
            session._conn.execute("CREATE TABLE mine AS SELECT 1 AS x")
            ids[name] = _database_id(session)
            started.wait(timeout=30)
            release.wait(timeout=30)
            assert session._conn.execute("SELECT count(*) FROM mine").fetchone()[0] == 1

    threads = [threading.Thread(target=job, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(timeout=60)
    assert len(ids) == 2
    assert ids["a"] != ids["b"]
    assert duckdb_pool.idle_count() == duckdb_pool.MAX_IDLE == 1  # one kept, the other closed


def test_a_database_that_cannot_be_released_cleanly_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duckdb_pool, "_release", lambda session: (session._conn.close(), False)[1])
    with job_session() as session:
        session._conn.execute("CREATE TABLE t AS SELECT 1")
    assert duckdb_pool.idle_count() == 0


def test_a_database_that_cannot_be_emptied_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    def fail(holder: Any) -> None:
        raise duckdb.CatalogException("a dependency keeps the table")

    monkeypatch.setattr(duckdb_pool, "_empty", fail)
    with job_session() as session:
        session._conn.execute("CREATE TABLE t AS SELECT 1")
    assert duckdb_pool.idle_count() == 0


def test_run_job_uses_the_pool(tmp_path: Path) -> None:
    """A job through ``run_job`` hands its database back emptied (the local runner's jobs share one)."""
    from etl_helpers import put_raw

    from ecomlake.etl import run_job

    put_raw(
        tmp_path,
        "transactions",
        "2025-01-01",
        "t.csv",
        b"transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date,status\n"
        b"T1,C1,P1,2,1.50,3.00,2025-01-01,completed\nT1,C1,P1,2,1.50,3.00,2025-01-01,completed\n",
    )
    summaries = run_job("transaction_etl", ["2025-01-01"], tmp_path, "duckdb", run_id="20250101T000000Z-00000001")
    assert [(s.rows_in, s.rows_out, s.rows_quarantined) for s in summaries] == [(2, 1, 1)]
    assert duckdb_pool.idle_count() == 1
    with job_session() as session:
        assert _user_objects(session) == []
