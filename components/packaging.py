"""Pure packaging helpers: which repository files ship to Lambda and Glue, and a reproducible zip.

Lambda: the function code is a ``pulumi.AssetArchive`` built from :func:`lambda_sources`
(``handlers/``, the ``ecomlake`` package and ``sql/``, which the API handler runs on Athena),
and the SQL that code renders through sqlframe, rendered here by :func:`rendered_sql` so a
cold start reads it. Pulumi hashes the archive's contents, so an unchanged tree means no update.

Glue: ``--extra-py-files`` needs a real ``.zip`` object in S3. :func:`build_zip` writes one
from :func:`package_sources` with fixed timestamps and permissions and sorted entries, so the
same sources give the same bytes on every machine and every run (no spurious diffs in
``pulumi preview``). The zip goes under ``build/`` (git-ignored) and is uploaded as a
``FileAsset``.

Third-party libraries the handlers import beyond the Lambda runtime (the DuckDB ETL engine
for the small-date step, sqlglot for the API's SQL) ship as Lambda layers built *before*
``pulumi up`` by :func:`layer_build_command` (pip, targeting Lambda's platform, exact pins
from ``pyproject.toml`` and, for their dependencies, ``constraints.txt``); the program only
packages the built directories.

Lambda allows 250 MiB unzipped for a function and all its layers together. The small-date
layer (DuckDB, sqlframe, sqlglot, pyarrow, numpy) is 291 MB as pip installs it; the parts
the code never loads are pruned (:data:`DUCKDB_ETL_PRUNE`: pyarrow's Arrow Flight, its C++
headers, tests and Cython sources, two duplicate copies of ``libarrow_python``, numpy's
tests) and it is installed without ``.pyc`` files, which brings it to about 237 MB, and
:func:`check_size` refuses a build that would not leave room for the code and the
Powertools layer.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ecomlake.sqlcache import ENV as SQL_CACHE_ENV
from ecomlake.sqlcache import LOCAL_ONLY

# Never ship caches, compiled files, or editor/OS droppings.
_EXCLUDED_DIRS: Final = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo", ".swp")
PACKAGE_SUFFIXES: Final = (".py", ".typed", ".json", ".sql")
# Local-only tools (runner, lock, demo, bench, dashboard server) never ship to AWS.
LOCAL_ONLY_PACKAGE: Final = f"ecomlake/{LOCAL_ONLY}/"
_ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold


def collect(root: Path, directory: str, suffixes: Iterable[str]) -> dict[str, Path]:
    """Files under ``root/directory`` with one of ``suffixes``: ``{archive path: file}``, sorted."""
    base = root / directory
    if not base.is_dir():
        raise FileNotFoundError(f"{base} does not exist; run the program from the repository root")
    wanted = tuple(suffixes)
    found: dict[str, Path] = {}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part in _EXCLUDED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.name.endswith(_EXCLUDED_SUFFIXES) or not path.name.endswith(wanted):
            continue
        found[rel.as_posix()] = path
    return found


def package_sources(root: Path) -> dict[str, Path]:
    """The ``ecomlake`` package (Python modules and the data files it reads), without ``ecomlake.local``."""
    files = collect(root, "ecomlake", PACKAGE_SUFFIXES)
    return {name: path for name, path in files.items() if not name.startswith(LOCAL_ONLY_PACKAGE)}


def lambda_sources(root: Path) -> dict[str, Path]:
    """What every Lambda function ships: its handler modules, the package, and the SQL files."""
    files = collect(root, "handlers", (".py",))
    files.update(package_sources(root))
    if (root / "sql").is_dir():
        files.update(collect(root, "sql", (".sql",)))
    return dict(sorted(files.items()))


# The SQL rendered for the shipped code, in the code archive (extracted to /var/task): the functions'
# read-only SQL cache (ecomlake.sqlcache), named to them by ECOMLAKE_SQL_CACHE.
SQL_CACHE_DIR: Final = "sqlcache"
LAMBDA_SQL_CACHE: Final = f"/var/task/{SQL_CACHE_DIR}"


def rendered_sql(root: Path, cache: Path) -> dict[str, Path]:
    """Every SQL text the shipped code renders, rendered into ``cache``: ``{archive path: file}``.

    Runs ``python -m ecomlake.rendered`` (``ecomlake.rendered.render_all``) in a child process
    with ``ECOMLAKE_SQL_CACHE`` = ``cache``, so the program never imports the engines; what an
    earlier run rendered for the same code is read, not rendered again (2.9 s cold, about 0.5 s
    warm, here). The text depends only on the code and the renderers' pinned versions, which
    the functions' layers share, so its fingerprint is the one the functions compute, and the
    same code gives the same bytes (no spurious diff in ``pulumi preview``).
    """
    import subprocess
    import sys

    env = {**os.environ, SQL_CACHE_ENV: str(cache)}
    done = subprocess.run(
        [sys.executable, "-m", "ecomlake.rendered"], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rendering the SQL the functions ship failed:\n{done.stderr.strip()[-2000:]}")
    folder = Path(done.stdout.strip().splitlines()[-1])
    return {f"{SQL_CACHE_DIR}/{folder.name}/{path.name}": path for path in sorted(folder.glob("*.json"))}


def build_zip(files: Mapping[str, Path], out: Path) -> Path:
    """Write ``files`` into a byte-for-byte reproducible zip at ``out`` and return ``out``.

    Written to a temporary file and renamed, so concurrent builds never see half a zip.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name, suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, files[name].read_bytes())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# --------------------------------------------------------------------------- Lambda layers


@dataclass(frozen=True)
class LayerSpec:
    """A dependency layer: which pinned distributions, for which Lambda Python and platform."""

    name: str
    distributions: tuple[str, ...]  # pinned in pyproject.toml (direct) or constraints.txt (theirs)
    python_version: str  # the runtime of the functions that use it
    platform: str  # pip --platform tag the runtime's glibc supports
    import_names: tuple[str, ...]  # packages that must exist under python/ once built
    prune: tuple[str, ...] = ()  # glob patterns under python/ deleted after pip (never loaded)
    compile: bool = True  # ship .pyc files (a faster cold start, ~15 MB more for the DuckDB engine)


# Lambda's limit on a function and all its layers, unzipped (250 MiB).
LAMBDA_UNZIPPED_LIMIT: Final = 262_144_000
# What a function adds to its layers: the code package (~1 MB) and the Powertools layer (~8 MB
# unzipped: Powertools, the X-Ray SDK, wrapt), with room to grow.
FUNCTION_ALLOWANCE: Final = 16 * 1024 * 1024

# Never imported by the small-date code: Arrow Flight (libarrow_flight alone is 30 MB), the
# C++ headers and sources, tests, Cython sources, and the two extra copies of libarrow_python
# (the loader asks for its soname, ``libarrow_python.so.<major>``; ``lib.so`` also links
# libarrow_substrait, dataset, acero and parquet, so those stay: DuckDB scans Arrow tables
# through ``pyarrow.dataset``).
DUCKDB_ETL_PRUNE: Final = (
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/tests",
    "pyarrow/flight.py",
    "pyarrow/_flight*.so",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/libarrow_python.so",
    "pyarrow/libarrow_python.so.*.*.*",
    "pyarrow/**/*.pyx",
    "pyarrow/**/*.pxd",
    "pyarrow/**/*.pxi",
    "numpy/**/tests",
)

# DuckDB 2.x publishes manylinux_2_27+ wheels only; the python3.11 runtime (Amazon Linux 2,
# glibc 2.26) cannot load them, so the small-date function runs on python3.12 (Amazon Linux
# 2023). Its layer holds the DuckDB engine of the ETL: DuckDB, sqlframe (and what it imports),
# sqlglot, pyarrow and numpy (the raw readers build Arrow tables).
LAYERS: Final[dict[str, LayerSpec]] = {
    "duckdb-etl": LayerSpec(
        "duckdb-etl",
        (
            "duckdb",
            "sqlframe",
            "sqlglot",
            "pyarrow",
            "numpy",
            "more-itertools",
            "prettytable",
            "wcwidth",
            "typing_extensions",
        ),
        "3.12",
        "manylinux_2_28_x86_64",
        ("duckdb", "sqlframe", "sqlglot", "pyarrow", "numpy"),
        prune=DUCKDB_ETL_PRUNE,
        # The 15.5 MB of .pyc do not fit beside it: the function compiles what it imports
        # at a cold start instead (measured in docs/infrastructure.md).
        compile=False,
    ),
    "sqlglot": LayerSpec("sqlglot", ("sqlglot",), "3.11", "manylinux2014_x86_64", ("sqlglot",)),
}


def _pins(lines: Iterable[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^;\s]+)", line.strip())
        if match:
            pins[match.group(1).lower().replace("_", "-")] = f"{match.group(1)}=={match.group(2)}"
    return pins


def pinned(pyproject: Path, distributions: Iterable[str]) -> list[str]:
    """``name==version`` for each distribution, as ``pyproject.toml`` pins it (or, for a
    dependency of a dependency, ``constraints.txt`` beside it)."""
    pins = _pins(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])
    constraints = pyproject.parent / "constraints.txt"
    if constraints.is_file():
        pins = {**_pins(constraints.read_text(encoding="utf-8").splitlines()), **pins}
    wanted = [d.lower().replace("_", "-") for d in distributions]
    missing = [d for d, key in zip(distributions, wanted, strict=True) if key not in pins]
    if missing:
        raise ValueError(f"{pyproject}: no exact pin for {', '.join(missing)}")
    return [pins[key] for key in wanted]


def prune_layer(out_dir: Path, patterns: Iterable[str]) -> list[str]:
    """Delete what ``patterns`` match under ``out_dir/python``; the paths removed, sorted."""
    root = out_dir / "python"
    removed: list[str] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern), reverse=True):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                continue
            removed.append(path.relative_to(root).as_posix())
    return sorted(set(removed))


def tree_size(path: Path) -> int:
    """Bytes of every file under ``path`` (what Lambda counts toward the unzipped limit)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def check_size(spec: LayerSpec, out_dir: Path) -> int:
    """The built layer's size; an error if the function, its code and Powertools would not fit Lambda's limit."""
    size = tree_size(out_dir)
    if size + FUNCTION_ALLOWANCE > LAMBDA_UNZIPPED_LIMIT:
        raise ValueError(
            f"Lambda layer {spec.name!r} is {size:,} bytes unzipped; with the function's code and the Powertools "
            f"layer ({FUNCTION_ALLOWANCE:,} allowed) it passes Lambda's {LAMBDA_UNZIPPED_LIMIT:,}-byte limit: "
            "prune more (components/packaging.py) or ship the function as a container image"
        )
    return size


def pip_arguments(spec: LayerSpec, requirements: Iterable[str], out_dir: Path) -> list[str]:
    """``pip install`` arguments that build a layer directory for Lambda's platform."""
    return [
        "install",
        "--no-deps",
        *([] if spec.compile else ["--no-compile"]),
        "--only-binary=:all:",
        "--platform",
        spec.platform,
        "--implementation",
        "cp",
        "--python-version",
        spec.python_version,
        "--target",
        str(out_dir / "python"),
        *requirements,
    ]


def layer_build_command(spec: LayerSpec, requirements: Iterable[str], out_dir: Path) -> str:
    """The same as one shell command (for error messages and the docs)."""
    return shlex.join(["python", "-m", "pip", *pip_arguments(spec, requirements, out_dir)])


def built_layer(layers_dir: Path, spec: LayerSpec, pyproject: Path) -> Path:
    """The built layer directory, or a ``FileNotFoundError`` that says how to build it."""
    out = layers_dir / spec.name
    missing = [n for n in spec.import_names if not (out / "python" / n).is_dir()]
    if missing:
        command = layer_build_command(spec, pinned(pyproject, spec.distributions), out)
        raise FileNotFoundError(
            f"Lambda layer {spec.name!r} is not built (no {', '.join(missing)} in {out}); run: {command}"
        )
    return out


def build_layer(repo_root: Path, layers_dir: Path, spec: LayerSpec) -> Path:
    """Build one layer with pip (network needed), prune it, and check it fits Lambda's limit."""
    import subprocess
    import sys

    pyproject = repo_root / "pyproject.toml"
    out = layers_dir / spec.name
    shutil.rmtree(out, ignore_errors=True)
    requirements = pinned(pyproject, spec.distributions)
    command = [sys.executable, "-m", "pip", *pip_arguments(spec, requirements, out)]
    # The arguments are this module's constants and exact pins from pyproject.toml / constraints.txt.
    subprocess.run(command, check=True)  # noqa: S603
    prune_layer(out, spec.prune)
    check_size(spec, out)
    return built_layer(layers_dir, spec, pyproject)


def build_layers(repo_root: Path, layers_dir: Path) -> list[Path]:
    """Build every dependency layer: what to run before ``pulumi up``."""
    return [build_layer(repo_root, layers_dir, spec) for spec in LAYERS.values()]


if __name__ == "__main__":
    # python -m components.packaging [LAYERS_DIR]   (default: build/lambda-layers)
    import sys

    root = Path(__file__).resolve().parents[1]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "build" / "lambda-layers"
    for path in build_layers(root, target):
        print(f"built {path} ({tree_size(path):,} bytes unzipped)")
