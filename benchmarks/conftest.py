"""Fixtures for the pytest-benchmark suite (`make bench`; not part of `make test`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomlake.local.demo import DemoConfig, run_demo


@pytest.fixture(scope="module")
def seed_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake built once per module at the seed's scale (30 days, 100k transactions)."""
    lake = tmp_path_factory.mktemp("seed") / "lake"
    run_demo(lake, DemoConfig())
    return lake
