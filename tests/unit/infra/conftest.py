"""Fixtures: the Pulumi program run once per stack (dev, prod) under mocks; see infra_harness.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_harness import STACKS, ProgramRun, fake_layers, run_program


@pytest.fixture(scope="session")
def layers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_layers(tmp_path_factory.mktemp("layers"))


@pytest.fixture(scope="session")
def programs(layers_dir: Path) -> dict[str, ProgramRun]:
    """The program run once for each stack (the runs take a few seconds; share them)."""
    return {stack: run_program(stack, layers_dir) for stack in STACKS}


@pytest.fixture(params=STACKS)
def run(request: pytest.FixtureRequest, programs: dict[str, ProgramRun]) -> ProgramRun:
    return programs[request.param]
