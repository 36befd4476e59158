"""Row-conservation summaries: what each job read, wrote and quarantined per date.

One JSON file per job and date at ``contract.run_summary_key(job, date)`` holds a list of
:class:`RunSummary` dicts, one per dataset (per-dataset jobs) or table (derived tables).
The data-quality step reads them to prove that nothing was lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ecomlake.contract import run_summary_key
from ecomlake.storage import Storage


@dataclass
class RunSummary:
    """Counts for one dataset (or derived table) and one date.

    Invariant: ``rows_in == rows_out + rows_quarantined``. Duplicates are quarantined with
    reason ``duplicate_key``, so they are inside ``rows_quarantined`` and are also counted
    on their own in ``duplicates_dropped``. For derived tables (sessions, curated marts)
    nothing is quarantined and ``rows_in`` is the number of rows built.
    """

    job: str
    dataset_or_table: str
    date: str
    rows_in: int
    rows_out: int
    rows_quarantined: int
    duplicates_dropped: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    engine: str = "duckdb"
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        return self.rows_in == self.rows_out + self.rows_quarantined

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["quarantined_by_reason"] = dict(sorted(self.quarantined_by_reason.items()))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def write_summaries(storage: Storage, summaries: Iterable[RunSummary]) -> list[str]:
    """Persist summaries grouped by (job, date); returns the keys written."""
    grouped: dict[tuple[str, str], list[RunSummary]] = {}
    for summary in summaries:
        grouped.setdefault((summary.job, summary.date), []).append(summary)
    keys = []
    for (job, day), items in sorted(grouped.items()):
        key = run_summary_key(job, day)
        body = [s.to_dict() for s in sorted(items, key=lambda s: s.dataset_or_table)]
        storage.write_bytes(key, (json.dumps(body, indent=2) + "\n").encode())
        keys.append(key)
    return keys


def read_summaries(storage: Storage, job: str, day: str) -> list[RunSummary]:
    """The summaries a job wrote for a date (empty when it has not run)."""
    key = run_summary_key(job, day)
    data = storage.read_optional(key)
    if data is None:
        return []
    return [RunSummary.from_dict(item) for item in json.loads(data)]
