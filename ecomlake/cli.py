"""The ``ecomlake`` command line: the local entry point to the whole lake.

Every command lives in ``ecomlake.commands.<name>`` and is registered here. Errors that
ecomlake raises on purpose (``EcomlakeError``) print as one line on stderr and exit 2.
Errors from the operating system (a full disk, a read-only or missing path, a port in
use, no permission) print as one line naming the path and the cause and exit 1, wherever
in a command they happen. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import importlib
import os
import pkgutil
import sys

import typer

from ecomlake.exceptions import EcomlakeError

app = typer.Typer(
    name="ecomlake",
    help="E-commerce analytics lake: generate, ingest, run, check, query and chart it locally.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The order `ecomlake --help` lists commands in: the pipeline's order, then the rest.
COMMAND_ORDER = ("generate", "ingest", "run", "status", "dq", "query", "dashboard", "asl", "demo", "bench")


def _command_modules() -> list[str]:
    import ecomlake.commands as package

    found = {m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "common"}
    return sorted(found, key=lambda n: (COMMAND_ORDER.index(n) if n in COMMAND_ORDER else len(COMMAND_ORDER), n))


for _name in _command_modules():
    importlib.import_module(f"ecomlake.commands.{_name}").register(app)

EXIT_USER_ERROR = 2
EXIT_SYSTEM_ERROR = 1

# Causes worded for people; the rest use the system's own text (strerror).
_CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "is a directory, not a file",
    errno.EEXIST: "already exists",
    errno.ENOENT: "no such file or directory",
    errno.EADDRINUSE: "address already in use",
    errno.EMFILE: "too many open files",
}


def os_error_line(err: OSError, lake: object = None) -> str:
    """One line for an operating-system error: the path(s) involved and the cause.

    An error that names no file (a write that fails half-way) names the command's ``lake``.
    """
    cause = _CAUSES.get(err.errno or -1) or (err.strerror or str(err) or type(err).__name__).lower()
    paths = [str(p) for p in (err.filename, err.filename2) if p not in (None, "")]
    if paths:
        return f"{' -> '.join(paths)}: {cause}"
    return f"{lake}: {cause} (while working in this lake)" if lake else cause


class _NamedStdout:
    """sys.stdout, whose write errors name it: a full disk behind ``> file`` is not the lake's."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def _named(self, err: OSError) -> OSError:
        if err.filename is not None:
            return err
        named = type(err)(err.errno, err.strerror, "standard output")
        named.__cause__ = err
        return named

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)  # type: ignore[attr-defined]
        except OSError as err:
            raise self._named(err) from None

    def flush(self) -> None:
        try:
            self._stream.flush()  # type: ignore[attr-defined]
        except OSError as err:
            raise self._named(err) from None

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _current_lake() -> object:
    from ecomlake.commands.common import current

    return current["lake"]


def _duckdb_io_error(err: BaseException) -> bool:
    # DuckDB reports a failed read or write (disk full, read-only) as its own IOException.
    return type(err).__module__.startswith("duckdb") and type(err).__name__ == "IOException"


def _quiet_broken_pipe() -> None:
    """`ecomlake query ... | head`: the reader left; say nothing more, as other Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script and the tests use this)."""
    from ecomlake.commands.common import current

    current["lake"] = None
    stdout = sys.stdout
    sys.stdout = _NamedStdout(stdout)  # type: ignore[assignment]
    try:
        return _run(argv)
    finally:
        sys.stdout = stdout


def _run(argv: list[str] | None) -> int:
    from typer._click.exceptions import ClickException

    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(args=argv, prog_name="ecomlake", standalone_mode=False)
    except EcomlakeError as err:
        typer.echo(f"error: {err}", err=True)
        return EXIT_USER_ERROR
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except ClickException as err:
        # click's own usage errors (unknown option, bad int) -> one line, like ours.
        typer.echo(f"error: {err.format_message()}", err=True)
        return err.exit_code
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_SYSTEM_ERROR
    except OSError as err:
        typer.echo(f"error: {os_error_line(err, _current_lake())}", err=True)
        return EXIT_SYSTEM_ERROR
    except Exception as err:
        if not _duckdb_io_error(err):
            raise
        typer.echo(f"error: {str(err).strip().splitlines()[0]}", err=True)
        return EXIT_SYSTEM_ERROR
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
