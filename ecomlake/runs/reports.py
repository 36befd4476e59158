"""What the published snapshot says about its data: row-conservation summaries and row counts.

The summaries of a date live in the journal of the run that computed it, which the snapshot
names (``Snapshot.computed``); row counts come from the Parquet footers of the versions it
names. Both describe exactly what readers see, never a run in progress or a superseded version.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from ecomlake.contract import Dataset
from ecomlake.dq.rules import job_for_dataset
from ecomlake.snapshots import UNITS, Snapshot, load_published
from ecomlake.snapshots.journal import JobOutput, read_outputs
from ecomlake.storage import LocalStorage, Storage


def published_summaries(
    storage: Storage, snapshot: Snapshot | None = None, *, datasets: tuple[Dataset, ...] = tuple(Dataset)
) -> list[dict[str, Any]]:
    """The ETL summary of every (dataset, date) the snapshot holds, in date order."""
    view = snapshot if snapshot is not None else load_published(storage)

    @cache
    def outputs(run_id: str) -> tuple[JobOutput, ...]:
        return tuple(read_outputs(storage, run_id))

    found: list[dict[str, Any]] = []
    for dataset in datasets:
        job = str(job_for_dataset(dataset))
        for day, run in sorted(view.computed.get(str(dataset), {}).items()):
            for output in outputs(run):
                if output.job == job:
                    found += [
                        s
                        for s in output.summaries
                        if s.get("dataset_or_table") == str(dataset) and s.get("date") == day
                    ]
    return sorted(found, key=lambda s: (str(s.get("date")), str(s.get("dataset_or_table"))))


def published_row_counts(lake: Path, zone: str, snapshot: Snapshot | None = None) -> dict[str, int]:
    """Rows per table (or per dataset, in quarantine) of a zone in the snapshot, from Parquet footers."""
    import duckdb

    view = snapshot if snapshot is not None else load_published(LocalStorage(Path(lake)))
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        for unit in sorted(u for u in UNITS if u.startswith(f"{zone}/")):
            files = [str(p) for _d, prefix in view.prefixes(unit) for p in (Path(lake) / prefix).glob("*.parquet")]
            if not files:
                continue
            row = con.execute("select coalesce(sum(num_rows), 0) from parquet_file_metadata(?)", [files]).fetchone()
            counts[unit.split("/", 1)[1]] = int(row[0]) if row else 0
    finally:
        con.close()
    return counts
