"""What a local lake holds and what it is doing: the state behind ``ecomlake status``.

Everything here is read, nothing written and no lock taken: a run that starts while the
status is being read must not find the lake busy because of it. Who holds the lake comes
from what the holder wrote into the lock file (``ecomlake.local.lock``) and from its run
record; a record still ``RUNNING`` whose process is gone is shown as interrupted (the next
run marks it ``ABORTED``).

Sources, all of them the ones the pipeline itself uses:

* the published snapshot (``ecomlake.snapshots``): its sequence number, the run that
  published it and the dates it holds;
* the row-conservation summaries of the published dates (``ecomlake.runs.reports``): rows
  read, kept and quarantined per dataset;
* the landed raw files against the snapshot's record of the files each date was computed
  from (``runner.pending_reasons``): the dates ``run --pending`` would run, and why;
* the validator's reports (``_reports/validation``): the files it refused whole, which no run
  reads until a corrected copy lands;
* the run records ``_runs/<run_id>.json``, newest first.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import PARTITION_KEY, VALIDATION_PREFIX, Dataset, Zone, run_record_key
from ecomlake.exceptions import DataQualityError, LakeNotFoundError
from ecomlake.local.lock import read_holder
from ecomlake.local.runner import Status, pending_reasons, raw_dates
from ecomlake.storage import LocalStorage

INTERRUPTED: Final = "INTERRUPTED"  # shown for a RUNNING record whose process is gone
DEFAULT_RUNS: Final = 5


@dataclass(frozen=True)
class DatasetRows:
    """Rows of one dataset over the published dates: read = kept + quarantined."""

    dataset: str
    dates: int
    rows_in: int
    rows_out: int
    rows_quarantined: int


@dataclass(frozen=True)
class RunLine:
    """One run record, as the status lists it."""

    run_id: str
    status: str  # the record's, or INTERRUPTED
    dates: list[str]
    engine: str
    started_at: str
    seconds: float
    published: int | None  # the snapshot the run published
    failed_step: str | None
    cause: str | None  # the first line of the error


@dataclass(frozen=True)
class Running:
    """The run holding the lake now, as its holder wrote itself down."""

    run_id: str
    pid: int
    host: str
    since: str
    command: str


@dataclass(frozen=True)
class RejectedFile:
    """A landed file the validator refused whole, and why (the rule and where it was found)."""

    dataset: str
    date: str
    file: str
    rule: str
    detail: str


@dataclass(frozen=True)
class StoppedByGate:
    """The newest run, when its audit failed: the dates it failed (``dq --date D --run R`` shows why)."""

    run_id: str
    dates: list[str]


@dataclass(frozen=True)
class LakeStatus:
    """Everything ``ecomlake status`` shows; ``to_dict`` is its ``--format json``."""

    lake: str
    snapshot: int
    published_run: str | None
    published_at: str | None
    published_dates: list[str]
    landed_dates: list[str]
    pending: dict[str, str]  # date -> why
    running: Running | None
    datasets: list[DatasetRows] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    stopped_by_gate: StoppedByGate | None = None
    runs: list[RunLine] = field(default_factory=list)

    @property
    def next_command(self) -> str | None:
        """What to do next, as a command line (none when the lake is up to date or busy)."""
        if self.running is not None:
            return None
        if not self.landed_dates:
            return "ecomlake ingest PATH"
        if self.pending:
            return "ecomlake run --pending"
        return None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["next"] = self.next_command
        return out


def lake_status(lake: Path, *, runs: int = DEFAULT_RUNS) -> LakeStatus:
    """The state of the local lake at ``lake`` (see the module docstring); ``runs`` newest run records."""
    from ecomlake.runs.reports import published_summaries
    from ecomlake.snapshots import load_published

    root = Path(lake)
    storage = LocalStorage(root)
    snapshot = load_published(storage)
    try:
        landed = raw_dates(root)
        pending = pending_reasons(root, landed)
    except LakeNotFoundError:  # nothing landed yet
        pending, landed = {}, []
    running = _running(root)
    published_dates = sorted({day for days in snapshot.computed.values() for day in days})
    lines = [_run_line(r, running) for r in _records(root, runs)]
    return LakeStatus(
        lake=str(root),
        snapshot=snapshot.seq,
        published_run=snapshot.run_id,
        published_at=snapshot.published_at,
        published_dates=published_dates,
        landed_dates=landed,
        pending=pending,
        running=running,
        datasets=_dataset_rows(published_summaries(storage, snapshot)),
        rejected=_rejected(root),
        runs=lines,
        stopped_by_gate=_stopped_by_gate(root, lines[0] if lines else None),
    )


def failed_audits(lake: Path, run_id: str) -> list[str]:
    """The dates run ``run_id``'s audit failed: its verdict's critical failures, as the quality gate reads them.

    Empty when the run wrote no verdict (it stopped before its audit) or one that cannot be read.
    """
    from ecomlake.runs.audit import findings, read_verdict

    try:
        verdict = read_verdict(LocalStorage(Path(lake)), run_id)
    except DataQualityError:
        return []
    if verdict is None or verdict["passed"]:
        return []
    return sorted({day for day, _check, _detail in findings(verdict.get("failures"))})


def _stopped_by_gate(lake: Path, newest: RunLine | None) -> StoppedByGate | None:
    if newest is None or newest.status != Status.FAILED:
        return None
    dates = failed_audits(lake, newest.run_id)
    return StoppedByGate(newest.run_id, dates) if dates else None


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # being replaced this instant, or not a record
    return document if isinstance(document, dict) and isinstance(document.get("run_id"), str) else None


def _records(lake: Path, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` readable run records, newest first.

    Run ids start with their UTC start time, so the file names sort by age and only the
    records listed are read: a lake keeps every run's record, a year of them is thousands.
    """
    found: list[dict[str, Any]] = []
    for path in sorted((lake / Zone.RUNS).glob("*.json"), key=lambda p: p.name, reverse=True):
        if len(found) == limit:
            break
        document = _read_record(path)
        if document is not None:
            found.append(document)
    return found


def _rejected(lake: Path) -> list[RejectedFile]:
    """The files whose latest validation refused them, by dataset, date and name."""
    found = []
    for dataset in Dataset:
        folder = lake / VALIDATION_PREFIX / str(dataset)
        for path in sorted(folder.glob(f"{PARTITION_KEY}=*/*.json")):
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(report, dict) or report.get("status") != "rejected":
                continue
            rejection = report.get("rejection") or {}
            found.append(
                RejectedFile(
                    dataset=str(dataset),
                    date=path.parent.name.split("=", 1)[1],
                    file=str(report.get("file") or path.name.removesuffix(".json")),
                    rule=str(rejection.get("rule") or "unknown"),
                    detail=str(rejection.get("detail") or ""),
                )
            )
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _running(lake: Path) -> Running | None:
    """The holder of the lake, when its record says RUNNING and (on this host) its process lives."""
    holder = read_holder(lake)
    if holder is None:
        return None
    record = _read_record(Path(lake) / run_record_key(holder.run_id))
    if record is None or record.get("status") != Status.RUNNING:
        return None  # the lock file names the last holder, which has finished
    if holder.host == socket.gethostname() and not _alive(holder.pid):
        return None
    return Running(holder.run_id, holder.pid, holder.host, holder.since, holder.command)


def _run_line(record: dict[str, Any], running: Running | None) -> RunLine:
    status = str(record.get("status"))
    if status == Status.RUNNING and (running is None or running.run_id != record["run_id"]):
        status = INTERRUPTED
    error = record.get("error") or {}
    cause = str(error.get("Cause") or error.get("Error") or "").strip().splitlines()
    published = record.get("published") or {}
    return RunLine(
        run_id=str(record["run_id"]),
        status=status,
        dates=[str(d) for d in record.get("dates") or []],
        engine=str(record.get("engine") or ""),
        started_at=str(record.get("started_at") or ""),
        seconds=float(record.get("seconds") or 0.0),
        published=published.get("snapshot"),
        failed_step=record.get("failed_step"),
        cause=cause[0] if cause else None,
    )


def _dataset_rows(summaries: list[dict[str, Any]]) -> list[DatasetRows]:
    """Rows per dataset over the published dates, in the datasets' order."""
    rows = []
    for dataset in Dataset:
        mine = [s for s in summaries if s.get("dataset_or_table") == str(dataset)]
        if not mine:
            continue
        rows.append(
            DatasetRows(
                dataset=str(dataset),
                dates=len({s["date"] for s in mine}),
                rows_in=sum(int(s.get("rows_in") or 0) for s in mine),
                rows_out=sum(int(s.get("rows_out") or 0) for s in mine),
                rows_quarantined=sum(int(s.get("rows_quarantined") or 0) for s in mine),
            )
        )
    return rows
