"""Fixtures for the ETL tests: a DuckDB (sqlframe) session and a generated, processed lake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from etl_helpers import land

from ecomlake.contract import JOB_INPUTS

GENERATED_DAYS = 3


@pytest.fixture
def duck() -> Iterator[Any]:
    """A fresh sqlframe session over an in-memory DuckDB database."""
    from ecomlake.etl.engines import duckdb_session

    session = duckdb_session()
    yield session
    session._conn.close()


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
