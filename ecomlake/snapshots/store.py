"""Reading and publishing the snapshot, atomically, on any ``Storage`` (a lake directory or S3).

The commit point of a publication is the creation of ``_catalog/history/<seq>.json``: a
create-if-absent write (a hard link locally, ``If-None-Match: *`` on S3), so two runs can
never both publish snapshot ``seq`` and a run that lost the race learns it. Then
``_catalog/current.json`` is overwritten with the same document, for readers. A process
killed between the two leaves a history entry newer than ``current.json``; the next
:func:`load_published` rolls forward to it, so a publication, once committed, is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ecomlake.contract import SNAPSHOT_HISTORY_PREFIX, SNAPSHOT_KEY, snapshot_history_key
from ecomlake.exceptions import EcomlakeError
from ecomlake.snapshots.model import Changes, Snapshot, SnapshotError
from ecomlake.storage import Storage

# How many published snapshots stay in the history (older ones are pruned by garbage
# collection, and so are the versions only they named).
HISTORY_KEPT = 50


class PublishConflictError(EcomlakeError):
    """Another run published first: this run's view of the lake is stale, and nothing was published."""


@dataclass(frozen=True)
class Loaded:
    """The published snapshot and how it was found."""

    snapshot: Snapshot
    source: str  # "current", "history" (rolled forward or recovered), "empty"
    note: str = ""


def _read(storage: Storage, key: str) -> Snapshot | None:
    """The snapshot at ``key``; None when it is absent or not a readable snapshot."""
    data = storage.read_optional(key)
    if data is None:
        return None
    try:
        return Snapshot.from_json(data)
    except SnapshotError:
        return None


def _history_seqs(storage: Storage) -> list[int]:
    seqs = []
    for key in storage.list(SNAPSHOT_HISTORY_PREFIX):
        stem = key.rsplit("/", 1)[-1].removesuffix(".json")
        if stem.isdigit():
            seqs.append(int(stem))
    return sorted(seqs)


def load(storage: Storage) -> Loaded:
    """The published snapshot, rolled forward past a publication interrupted after its commit.

    A missing or unreadable ``current.json`` is recovered from the newest readable history
    entry; with no history at all the lake is empty (snapshot 0).
    """
    current = _read(storage, SNAPSHOT_KEY)
    if current is not None:
        newer = current
        while (following := _read(storage, snapshot_history_key(newer.seq + 1))) is not None:
            newer = following
        if newer.seq == current.seq:
            return Loaded(current, "current")
        return Loaded(newer, "history", f"rolled forward from snapshot {current.seq} to {newer.seq}")
    for seq in reversed(_history_seqs(storage)):
        found = _read(storage, snapshot_history_key(seq))
        if found is not None:
            note = "current.json was missing or unreadable; recovered from the history"
            return Loaded(found, "history", f"{note} (snapshot {seq})")
    return Loaded(Snapshot(), "empty")


def load_published(storage: Storage) -> Snapshot:
    return load(storage).snapshot


def previous(storage: Storage, snapshot: Snapshot) -> Snapshot | None:
    """The snapshot published before ``snapshot`` (readers may still hold it), if kept."""
    if snapshot.seq <= 1:
        return None
    return _read(storage, snapshot_history_key(snapshot.seq - 1))


def publish(
    storage: Storage, base: Snapshot, changes: Changes, run_id: str, *, now: datetime | None = None
) -> Snapshot:
    """Publish ``base.overlay(changes)`` as the next snapshot; returns it.

    ``base`` must be the snapshot the run started from: if another run has published since,
    :class:`PublishConflictError` is raised and nothing changes for readers.
    """
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    new = base.overlay(changes).successor(run_id, stamp)
    body = new.to_json().encode()
    if not storage.create_bytes(snapshot_history_key(new.seq), body):
        raise PublishConflictError(
            f"snapshot {new.seq} was published by another run while run {run_id} worked; "
            "nothing of this run was published: run it again"
        )
    storage.write_bytes(SNAPSHOT_KEY, body)
    return new


def restore_current(storage: Storage, snapshot: Snapshot) -> None:
    """Rewrite ``current.json`` from a snapshot found by rolling forward or recovery."""
    storage.write_bytes(SNAPSHOT_KEY, snapshot.to_json().encode())


def prune_history(storage: Storage, snapshot: Snapshot, keep: int = HISTORY_KEPT) -> list[int]:
    """Delete history entries older than the newest ``keep``; returns the seqs deleted."""
    doomed = [seq for seq in _history_seqs(storage) if seq <= snapshot.seq - keep]
    for seq in doomed:
        storage.delete_prefix(snapshot_history_key(seq))
    return doomed
