"""Pure packaging helpers: which repository files ship to Lambda and Glue, and a reproducible zip.

Lambda: the function code is a ``pulumi.AssetArchive`` built from :func:`lambda_sources`
(``handlers/``, the ``ecomlake`` package and ``sql/``, which the API handler runs on Athena).
Pulumi hashes the archive's contents, so an unchanged tree means no update.

Glue: ``--extra-py-files`` needs a real ``.zip`` object in S3. :func:`build_zip` writes one
from :func:`package_sources` with fixed timestamps and permissions and sorted entries, so the
same sources give the same bytes on every machine and every run (no spurious diffs in
``pulumi preview``). The zip goes under ``build/`` (git-ignored) and is uploaded as a
``FileAsset``.

Third-party libraries the handlers import beyond the Lambda runtime (DuckDB for the DQ
step, sqlglot for the API's SQL) ship as Lambda layers built *before* ``pulumi up`` by
:func:`layer_build_command` (pip, targeting Lambda's platform, exact pins from
``pyproject.toml``); the program only packages the built directories.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# Never ship caches, compiled files, or editor/OS droppings.
_EXCLUDED_DIRS: Final = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo", ".swp")
PACKAGE_SUFFIXES: Final = (".py", ".typed", ".json", ".sql")
# Local-only tools (runner, lock, demo, bench, dashboard server) never ship to AWS.
LOCAL_ONLY_PACKAGE: Final = "ecomlake/local/"
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
    distributions: tuple[str, ...]  # names pinned in pyproject.toml [project].dependencies
    python_version: str  # the runtime of the functions that use it
    platform: str  # pip --platform tag the runtime's glibc supports
    import_names: tuple[str, ...]  # packages that must exist under python/ once built


# DuckDB 2.x publishes manylinux_2_27+ wheels only; the python3.11 runtime (Amazon Linux 2,
# glibc 2.26) cannot load them, so the DQ function runs on python3.12 (Amazon Linux 2023).
LAYERS: Final[dict[str, LayerSpec]] = {
    "duckdb": LayerSpec("duckdb", ("duckdb",), "3.12", "manylinux_2_28_x86_64", ("duckdb",)),
    "sqlglot": LayerSpec("sqlglot", ("sqlglot",), "3.11", "manylinux2014_x86_64", ("sqlglot",)),
}


def pinned(pyproject: Path, distributions: Iterable[str]) -> list[str]:
    """``name==version`` for each distribution, exactly as ``pyproject.toml`` pins it."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins: dict[str, str] = {}
    for dep in deps:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^;\s]+)", dep)
        if match:
            pins[match.group(1).lower()] = f"{match.group(1)}=={match.group(2)}"
    missing = [d for d in distributions if d.lower() not in pins]
    if missing:
        raise ValueError(f"{pyproject}: no exact pin for {', '.join(missing)}")
    return [pins[d.lower()] for d in distributions]


def pip_arguments(spec: LayerSpec, requirements: Iterable[str], out_dir: Path) -> list[str]:
    """``pip install`` arguments that build a layer directory for Lambda's platform."""
    return [
        "install",
        "--no-deps",
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


def build_layers(repo_root: Path, layers_dir: Path) -> list[Path]:
    """Build every dependency layer with pip (network needed): what to run before ``pulumi up``."""
    import shutil
    import subprocess
    import sys

    built = []
    pyproject = repo_root / "pyproject.toml"
    for spec in LAYERS.values():
        out = layers_dir / spec.name
        shutil.rmtree(out, ignore_errors=True)
        requirements = pinned(pyproject, spec.distributions)
        command = [sys.executable, "-m", "pip", *pip_arguments(spec, requirements, out)]
        # The arguments are this module's constants and exact pins from pyproject.toml.
        subprocess.run(command, check=True)  # noqa: S603
        built.append(built_layer(layers_dir, spec, pyproject))
    return built


if __name__ == "__main__":
    # python -m components.packaging [LAYERS_DIR]   (default: build/lambda-layers)
    import sys

    root = Path(__file__).resolve().parents[1]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "build" / "lambda-layers"
    for path in build_layers(root, target):
        print(f"built {path}")
