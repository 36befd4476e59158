"""Fixtures for the ingestion tests (sample files live in ingest_samples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    """A directory for source files, apart from the lake."""
    path = tmp_path / "incoming"
    path.mkdir()
    return path
