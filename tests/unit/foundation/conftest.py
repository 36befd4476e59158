"""Generated trees shared by the generator tests: small, so the whole folder runs in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from foundation_trees import FAULTY_RATE, SMALL

from ecomlake.generate import generate


@pytest.fixture(scope="session")
def clean_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A generated tree without faults, and its manifest."""
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, **SMALL)


@pytest.fixture(scope="session")
def faulty_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The same world with 8 % of the rows of every dataset faulted."""
    out = tmp_path_factory.mktemp("faulty")
    return out, generate(out, **SMALL, bad_rate=FAULTY_RATE)
