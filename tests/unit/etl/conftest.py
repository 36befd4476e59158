"""Fixtures for the ETL tests: a DuckDB (sqlframe) session and a generated, processed lake."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecomlake.contract import JOB_INPUTS

GENERATED_DAYS = 3


@pytest.fixture
def duck() -> Iterator[Any]:
    """A fresh sqlframe session over an in-memory DuckDB database."""
    from ecomlake.etl.engines import duckdb_session

    session = duckdb_session()
    yield session
    session._conn.close()


def land(source: Path, lake: Path) -> list[str]:
    """Copy a generator tree into the lake's raw zone as it is; returns the dates found."""
    shutil.copytree(source, lake / "raw", ignore=shutil.ignore_patterns("manifest.json"), dirs_exist_ok=True)
    return sorted({p.name.split("=", 1)[1] for p in (lake / "raw").glob("*/date=*")})


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small generated lake with 5% bad rows, landed and run through every job (DuckDB)."""
    from ecomlake.generate import generate
    from tests.lakeruns import run_jobs

    root = tmp_path_factory.mktemp("etl-generated")
    manifest = generate(
        root / "source",
        days=GENERATED_DAYS,
        transactions=1500,
        products=40,
        clickstream=1500,
        reviews=300,
        seed=11,
        bad_rate=0.05,
    )
    lake = root / "lake"
    dates = land(root / "source", lake)
    summaries = run_jobs(lake, dates, (*JOB_INPUTS,), run_id="generated")
    return {"manifest": manifest, "lake": lake, "dates": dates, "summaries": summaries, "source": root / "source"}
