"""The ``ecomlake`` command line: the local entry point to the whole lake.

Every command lives in ``ecomlake.commands.<name>`` and is registered here. Errors that
ecomlake raises on purpose (``EcomlakeError``) print as one line on stderr and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
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
COMMAND_ORDER = ("generate", "ingest", "run", "dq", "query", "dashboard", "asl", "demo", "bench")


def _command_modules() -> list[str]:
    import ecomlake.commands as package

    found = {m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "common"}
    return sorted(found, key=lambda n: (COMMAND_ORDER.index(n) if n in COMMAND_ORDER else len(COMMAND_ORDER), n))


for _name in _command_modules():
    importlib.import_module(f"ecomlake.commands.{_name}").register(app)

EXIT_USER_ERROR = 2


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script and the tests use this)."""
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
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
