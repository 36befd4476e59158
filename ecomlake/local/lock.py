"""One writer per local lake: an advisory file lock held for the whole of a run.

``fcntl.flock`` on ``<lake>/_runs/.lock``: the kernel releases it when the holding process
exits, however it exits (``kill -9`` included), so a crashed run never leaves the lake
locked. The holder writes who it is into the file (run id, pid, host, command, since when),
so a second run that finds the lake busy says who holds it -- after waiting ``wait`` seconds
if asked to. Readers (queries, the dashboard, ``dq``) take no lock: they read the published
snapshot, which a run replaces atomically.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from ecomlake.contract import Zone
from ecomlake.exceptions import EcomlakeError

LOCK_FILE: Final = f"{Zone.RUNS}/.lock"
POLL_SECONDS: Final = 0.2


class LakeLockedError(EcomlakeError):
    """Another run holds the lake."""


class LakeNotWritableError(EcomlakeError):
    """The lake cannot be written (read-only, permissions): no run can start."""


@dataclass(frozen=True)
class Holder:
    run_id: str
    pid: int
    host: str
    since: str
    command: str

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.since}: {self.command})"


def read_holder(lake: Path) -> Holder | None:
    """Who holds (or last held) the lake's lock, as it wrote itself down."""
    try:
        data: dict[str, Any] = json.loads((Path(lake) / LOCK_FILE).read_text(encoding="utf-8"))
        return Holder(**{k: data[k] for k in Holder.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LakeLock:
    """``with LakeLock(lake, run_id, wait=600): ...`` -- exclusive, or LakeLockedError after ``wait`` seconds."""

    def __init__(self, lake: Path, run_id: str, *, wait: float = 0.0) -> None:
        if wait < 0:
            raise ValueError("wait must be >= 0 seconds")
        self.path = Path(lake) / LOCK_FILE
        self.run_id, self.wait = run_id, wait
        self._fd: int | None = None

    def acquire(self) -> LakeLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise LakeNotWritableError(f"cannot lock the lake at {self.path.parent.parent}: {_why(err)}") from None
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    holder = read_holder(self.path.parent.parent)
                    who = holder.describe() if holder else "another process"
                    hint = f"waited {self.wait:g} s; " if self.wait else ""
                    raise LakeLockedError(
                        f"the lake is locked by {who}; {hint}wait for it, or pass --wait SECONDS to queue behind it"
                    ) from None
                time.sleep(POLL_SECONDS)
        holder = Holder(
            run_id=self.run_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            command=" ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200],
        )
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder.__dict__) + "\n").encode(), 0)
        except OSError as err:
            os.close(fd)
            raise LakeNotWritableError(f"cannot write to the lake at {self.path.parent.parent}: {_why(err)}") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LakeLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _why(err: OSError) -> str:
    if err.errno in (errno.EROFS,):
        return "the file system is read-only"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    return err.strerror or str(err)
