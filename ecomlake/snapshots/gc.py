"""Garbage collection: delete table versions that no reader can reach any more.

A version folder (``<unit>/date=D/run=R/``) is kept while the current snapshot or the one
before it names it -- a reader that resolved the previous snapshot just before a publication
can still finish. Everything else is either superseded (a newer publication replaced it) or
unpublished (a run that failed its audit, or died), and is deleted. Collection runs inside a
publication, under the lake's one-writer lock, so no other run has versions in progress.
Objects outside the version layout (raw files, whole-file quarantine copies, reports) are
never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ecomlake.contract import PARTITION_KEY, RUN_KEY
from ecomlake.snapshots.model import UNITS, Snapshot
from ecomlake.storage import Storage

_VERSION_RE: Final = re.compile(
    rf"^(?P<unit>[^/]+/[^/]+)/(?:{PARTITION_KEY}=(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/)?{RUN_KEY}=(?P<run>[^/]+)/"
)


@dataclass
class Collected:
    """What a collection found and removed."""

    deleted: list[str] = field(default_factory=list)  # version prefixes
    files: int = 0
    kept: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"versions_deleted": len(self.deleted), "files_deleted": self.files, "kept": self.kept}


def version_of(key: str) -> tuple[str, str | None, str] | None:
    """(version prefix, date, run id) of a key inside a version folder; None for any other key."""
    match = _VERSION_RE.match(key)
    if not match or match.group("unit") not in UNITS:
        return None
    return match.group(0), match.group("date"), match.group("run")


def versions(storage: Storage, units: Iterable[str] = sorted(UNITS)) -> dict[str, str]:
    """Every version folder in the store: prefix -> run id."""
    found: dict[str, str] = {}
    for unit in units:
        for key in storage.list(f"{unit}/"):
            parsed = version_of(key)
            if parsed is not None:
                found[parsed[0]] = parsed[2]
    return found


def collect(storage: Storage, current: Snapshot, previous: Snapshot | None = None) -> Collected:
    """Delete every version neither ``current`` nor ``previous`` names."""
    keep = current.referenced() | (previous.referenced() if previous else set())
    result = Collected()
    for prefix in sorted(versions(storage)):
        if prefix in keep:
            result.kept += 1
            continue
        result.files += storage.delete_prefix(prefix)
        result.deleted.append(prefix)
    return result
