"""Rendering rows in the seed's raw formats and writing files.

Formats: CSV with a header (transactions.csv, reviews.csv; RFC 4180 quoting, only where
a field needs it, ``\\n`` line ends, UTF-8 without BOM), JSON Lines (clickstream.json) and
a JSON array with one object per line (products.json). Clean rows of the big datasets
are rendered column-wise from numpy arrays; a row that carries a fault is rendered from a
record (a dict of field -> value) by the general functions below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np


class Num(str):
    """A JSON number literal, written unquoted (e.g. ``Num("19.90")``)."""

    __slots__ = ()


class Malformed(str):
    """A raw line that is not a valid record at all; written as is."""

    __slots__ = ()


def money(cents: int) -> str:
    """Integer cents as a decimal with two places: 1999 -> "19.99", -305 -> "-3.05"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"


def money_column(cents: np.ndarray) -> np.ndarray:
    """``money`` over an array, formatting each distinct value once."""
    unique, inverse = np.unique(cents, return_inverse=True)
    return np.array([money(c) for c in unique.tolist()], dtype=object)[inverse.reshape(-1)]


def lookup(labels: Iterable[str], codes: np.ndarray) -> np.ndarray:
    """Strings for integer codes (enum values, precomputed ids)."""
    return np.array(list(labels), dtype=object)[codes]


_NEEDS_QUOTES = frozenset(',"\n\r')


def csv_field(value: str | None) -> str:
    if value is None:
        return ""
    if _NEEDS_QUOTES.isdisjoint(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def csv_line(record: Mapping[str, str | None]) -> str:
    return ",".join(csv_field(v) for v in record.values())


def json_value(value: str | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, Num):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def json_line(record: Mapping[str, str | None]) -> str:
    """One object, in ``json.dumps``'s default layout (``", "`` and ``": "``)."""
    return "{" + ", ".join(f"{json.dumps(k)}: {json_value(v)}" for k, v in record.items()) + "}"


def render_line(fmt: str, record: Mapping[str, str | None] | Malformed) -> str:
    if isinstance(record, Malformed):
        return str(record)
    return csv_line(record) if fmt == "csv" else json_line(record)


def assemble(fmt: str, header: Iterable[str], lines: list[str]) -> bytes:
    """The bytes of one file from its rendered rows."""
    if fmt == "csv":
        text = ",".join(header) + "\n" + "".join(f"{line}\n" for line in lines)
    elif fmt == "jsonl":
        text = "".join(f"{line}\n" for line in lines)
    else:  # JSON array, one element per line
        text = "[\n" + ",\n".join(lines) + "\n]\n"
    return text.encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    """Write then rename, so a reader (or an interrupted run) never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def clear_previous(out_dir: Path, file_names: Mapping[str, str]) -> None:
    """Remove what an earlier run wrote (``<dataset>/date=*/<file>``), and nothing else."""
    for dataset, name in file_names.items():
        base = out_dir / dataset
        if not base.is_dir():
            continue
        for part in sorted(base.glob("date=*")):
            target = part / name
            if target.is_file():
                target.unlink()
            if part.is_dir() and not any(part.iterdir()):
                part.rmdir()
