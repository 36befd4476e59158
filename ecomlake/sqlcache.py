"""Rendered SQL kept on disk between processes, under a fingerprint of the code that renders it.

The rules and the ETL's statements are written once, as PySpark column expressions, and
rendered to DuckDB SQL through sqlframe and sqlglot: 0.05-0.25 s per dataset, paid again by
every new process (each ``ecomlake`` command, each ingest worker, each local run); the
merge's queries are DataFrames planned the same way (0.9 s a run, ``ecomlake.etl.io.planned``). The text
depends on nothing but code -- this package's source and the versions of the libraries that
render it -- so it is kept in a cache directory, under a fingerprint of exactly that: a
changed file or an upgraded library is a new fingerprint and a fresh rendering; text
rendered by other code is never read.

The cache is only a shortcut. A directory that cannot be made or written (the read-only
file systems of Lambda and Glue), a file that cannot be read or decoded, a package that is
not plain files on disk (a zip): each is passed over and the SQL rendered as without it.

``ECOMLAKE_SQL_CACHE`` names the directory (default ``$XDG_CACHE_HOME/ecomlake/sql``, that
is ``~/.cache/ecomlake/sql``); ``off`` turns the cache off. The Lambda functions' is the
one rendered when their code was packaged, shipped in the code archive and read-only
there (``components.packaging.rendered_sql``): a cold start reads the SQL instead of
rendering it (2.9 s here).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TypeVar

from ecomlake.contract import EnvVar

ENV: Final = EnvVar.SQL_CACHE.value
OFF: Final = "off"
# Libraries whose version changes the rendered text. DuckDB too: sqlframe plans the merge's
# queries over the types DuckDB's catalog reports for its inputs.
RENDERERS: Final = ("sqlglot", "sqlframe", "duckdb")
# The package's local-only tools (ecomlake.local): never shipped, and they render nothing.
LOCAL_ONLY: Final = "local"
# Other fingerprints' folders not written for this long are removed when a new one is made.
STALE_SECONDS: Final = 7 * 24 * 3600

T = TypeVar("T")
_PACKAGE: Final = Path(__file__).resolve().parent


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where rendered SQL is kept, or None when the cache is off or no home is known."""
    env = os.environ if environ is None else environ
    named = env.get(ENV, "").strip()
    if named.lower() == OFF:
        return None
    if named:
        return Path(named)
    base = env.get("XDG_CACHE_HOME", "").strip()
    if base:
        return Path(base) / "ecomlake" / "sql"
    home = env.get("HOME", "").strip()
    return Path(home) / ".cache" / "ecomlake" / "sql" if home else None


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


@functools.cache
def fingerprint() -> str | None:
    """A digest of this package's source files and the renderers' versions; None when the source is not on disk.

    The same wherever the same code runs with the same renderers, so SQL rendered when the
    Lambda code is packaged is found by the functions (``components.packaging.rendered_sql``):
    the local-only tools (``ecomlake/local``, which renders nothing and does not ship) are
    left out, and so is the interpreter's version -- the text is made by sqlglot and sqlframe,
    whose versions are in the digest (the small-date function runs python3.12; the program
    that packages it may not).
    """
    digest = hashlib.sha256()
    for name in RENDERERS:
        digest.update(f"{name}={_version(name)};".encode())
    try:
        files = sorted(p for p in _PACKAGE.rglob("*.py") if p.relative_to(_PACKAGE).parts[0] != LOCAL_ONLY)
        if not files:
            return None
        for path in files:
            digest.update(str(path.relative_to(_PACKAGE)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()[:20]


def folder() -> Path | None:
    """This code's folder in the cache, or None when the cache cannot serve (off, no home, no source)."""
    root = cache_dir()
    code = None if root is None else fingerprint()  # no digest of the source when it cannot serve
    return None if root is None or code is None else root / code


def state() -> str:
    """``off`` (no cache), ``warm`` (this code's rendered SQL is on disk) or ``cold``."""
    here = folder()
    if here is None:
        return OFF
    return "warm" if here.is_dir() and any(here.iterdir()) else "cold"


def _entry(name: str, args: tuple[Any, ...]) -> str:
    parts = [name, *(str(a) for a in args)]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts)) + ".json"


def _prune(root: Path, keep: str) -> None:
    """Remove other fingerprints' folders not written for a week (a version still in use renders again)."""
    now = time.time()
    for old in root.iterdir():
        try:
            if old.name != keep and old.is_dir() and now - old.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def _read(path: Path, load: Callable[[Any], T]) -> T | None:
    try:
        return load(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write(path: Path, value: Any) -> None:
    try:
        fresh = not path.parent.is_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            _prune(path.parent.parent, path.parent.name)
        # Write then rename: a process reading at the same time sees the whole file or none.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(value), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return


def kept(
    name: str, args: tuple[Any, ...], render: Callable[[], T], dump: Callable[[T], Any], load: Callable[[Any], T]
) -> T:
    """``render()``, or what it returned for ``name`` and ``args`` when this code last rendered it.

    ``dump`` turns a result into JSON data and ``load`` back; an entry that cannot be read,
    is not JSON or is not what ``load`` expects is rendered again and rewritten. Arguments
    are named by their text (enums, booleans). The caller vouches that the result depends
    on nothing but the code and ``args``.
    """
    here = folder()
    if here is None:
        return render()
    path = here / _entry(name, args)
    found = _read(path, load)
    if found is not None:
        return found
    value = render()
    _write(path, dump(value))
    return value


def holds(name: str, args: tuple[Any, ...], load: Callable[[Any], Any]) -> bool:
    """Whether :func:`kept` would find a readable entry for ``name`` and ``args``."""
    here = folder()
    return here is not None and _read(here / _entry(name, args), load) is not None


def disk_cached(
    name: str, dump: Callable[[T], Any], load: Callable[[Any], T]
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A renderer whose result is :func:`kept` per ``name`` and its positional arguments."""

    def decorate(render: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(render)
        def cached(*args: Any) -> T:
            return kept(name, args, lambda: render(*args), dump, load)

        return cached

    return decorate


__all__ = ["ENV", "LOCAL_ONLY", "OFF", "cache_dir", "disk_cached", "fingerprint", "folder", "holds", "kept", "state"]
