"""Versioned tables and the published snapshot: how a run writes, audits and publishes atomically.

* ``model``   -- :class:`Snapshot` (which version of every partition readers see) and
                 :class:`Changes` (what a run wrote); pure.
* ``store``   -- load and publish the snapshot on any ``Storage``, atomically, with a history.
* ``journal`` -- what each job of a run wrote, so the later steps and the publication see it.
* ``gc``      -- delete versions no snapshot reader can reach.
"""

from ecomlake.snapshots.model import (
    PARTITIONED_UNITS,
    UNITS,
    WHOLE_UNITS,
    Changes,
    Snapshot,
    SnapshotError,
    is_partitioned,
    quarantine_unit,
    table_unit,
)
from ecomlake.snapshots.store import PublishConflictError, load, load_published, publish

__all__ = [
    "PARTITIONED_UNITS",
    "UNITS",
    "WHOLE_UNITS",
    "Changes",
    "PublishConflictError",
    "Snapshot",
    "SnapshotError",
    "is_partitioned",
    "load",
    "load_published",
    "publish",
    "quarantine_unit",
    "table_unit",
]
