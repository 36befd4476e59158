"""Landing files in the local lake: copy into raw, validate, route -- what S3 + the two
Lambda functions do in the cloud, in one call.

Raw stays immutable locally too: landing the same bytes again is a no-op, and a *different*
file is never written over a landed one unless the caller asks (``replace=True``; the
``ingest --replace`` flag), which is what re-uploading an object to a versioned bucket does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ecomlake.contract import PARTITION_KEY, Dataset, parse_dataset, parse_date, raw_key
from ecomlake.exceptions import InvalidArgumentError, InvalidKeyError
from ecomlake.ingest.report import ValidationReport
from ecomlake.ingest.router import Route, Trigger, pipeline_input, route_key
from ecomlake.ingest.validator import validate_object
from ecomlake.storage import LocalStorage


@dataclass
class IngestResult:
    """One landed file: where it went, what the validator said, and the pipeline-start event."""

    source: Path | None
    key: str
    dataset: str
    date: str
    file: str
    report: ValidationReport
    event: dict[str, Any] | None  # pipeline input for an accepted file, None when rejected
    copied: bool  # False when the identical bytes were already in raw

    @property
    def status(self) -> str:
        return self.report.status

    @property
    def rejected(self) -> bool:
        return self.report.rejected

    @property
    def accepted(self) -> bool:
        return self.report.accepted

    @property
    def rows(self) -> int:
        return self.report.rows

    @property
    def fault_rows(self) -> int:
        return self.report.fault_rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": None if self.source is None else str(self.source),
            "key": self.key,
            "dataset": self.dataset,
            "date": self.date,
            "file": self.file,
            "copied": self.copied,
            "event": self.event,
            "report": self.report.to_dict(),
        }


_COPY_BYTES = 4 * 1024 * 1024


def _land(source: Path, target: Path) -> tuple[str, bool]:
    """Copy ``source`` to ``target`` in chunks (memory stays flat whatever the size); its MD5, and
    whether bytes were written (identical bytes already landed are left alone).

    The MD5 is the ETag S3 gives a single-part upload, so local and cloud runs name executions alike.
    """
    digest = hashlib.md5(usedforsecurity=False)
    if target.is_file() and _same_file(target, source):
        with source.open("rb") as src:
            while block := src.read(_COPY_BYTES):
                digest.update(block)
        return digest.hexdigest(), False
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file.
    tmp = target.with_name(f".{target.name}.tmp")
    with source.open("rb") as src, tmp.open("wb") as dst:
        while block := src.read(_COPY_BYTES):
            digest.update(block)
            dst.write(block)
    tmp.replace(target)
    return digest.hexdigest(), True


def _plan(storage: LocalStorage, files: Iterable[Path | str], dataset: Dataset, day: str, replace: bool) -> list:
    """Check every argument before anything is written, so a bad call lands nothing."""
    plan: list[tuple[Path, Route]] = []
    names: dict[str, Path] = {}
    for item in files:
        path = Path(item)
        if not path.is_file():
            raise InvalidArgumentError(f"no such file: {path}")
        if path.name in names:
            raise InvalidArgumentError(
                f"two files named {path.name!r} ({names[path.name]}, {path}); land one at a time"
            )
        names[path.name] = path
        route = route_key(raw_key(dataset, day, path.name))
        target = storage.path(route.key)
        if not replace and target.is_file() and not _same_file(target, path):
            raise InvalidArgumentError(
                f"{route.key} already holds a different file; raw files are not overwritten "
                "(land it under another name, or pass --replace)"
            )
        plan.append((path, route))
    if not plan:
        raise InvalidArgumentError("no files to ingest")
    return plan


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            block = fa.read(_COPY_BYTES)
            if block != fb.read(_COPY_BYTES):
                return False
            if not block:
                return True


def ingest_files(
    lake: Path,
    files: Iterable[Path | str],
    dataset: Dataset | str,
    day: str,
    *,
    replace: bool = False,
    max_bytes: int | None = None,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Land ``files`` as ``raw/<dataset>/date=<day>/<basename>`` in ``lake``; validate and route each.

    Sources are only read. Raises ``UnknownDatasetError`` / ``InvalidDateError`` /
    ``InvalidArgumentError`` / ``InvalidKeyError`` before landing anything when an argument
    is wrong; a file the validator rejects is landed, quarantined and reported (``rejected``).
    """
    ds = parse_dataset(str(dataset))
    day = parse_date(day)
    storage = LocalStorage(Path(lake))
    results: list[IngestResult] = []
    for path, route in _plan(storage, files, ds, day, replace):
        etag, copied = _land(path, storage.path(route.key))
        # Validated from the landed copy, streamed: the file is never held in memory whole.
        report = validate_object(storage, route.key, etag=etag, max_bytes=max_bytes, now=now)
        event = None
        if report.accepted:
            event = pipeline_input(route, Trigger(route.key, etag=etag, size=report.size))
        results.append(IngestResult(path, route.key, ds.value, day, route.file_name, report, event, copied))
    return results


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def land_tree(lake: Path, src_dir: Path, *, replace: bool = True, max_bytes: int | None = None) -> list[IngestResult]:
    """Land a generator output tree ``<src>/<dataset>/date=D/<file>`` (``ecomlake demo``, ``bench``).

    Files at the top of the tree (``manifest.json``) and names starting with ``.`` or ``_``
    are not data and are skipped. A regenerated tree replaces what it landed before.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise InvalidArgumentError(f"no such directory: {src}")
    batches: list[tuple[list[Path], Dataset, str]] = []
    for dataset_dir in sorted(p for p in src.iterdir() if p.is_dir() and _visible(p)):
        dataset = parse_dataset(dataset_dir.name)
        for partition in sorted(p for p in dataset_dir.iterdir() if _visible(p)):
            name, sep, day = partition.name.partition("=")
            if not partition.is_dir() or name != PARTITION_KEY or not sep:
                raise InvalidKeyError(f"{partition}: expected only {PARTITION_KEY}=YYYY-MM-DD folders in {dataset_dir}")
            files = sorted(p for p in partition.iterdir() if p.is_file() and _visible(p))
            if files:
                batches.append((files, dataset, parse_date(day)))

    jobs = [(lake, files, dataset, day, replace, max_bytes) for files, dataset, day in batches]
    workers = _landing_workers(batches)
    if workers <= 1:
        return [result for job in jobs for result in _land_batch(*job)]
    # Each partition is validated independently and writes only its own keys, so big trees
    # are landed by one process per core; results keep the tree's order.
    # The platform's default start method (fork on Linux): workers only read files and
    # write their own keys, so they never touch DuckDB or JVM state the caller may hold.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [result for results in pool.map(_land_batch, *zip(*jobs, strict=True)) for result in results]


def _land_batch(
    lake: Path, files: list[Path], dataset: Dataset, day: str, replace: bool, max_bytes: int | None
) -> list[IngestResult]:
    return ingest_files(lake, files, dataset, day, replace=replace, max_bytes=max_bytes)


# Below this much data, starting worker processes costs more than it saves.
PARALLEL_LANDING_BYTES = 64 * 1024 * 1024


def _landing_workers(batches: list[tuple[list[Path], Dataset, str]]) -> int:
    total = sum(f.stat().st_size for files, _, _ in batches for f in files)
    if total < PARALLEL_LANDING_BYTES or len(batches) < 2:
        return 1
    return min(os.cpu_count() or 1, len(batches))
