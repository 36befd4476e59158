"""Repository files that point at other files point at ones that exist; packaging metadata is current."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC_PATH = re.compile(r"\b(docs/[\w./-]+\.md)\b")


@pytest.mark.parametrize("stack_file", ["Pulumi.dev.yaml", "Pulumi.prod.yaml"])
def test_stack_files_point_at_existing_docs(stack_file):
    text = (ROOT / stack_file).read_text(encoding="utf-8")
    pointers = DOC_PATH.findall(text)
    assert pointers, f"{stack_file} should say where its keys are documented"
    for rel in pointers:
        assert (ROOT / rel).is_file(), f"{stack_file} points at {rel}, which does not exist"
    # The page it points at documents the configuration keys it names.
    assert "### Configuration keys" in (ROOT / "docs/infrastructure.md").read_text(encoding="utf-8")


def test_licence_is_an_spdx_expression_with_its_files():
    # A TOML table here makes setuptools >= 77 print a deprecation warning on every install.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    for rel in project["license-files"]:
        assert (ROOT / rel).is_file(), rel
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    setuptools_pin = next(r for r in requires if r.startswith("setuptools"))
    major = int(re.match(r"setuptools==(\d+)\.", setuptools_pin).group(1))
    assert major >= 77  # SPDX license strings and license-files need setuptools 77
