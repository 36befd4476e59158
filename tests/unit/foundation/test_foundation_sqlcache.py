"""The on-disk cache of rendered SQL: served only to the code that rendered it, never in the way."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ecomlake import sqlcache
from ecomlake.contract import Dataset
from ecomlake.etl import clean_duckdb
from ecomlake.ingest import classifier


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sql-cache"
    monkeypatch.setenv(sqlcache.ENV, str(root))
    return root


def _counting(name: str = "toy"):
    calls: list[str] = []

    @sqlcache.disk_cached(name, str, str)
    def render(arg: str) -> str:
        calls.append(arg)
        return f"SELECT '{arg}'"

    return render, calls


def test_second_call_is_read_from_disk(cache: Path) -> None:
    render, calls = _counting()
    assert render("a b") == "SELECT 'a b'"
    assert render("a b") == "SELECT 'a b'"
    assert calls == ["a b"]
    entry = cache / sqlcache.fingerprint() / "toy-a_b.json"
    assert json.loads(entry.read_text()) == "SELECT 'a b'"
    assert [p.name for p in entry.parent.iterdir()] == ["toy-a_b.json"]  # no temporary file left


def test_an_unreadable_entry_is_rendered_again_and_rewritten(cache: Path) -> None:
    render, calls = _counting()
    render("x")
    entry = cache / sqlcache.fingerprint() / "toy-x.json"
    entry.write_text('{"half')
    assert render("x") == "SELECT 'x'"
    assert calls == ["x", "x"]
    assert json.loads(entry.read_text()) == "SELECT 'x'"


def test_off_never_touches_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sqlcache.ENV, "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    render, calls = _counting()
    render("x")
    render("x")
    assert calls == ["x", "x"]
    assert list(tmp_path.iterdir()) == []


def test_a_cache_that_cannot_be_written_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(sqlcache.ENV, str(blocker / "sql"))
    render, calls = _counting()
    assert render("x") == "SELECT 'x'"
    assert render("x") == "SELECT 'x'"
    assert calls == ["x", "x"]
    assert blocker.read_text() == "not a folder"


def test_another_fingerprint_never_reads_this_ones_entries(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    render, calls = _counting()
    render("x")
    monkeypatch.setattr(sqlcache, "fingerprint", lambda: "other-code")
    assert render("x") == "SELECT 'x'"
    assert calls == ["x", "x"]
    assert (cache / "other-code" / "toy-x.json").is_file()


def test_the_fingerprint_follows_every_source_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("A = 1\n")
    (package / "sub" / "b.py").write_text("B = 1\n")
    monkeypatch.setattr(sqlcache, "_PACKAGE", package)

    def current() -> str | None:
        sqlcache.fingerprint.cache_clear()
        return sqlcache.fingerprint()

    try:
        first = current()
        assert first is not None
        assert len(first) == 20
        assert current() == first
        (package / "sub" / "b.py").write_text("B = 2\n")
        second = current()
        assert second != first
        (package / "sub" / "c.py").write_text("")
        assert current() not in (first, second)
        # The local-only tools render nothing and do not ship to Lambda: outside the digest, so the
        # functions find the SQL rendered when they were packaged (components.packaging.rendered_sql).
        shipped = current()
        (package / "local").mkdir()
        (package / "local" / "bench.py").write_text("X = 1\n")
        assert current() == shipped
        (package / "localish.py").write_text("")
        assert current() != shipped
        second = current()
        monkeypatch.setattr(sqlcache, "_version", lambda name: "99" if name == "sqlglot" else "1")
        third = current()
        assert third not in (first, second)
        monkeypatch.setattr(sqlcache, "_version", lambda name: "99" if name in ("sqlglot", "duckdb") else "1")
        assert current() not in (first, second, third)  # DuckDB's catalog types reach the merge's queries
        monkeypatch.setattr(sqlcache, "_PACKAGE", tmp_path / "nothing-here")
        assert current() is None
    finally:
        sqlcache.fingerprint.cache_clear()


def test_folders_of_old_fingerprints_are_removed_after_a_week(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, recent = cache / "old-code", cache / "recent-code"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "toy-x.json").write_text('"SELECT 1"')
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (week_ago, week_ago))
    render, _ = _counting()
    render("x")
    assert sorted(p.name for p in cache.iterdir()) == sorted([sqlcache.fingerprint(), "recent-code"])


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"ECOMLAKE_SQL_CACHE": "off", "HOME": "/h"}, None),
        ({"ECOMLAKE_SQL_CACHE": "OFF"}, None),
        ({"ECOMLAKE_SQL_CACHE": "/c/sql", "HOME": "/h"}, Path("/c/sql")),
        ({"XDG_CACHE_HOME": "/x", "HOME": "/h"}, Path("/x/ecomlake/sql")),
        ({"HOME": "/h"}, Path("/h/.cache/ecomlake/sql")),
        ({}, None),
    ],
)
def test_where_the_cache_lives(environ: dict[str, str], expected: Path | None) -> None:
    assert sqlcache.cache_dir(environ) == expected


@pytest.mark.parametrize("dataset", list(Dataset))
def test_every_cached_rendering_reads_back_equal_to_a_fresh_one(cache: Path, dataset: Dataset) -> None:
    # functools.cache wraps the disk cache, which wraps the renderer.
    for function in (classifier.compiled, classifier._duplicates_sql, clean_duckdb.dataset_sql):
        on_disk = function.__wrapped__
        fresh = on_disk.__wrapped__(dataset)
        assert on_disk(dataset) == fresh  # rendered and written
        assert on_disk(dataset) == fresh  # read back
    names = sorted(p.name for p in (cache / sqlcache.fingerprint()).iterdir())
    assert names == sorted(
        f"{kind}-{dataset}.json" for kind in ("validator-rules", "validator-duplicates", "etl-statements")
    )


def test_threads_rendering_the_same_entry_at_once_leave_one_whole_file(cache: Path) -> None:
    import threading

    started = threading.Barrier(8)

    @sqlcache.disk_cached("race", str, str)
    def render(arg: str) -> str:
        started.wait()  # every thread renders before any has written
        return "SELECT " + "x, " * 5000 + arg

    found: list[str] = []
    threads = [threading.Thread(target=lambda: found.append(render("1"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = "SELECT " + "x, " * 5000 + "1"
    assert found == [expected] * 8
    folder = cache / sqlcache.fingerprint()
    assert [p.name for p in folder.iterdir()] == ["race-1.json"]
    assert json.loads((folder / "race-1.json").read_text()) == expected


def test_the_state_says_off_cold_or_warm(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlcache.state() == "cold"
    render, _ = _counting()
    render("x")
    assert sqlcache.state() == "warm"
    monkeypatch.setenv(sqlcache.ENV, "off")
    assert sqlcache.state() == "off"
