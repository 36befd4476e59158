"""Sizes of the generated trees the foundation tests share, and a small file reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SMALL: dict[str, Any] = {
    "days": 3,
    "start": "2025-03-30",  # crosses a month end
    "transactions": 2_000,
    "products": 120,
    "clickstream": 4_000,
    "reviews": 300,
    "seed": 7,
}
FAULTY_RATE = 0.08


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under ``root``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
