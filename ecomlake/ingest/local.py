"""Landing files in the local lake: copy into raw, validate, route -- what S3 + the two
Lambda functions do in the cloud, in one call.

Raw stays immutable locally too: landing the same bytes again is a no-op, and a *different*
file is never written over a landed one unless the caller asks (``replace=True``; the
``ingest --replace`` flag), which is what re-uploading an object to a versioned bucket does.

``collect`` turns what a user points at -- files, a generator tree, a dataset folder, a
partition folder -- into partitions to land, reading dataset and date from the generator's
layout (``<dataset>/date=YYYY-MM-DD/<file>``). Symbolic links are refused unless the caller
asks to follow them: a link could pull any file on the machine into the lake (and into the
quarantine, whose reasons quote what they found).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from ecomlake.contract import DATASETS, PARTITION_KEY, Dataset, parse_dataset, parse_date, raw_key
from ecomlake.exceptions import InvalidArgumentError, InvalidKeyError, UnknownDatasetError
from ecomlake.ingest.report import ValidationReport
from ecomlake.ingest.router import Route, Trigger, pipeline_input, route_key
from ecomlake.ingest.validator import validate_objects
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


def _land(source: Path, target: Path, follow_symlinks: bool = False) -> tuple[str, bool]:
    """Copy ``source`` to ``target`` in chunks (memory stays flat whatever the size); its MD5, and
    whether bytes were written (identical bytes already landed are left alone).

    The MD5 is the ETag S3 gives a single-part upload, so local and cloud runs name executions alike.
    """
    if target.is_file():
        same = _same_digest(target, source, follow_symlinks)
        if same is not None:
            return same, False
    digest = hashlib.md5(usedforsecurity=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file.
    tmp = target.with_name(f".{target.name}.tmp")
    with _open_source(source, follow_symlinks) as src, tmp.open("wb") as dst:
        while block := src.read(_COPY_BYTES):
            digest.update(block)
            dst.write(block)
    tmp.replace(target)
    return digest.hexdigest(), True


def _symlink_error(path: Path) -> InvalidArgumentError:
    # Names the link and its target only: the target's content is never read or echoed.
    return InvalidArgumentError(
        f"{path} is a symbolic link; ingest lands regular files only (--follow-symlinks lands what links point to)"
    )


def _check_source(path: Path, follow_symlinks: bool) -> None:
    """A source must be an existing regular file, reached without a link unless links are allowed."""
    if path.is_symlink() and not follow_symlinks:
        raise _symlink_error(path)
    if not path.exists():
        raise InvalidArgumentError(f"no such file: {path}")
    if not path.is_file():
        raise InvalidArgumentError(f"{path} is not a regular file")


def _open_source(path: Path, follow_symlinks: bool) -> BinaryIO:
    """The file, open for reading; without ``follow_symlinks`` a link swapped in after the checks is refused too."""
    flags = os.O_RDONLY | (0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if not follow_symlinks and path.is_symlink():
            raise _symlink_error(path) from None
        raise err
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise InvalidArgumentError(f"{path} is not a regular file")
    return handle


def _plan(
    storage: LocalStorage,
    files: Iterable[Path | str],
    dataset: Dataset,
    day: str,
    replace: bool,
    follow_symlinks: bool = False,
) -> list[tuple[Path, Route]]:
    """Check every argument before anything is written, so a bad call lands nothing."""
    plan: list[tuple[Path, Route]] = []
    names: dict[str, Path] = {}
    for item in files:
        path = Path(item)
        _check_source(path, follow_symlinks)
        if path.name in names:
            raise InvalidArgumentError(
                f"two files named {path.name!r} ({names[path.name]}, {path}); land one at a time"
            )
        names[path.name] = path
        route = route_key(raw_key(dataset, day, path.name))
        target = storage.path(route.key)
        if not replace and target.is_file() and not _same_bytes(target, path, follow_symlinks):
            raise InvalidArgumentError(
                f"{route.key} already holds a different file; raw files are not overwritten "
                "(land it under another name, or pass --replace)"
            )
        plan.append((path, route))
    if not plan:
        raise InvalidArgumentError("no files to ingest")
    return plan


def _same_bytes(landed: Path, source: Path, follow_symlinks: bool, digest: Any = None) -> bool:
    """Whether ``landed`` holds the bytes of ``source`` (one read of each); ``digest`` is fed them."""
    if landed.stat().st_size != source.stat().st_size:
        return False
    with landed.open("rb") as fa, _open_source(source, follow_symlinks) as fb:
        while True:
            block = fb.read(_COPY_BYTES)
            if block != fa.read(_COPY_BYTES):
                return False
            if not block:
                return True
            if digest is not None:
                digest.update(block)


def _same_digest(landed: Path, source: Path, follow_symlinks: bool) -> str | None:
    """The MD5 of ``source`` when ``landed`` holds the same bytes, else None."""
    digest = hashlib.md5(usedforsecurity=False)
    return digest.hexdigest() if _same_bytes(landed, source, follow_symlinks, digest) else None


def ingest_files(
    lake: Path,
    files: Iterable[Path | str],
    dataset: Dataset | str,
    day: str,
    *,
    replace: bool = False,
    max_bytes: int | None = None,
    now: datetime | None = None,
    follow_symlinks: bool = False,
) -> list[IngestResult]:
    """Land ``files`` as ``raw/<dataset>/date=<day>/<basename>`` in ``lake``; validate and route each.

    Sources are only read. Raises ``UnknownDatasetError`` / ``InvalidDateError`` /
    ``InvalidArgumentError`` / ``InvalidKeyError`` before landing anything when an argument
    is wrong (a symbolic link is one, unless ``follow_symlinks``); a file the validator
    rejects is landed, quarantined and reported (``rejected``).
    """
    ds = parse_dataset(str(dataset))
    day = parse_date(day)
    storage = LocalStorage(Path(lake))
    plan = _plan(storage, files, ds, day, replace, follow_symlinks)
    (results,) = _land_planned(
        storage, [(plan, ds, day)], max_bytes=max_bytes, now=now, follow_symlinks=follow_symlinks
    )
    return results


# One partition's checked plan (:func:`_plan`), its dataset and its date.
Part = tuple[list[tuple[Path, Route]], Dataset, str]


def _land_planned(
    storage: LocalStorage,
    parts: Sequence[Part],
    *,
    max_bytes: int | None = None,
    now: datetime | None = None,
    follow_symlinks: bool = False,
) -> list[list[IngestResult]]:
    """Land, validate and route the files of checked partitions; the results of each partition."""
    landed = []
    for plan, ds, day in parts:
        for path, route in plan:
            etag, copied = _land(path, storage.path(route.key), follow_symlinks)
            landed.append((path, route, ds, day, etag, copied))
    # Validated from the landed copies, streamed (a file is never held in memory whole), the
    # rows of the files of each dataset classified together.
    reports = validate_objects(
        storage, [(route.key, etag) for _, route, _, _, etag, _ in landed], max_bytes=max_bytes, now=now
    )
    results: list[list[IngestResult]] = [[] for _ in parts]
    part_of = [n for n, (plan, _, _) in enumerate(parts) for _ in plan]
    for n, (path, route, ds, day, etag, copied), report in zip(part_of, landed, reports, strict=True):
        event = None
        if report.accepted:
            event = pipeline_input(route, Trigger(route.key, etag=etag, size=report.size))
        results[n].append(IngestResult(path, route.key, ds.value, day, route.file_name, report, event, copied))
    return results


# --------------------------------------------------------------------------- what to land


@dataclass(frozen=True)
class Batch:
    """The files of one raw partition."""

    dataset: Dataset
    day: str
    files: tuple[Path, ...]


@dataclass
class Collected:
    """What ``collect`` found: partitions to land, and files it left out (not in the layout)."""

    batches: list[Batch] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(len(b.files) for b in self.batches)


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def _partition_day(name: str) -> str | None:
    key, sep, day = name.partition("=")
    return parse_date(day) if key == PARTITION_KEY and sep else None


def _dataset_name(name: str) -> Dataset | None:
    return Dataset(name) if name in DATASETS else None


def _children(folder: Path, follow_symlinks: bool) -> list[Path]:
    """Visible entries of a folder, sorted; a link among them is refused unless links are followed."""
    found = []
    for child in sorted(folder.iterdir()):
        if not _visible(child):
            continue
        if child.is_symlink() and not follow_symlinks:
            raise _symlink_error(child)
        found.append(child)
    return found


def _pick(what: str, where: Path, inferred: str | None, given: str | None) -> str | None:
    if given is not None and inferred is not None and given != inferred:
        raise InvalidArgumentError(f"{where} is in the {inferred} {what} folder, but --{what} {given} was given")
    return inferred if inferred is not None else given


class _Collector:
    def __init__(self, dataset: Dataset | None, day: str | None, follow_symlinks: bool) -> None:
        self.dataset, self.day, self.follow = dataset, day, follow_symlinks
        self.out = Collected()
        self._index: dict[tuple[Dataset, str], list[Path]] = {}
        self._seen: set[Path] = set()

    def add_file(self, path: Path, dataset: Dataset | None, day: str | None) -> None:
        ds = _pick("dataset", path, dataset.value if dataset else None, self.dataset.value if self.dataset else None)
        dd = _pick("date", path, day, self.day)
        missing = [name for name, value in (("dataset", ds), ("date", dd)) if value is None]
        if missing:
            raise InvalidArgumentError(
                f"cannot tell the {' and '.join(missing)} of {path}: it is not under "
                f"<dataset>/{PARTITION_KEY}=YYYY-MM-DD/; pass {' and '.join('--' + m for m in missing)}"
            )
        real = path.resolve()
        if real in self._seen:
            return  # named twice (a file and its folder): landed once
        self._seen.add(real)
        key = (Dataset(ds), dd)
        if key not in self._index:
            self._index[key] = []
            self.out.batches.append(Batch(key[0], dd, ()))
        self._index[key].append(path)

    def partition(self, folder: Path, dataset: Dataset | None, day: str) -> None:
        for child in _children(folder, self.follow):
            if child.is_dir():
                raise InvalidKeyError(
                    f"{child}: a folder inside a partition folder; raw files sit directly in {folder}"
                )
            _check_source(child, self.follow)
            self.add_file(child, dataset, day)

    def dataset_folder(self, folder: Path, dataset: Dataset) -> None:
        for child in _children(folder, self.follow):
            day = _partition_day(child.name)
            if day is None or not child.is_dir():
                raise InvalidKeyError(f"{child}: expected only {PARTITION_KEY}=YYYY-MM-DD folders in {folder}")
            self.partition(child, dataset, day)

    def tree(self, folder: Path) -> None:
        for child in _children(folder, self.follow):
            if not child.is_dir():
                self.out.skipped.append(child)  # e.g. the generator's manifest.json
                continue
            try:
                dataset = parse_dataset(child.name)
            except UnknownDatasetError as err:
                raise UnknownDatasetError(f"{child}: {err}") from None
            self.dataset_folder(child, dataset)

    def add(self, path: Path) -> None:
        if path.is_symlink() and not self.follow:
            raise _symlink_error(path)
        if path.is_dir():
            self.add_folder(path)
            return
        _check_source(path, self.follow)
        day = _partition_day(path.parent.name)
        self.add_file(path, _dataset_name(path.parent.parent.name) if day else None, day)

    def add_folder(self, folder: Path) -> None:
        day = _partition_day(folder.name)
        if day is not None:
            self.partition(folder, _dataset_name(folder.parent.name), day)
            return
        dataset = _dataset_name(folder.name)
        if dataset is not None:
            self.dataset_folder(folder, dataset)
            return
        entries = _children(folder, self.follow)
        if any(e.is_dir() for e in entries):
            self.tree(folder)
        elif self.dataset is not None and self.day is not None:
            for entry in entries:
                _check_source(entry, self.follow)
                self.add_file(entry, None, None)
        elif entries:
            raise InvalidArgumentError(
                f"{folder} holds files but no <dataset>/{PARTITION_KEY}=YYYY-MM-DD folders; "
                "pass --dataset and --date to land its files"
            )

    def result(self) -> Collected:
        self.out.batches = [Batch(b.dataset, b.day, tuple(self._index[(b.dataset, b.day)])) for b in self.out.batches]
        return self.out


def collect(
    paths: Sequence[Path | str],
    *,
    dataset: Dataset | str | None = None,
    day: str | None = None,
    follow_symlinks: bool = False,
) -> Collected:
    """The partitions to land for what the user named: files and folders in the generator's layout.

    A folder may be a tree root (``<root>/<dataset>/date=D/<file>``; files at its top, such
    as ``manifest.json``, are skipped and listed), a dataset folder or a partition folder.
    A file's dataset and date come from its folders; ``dataset`` / ``day`` supply them for
    files outside the layout, and a file in the layout that disagrees with them is an error.
    Names starting with ``.`` or ``_`` inside folders are not data and are passed over.
    Nothing is read beyond folder listings; errors are raised before anything is landed.
    """
    ds = parse_dataset(str(dataset)) if dataset is not None else None
    dd = parse_date(day) if day is not None else None
    collector = _Collector(ds, dd, follow_symlinks)
    for item in paths:
        path = Path(item)
        if not path.exists() and not path.is_symlink():
            raise InvalidArgumentError(f"no such file or directory: {path}")
        collector.add(path)
    found = collector.result()
    if not found.batches:
        named = ", ".join(str(p) for p in paths) or "(nothing)"
        raise InvalidArgumentError(f"no files to ingest in {named}")
    return found


def land_batches(
    lake: Path,
    batches: Sequence[Batch],
    *,
    replace: bool = False,
    max_bytes: int | None = None,
    follow_symlinks: bool = False,
    on_batch: Callable[[list[IngestResult]], None] | None = None,
) -> list[IngestResult]:
    """Land every batch (all are checked first, so a bad one lands nothing); results in batch order.

    ``on_batch`` is called in this process with each partition's results, in batch order, as
    the job holding it finishes (a progress bar). Partitions of a dataset are landed together,
    up to ``JOB_BYTES`` per job (see :func:`_jobs`).
    """
    storage = LocalStorage(Path(lake))
    plans = [_plan(storage, b.files, b.dataset, b.day, replace, follow_symlinks) for b in batches]
    parts: list[Part] = [(plan, b.dataset, b.day) for plan, b in zip(plans, batches, strict=True)]
    tell = on_batch or (lambda _results: None)
    sizes = [sum(f.stat().st_size for f in b.files) for b in batches]
    workers = _landing_workers(sizes)
    jobs = _jobs(batches, sizes, workers)
    if workers <= 1:
        out: list[IngestResult] = []
        for job in jobs:
            for results in _land_job(lake, [parts[i] for i in job], max_bytes, follow_symlinks):
                tell(results)
                out.extend(results)
        return out
    # Partitions are validated independently and write only their own keys, so big trees are
    # landed by one process per core; results keep the tree's order. The rules are rendered
    # here first, so the workers inherit them.
    from ecomlake.ingest.classifier import prepare

    prepare({b.dataset for b in batches})
    # The platform's default start method (fork on Linux): workers only read files and
    # write their own keys, so they never touch DuckDB or JVM state the caller may hold.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # The largest jobs start first, so the last to finish are small ones (the workers end together).
        ordered = sorted(range(len(jobs)), key=lambda j: -sum(sizes[i] for i in jobs[j]))
        futures = {
            j: pool.submit(_land_job, lake, [parts[i] for i in jobs[j]], max_bytes, follow_symlinks) for j in ordered
        }
        out = []
        for j in range(len(jobs)):
            for results in futures[j].result():
                tell(results)
                out.extend(results)
        return out


def land_tree(lake: Path, src_dir: Path, *, replace: bool = True, max_bytes: int | None = None) -> list[IngestResult]:
    """Land a generator output tree ``<src>/<dataset>/date=D/<file>`` (``ecomlake demo``, ``bench``).

    Files at the top of the tree (``manifest.json``) and names starting with ``.`` or ``_``
    are not data and are skipped. A regenerated tree replaces what it landed before.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise InvalidArgumentError(f"no such directory: {src}")
    collector = _Collector(None, None, follow_symlinks=False)
    collector.tree(src)
    return land_batches(lake, collector.result().batches, replace=replace, max_bytes=max_bytes)


def _land_job(
    lake: Path, parts: list[Part], max_bytes: int | None, follow_symlinks: bool = False
) -> list[list[IngestResult]]:
    """Partitions landed together (in a worker process when the tree is big)."""
    return _land_planned(LocalStorage(Path(lake)), parts, max_bytes=max_bytes, follow_symlinks=follow_symlinks)


# Below this much data, starting worker processes costs more than it saves.
PARALLEL_LANDING_BYTES = 64 * 1024 * 1024
# Partitions of a dataset are validated together up to this many bytes: each DuckDB statement
# costs a few milliseconds whatever its rows, which a tree of small daily files pays per file.
JOB_BYTES = 16 * 1024 * 1024
# Parallel landing cuts a tree into at least this many jobs per worker, so the workers share it evenly.
JOBS_PER_WORKER = 4


def _landing_workers(sizes: list[int]) -> int:
    if sum(sizes) < PARALLEL_LANDING_BYTES or len(sizes) < 2:
        return 1
    return min(os.cpu_count() or 1, len(sizes))


def _jobs(batches: Sequence[Batch], sizes: list[int], workers: int) -> list[list[int]]:
    """Consecutive partitions of one dataset, as jobs of at most ``JOB_BYTES`` (indices into ``batches``)."""
    limit = JOB_BYTES if workers <= 1 else min(JOB_BYTES, max(sum(sizes) // (workers * JOBS_PER_WORKER), 1))
    jobs: list[list[int]] = []
    current: list[int] = []
    held = 0
    for i, batch in enumerate(batches):
        if current and (batch.dataset != batches[current[0]].dataset or held + sizes[i] > limit):
            jobs.append(current)
            current, held = [], 0
        current.append(i)
        held += sizes[i]
    if current:
        jobs.append(current)
    return jobs
