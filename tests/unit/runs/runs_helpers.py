"""Shared by the run tests: a generated source tree with cross-date duplicates, and lake fingerprints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from ecomlake.catalog import connect
from ecomlake.contract import Dataset, Table
from ecomlake.snapshots import load_published, quarantine_unit
from ecomlake.snapshots.gc import versions
from ecomlake.storage import LocalStorage

DAYS = 4
START = "2025-01-01"


def generated_source(root: Path, *, seed: int = 5) -> Path:
    """A small generated tree (faults included) plus transactions repeated on a later date."""
    from ecomlake.generate import generate

    source = root / "source"
    generate(
        source,
        days=DAYS,
        start=START,
        transactions=1_200,
        products=40,
        clickstream=1_200,
        reviews=120,
        seed=seed,
        bad_rate=0.03,
    )
    # The same transactions land again two days later: a key unique in the whole lake, seen twice.
    first = source / "transactions" / "date=2025-01-01" / "transactions.csv"
    later = source / "transactions" / "date=2025-01-03" / "transactions.csv"
    repeated = first.read_text().splitlines()[1:6]
    later.write_text(later.read_text() + "\n".join(repeated) + "\n")
    return source


def source_files(source: Path) -> list[tuple[str, str, Path]]:
    """(dataset, date, file) of every landed-to-be file, in a stable order."""
    return sorted(
        (ds.name, part.name.split("=", 1)[1], f)
        for ds in source.iterdir()
        if ds.is_dir()
        for part in ds.iterdir()
        for f in part.iterdir()
    )


def fingerprint(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every published table and every dataset's quarantined rows, rows sorted, floats to 6 places."""

    def norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows), key=repr)

    con = connect(lake)
    out = {str(t): norm(con.execute(f'select * from "{t}"').fetchall()) for t in Table}
    con.close()
    snapshot = load_published(LocalStorage(lake))
    for dataset in Dataset:
        files = [
            str(p) for _d, prefix in snapshot.prefixes(quarantine_unit(dataset)) for p in (lake / prefix).glob("*")
        ]
        rows = duckdb.sql(f"select * from read_parquet({files}, hive_partitioning=false)").fetchall() if files else []
        out[f"quarantine/{dataset}"] = norm(rows)
    return out


def assert_same_lake(got: Path, expected: Path) -> None:
    a, b = fingerprint(got), fingerprint(expected)
    assert a.keys() == b.keys()
    different = [name for name in a if a[name] != b[name]]
    assert not different, f"tables differ from the backfill: {different}"
    assert all(b[t] for t in ("transactions", "fact_sales", "dim_customers", "daily_kpis"))


def unreferenced_versions(lake: Path) -> list[str]:
    """Version folders that neither the current nor the previous snapshot names (garbage left behind)."""
    from ecomlake.snapshots.store import load_published as current
    from ecomlake.snapshots.store import previous

    storage = LocalStorage(lake)
    now = current(storage)
    before = previous(storage, now)
    keep = now.referenced() | (before.referenced() if before else set())
    return sorted(p for p in versions(storage) if p not in keep)


CLI = [sys.executable, "-c", "import sys; from ecomlake.cli import main; sys.exit(main())"]


def start_cli(*args: str) -> subprocess.Popen[bytes]:
    """``ecomlake <args>`` as a real process, its output captured."""
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
