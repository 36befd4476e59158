"""A run's journal: what each of its jobs wrote, so later steps and the publication can see it.

Each job of a run writes one document, ``_runs/<run_id>/outputs/<job>.json`` (written last,
after its data): the partitions it wrote or emptied (:class:`~ecomlake.snapshots.model.Changes`)
and its row-conservation summaries. The jobs of one run may run in different processes (Glue
jobs, Lambda functions, the local runner), so this document -- not memory -- is how the merge
learns what the per-dataset jobs changed, how the audit learns what to check, and how the
publication learns what to publish. A job that dies before writing it left only versions no
snapshot names, which garbage collection removes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecomlake.contract import Job, run_output_key, run_prefix
from ecomlake.snapshots.model import Changes
from ecomlake.storage import Storage

# The order outputs are folded in: a later job's version of a partition wins.
JOB_ORDER = tuple(str(j) for j in Job)


@dataclass
class JobOutput:
    """One job's contribution to a run."""

    job: str
    run_id: str
    changes: Changes = field(default_factory=Changes)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> str:
        body = {
            "job": self.job,
            "run_id": self.run_id,
            "seconds": self.seconds,
            "changes": self.changes.to_dict(),
            "summaries": self.summaries,
        }
        return json.dumps(body, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> JobOutput:
        data = json.loads(text)
        return cls(
            job=str(data["job"]),
            run_id=str(data["run_id"]),
            changes=Changes.from_dict(data.get("changes") or {}),
            summaries=list(data.get("summaries") or []),
            seconds=float(data.get("seconds") or 0.0),
        )


def write_output(storage: Storage, output: JobOutput) -> str:
    key = run_output_key(output.run_id, output.job)
    storage.write_bytes(key, output.to_json().encode())
    return key


def read_outputs(storage: Storage, run_id: str, jobs: Iterable[str] | None = None) -> list[JobOutput]:
    """The outputs the run's jobs have recorded so far, in job order."""
    wanted = None if jobs is None else {str(j) for j in jobs}
    found: dict[str, JobOutput] = {}
    for key in storage.list(f"{run_prefix(run_id)}outputs/"):
        name = key.rsplit("/", 1)[-1].removesuffix(".json")
        if wanted is not None and name not in wanted:
            continue
        found[name] = JobOutput.from_json(storage.read_bytes(key))
    return [found[j] for j in sorted(found, key=lambda n: (JOB_ORDER.index(n) if n in JOB_ORDER else 99, n))]


def combined_changes(outputs: Sequence[JobOutput]) -> Changes:
    changes = Changes()
    for output in outputs:
        changes.update(output.changes)
    return changes


def run_changes(storage: Storage, run_id: str, jobs: Iterable[str] | None = None) -> Changes:
    """Everything the run has written so far (or only ``jobs``' part of it)."""
    return combined_changes(read_outputs(storage, run_id, jobs))
