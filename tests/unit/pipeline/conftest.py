"""Fixtures for the pipeline tests."""

from __future__ import annotations

import pytest
from pipeline_fakes import Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sleeps() -> list[float]:
    """Collects the retry waits instead of sleeping."""
    return []
