"""The last data step of a run: make everything it wrote visible to readers at once, then tidy up.

Publication is one atomic snapshot write (``ecomlake.snapshots.store.publish``): before it,
readers resolve the previous snapshot and see none of the run; after it, all of it. Then
the publication is *finished* -- the audit's reports are copied where readers of reports
look (``_reports/dq/date=D.json``), and versions no snapshot reader can reach any more are
deleted -- steps that are idempotent and that the next run's plan repeats should a process
die between the commit and their end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecomlake.contract import dq_report_key, run_prefix
from ecomlake.exceptions import EcomlakeError
from ecomlake.snapshots import Snapshot, gc
from ecomlake.snapshots import store as snapshot_store
from ecomlake.snapshots.journal import combined_changes, read_outputs
from ecomlake.storage import Storage


class NothingToPublishError(EcomlakeError):
    """The run recorded no output: there is nothing to publish."""


def verdict_key(run_id: str) -> str:
    """Where the audit writes its verdict on a run (``ecomlake.runs.audit``)."""
    return f"{run_prefix(run_id)}audit.json"


@dataclass
class Publication:
    snapshot: Snapshot
    reports: list[str] = field(default_factory=list)
    collected: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot.seq,
            "run_id": self.snapshot.run_id,
            "published_at": self.snapshot.published_at,
            "reports": self.reports,
            "garbage": self.collected,
        }


def audit_report_key(run_id: str, day: str, ext: str = "json") -> str:
    """Where a run's audit writes a date's data-quality report before publication."""
    return f"{run_prefix(run_id)}dq/{dq_report_key(day, ext).rsplit('/', 1)[-1]}"


def finished_marker(run_id: str) -> str:
    return f"{run_prefix(run_id)}published.json"


def publish_run(storage: Storage, run_id: str, base_seq: int, *, now: datetime | None = None) -> Publication:
    """Publish what run ``run_id`` wrote on top of snapshot ``base_seq``, then finish the publication."""
    outputs = read_outputs(storage, run_id)
    if not outputs:
        raise NothingToPublishError(f"run {run_id} recorded no output; nothing to publish")
    # Publication's gate is the audit step's own check (imported here: the audit imports this module).
    from ecomlake.runs.audit import check_verdict

    check_verdict(storage, run_id)
    base = snapshot_store.load_published(storage)
    if base.seq != base_seq:
        raise snapshot_store.PublishConflictError(
            f"run {run_id} was planned on snapshot {base_seq} but snapshot {base.seq} is published now; "
            "nothing of this run was published: run it again"
        )
    snapshot = snapshot_store.publish(storage, base, combined_changes(outputs), run_id, now=now)
    return finish_publication(storage, snapshot, previous=base)


def finish_publication(storage: Storage, snapshot: Snapshot, previous: Snapshot | None = None) -> Publication:
    """Copy the publishing run's reports into place and collect garbage (idempotent)."""
    result = Publication(snapshot)
    if snapshot.run_id is None:
        return result
    prefix = f"{run_prefix(snapshot.run_id)}dq/"
    for key in storage.list(prefix):
        name = key.rsplit("/", 1)[-1]
        day_part, _, ext = name.rpartition(".")
        day = day_part.removeprefix("date=")
        target = dq_report_key(day, ext)
        storage.write_bytes(target, storage.read_bytes(key))
        result.reports.append(target)
    before = previous if previous is not None else snapshot_store.previous(storage, snapshot)
    collected = gc.collect(storage, snapshot, before)
    snapshot_store.prune_history(storage, snapshot)
    result.collected = collected.to_dict()
    storage.write_bytes(finished_marker(snapshot.run_id), (json.dumps(result.to_dict(), indent=1) + "\n").encode())
    return result


def publication_unfinished(storage: Storage, snapshot: Snapshot) -> bool:
    """Whether the publication of ``snapshot`` died between its commit and its end."""
    return snapshot.run_id is not None and not storage.exists(finished_marker(snapshot.run_id))
