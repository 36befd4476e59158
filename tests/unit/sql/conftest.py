"""Fixtures for the SQL tests: one small curated/processed lake per test process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqltestlake import build_lake, read_table

from ecomlake.contract import Table


@pytest.fixture(scope="session")
def sql_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test lake. Read-only: tests that change files work on a copy."""
    return build_lake(tmp_path_factory.mktemp("sql") / "lake")


@pytest.fixture(scope="session")
def frames(sql_lake: Path) -> dict[str, pd.DataFrame]:
    """Every table of the test lake as pandas, read from the files without DuckDB."""
    return {str(t): read_table(sql_lake, t) for t in Table}
