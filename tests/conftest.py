"""Fixtures shared by every test suite.

Spark is expensive to start (seconds), so there is one ``local[2]`` session per test
process; tests that use it are marked ``spark`` and grouped onto one xdist worker.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO_ROOT / "tests" / "events"


@pytest.fixture(autouse=True)
def _no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: fake credentials and a fixed region for moto."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("ECOMLAKE_LAKE", raising=False)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A small local Spark session, shared by the whole test process."""
    from ecomlake.etl.engines import spark_session

    session = spark_session(app_name="ecomlake-tests", master="local[2]")
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """An empty local lake directory."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Spark tests share one JVM per worker: keep them on the same xdist worker.
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark"))
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# Rendered SQL (ecomlake.sqlcache) goes to a cache of this test process, not the user's.
if "ECOMLAKE_SQL_CACHE" not in os.environ:
    _SQL_CACHE = tempfile.mkdtemp(prefix="ecomlake-sql-")
    os.environ["ECOMLAKE_SQL_CACHE"] = _SQL_CACHE
    atexit.register(shutil.rmtree, _SQL_CACHE, True)
