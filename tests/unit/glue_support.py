"""The Glue 5.0 job environment's Python modules, as far as the tests can stand it in.

Glue 5.0 ships PySpark, boto3, pandas, pyarrow and numpy, not the laptop engine: DuckDB,
sqlframe and sqlglot are absent unless a job installs them (``--additional-python-modules``,
``components.etl.AUDIT_PYTHON_MODULES``). Setting a module to ``None`` in ``sys.modules``
makes any later ``import`` of it fail, so a job run inside :func:`glue_modules` fails on a
deferred import the Glue runtime could not satisfy (the modules imported at load time are
checked by importing the job modules in a clean interpreter).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

NOT_ON_GLUE = ("duckdb", "sqlframe", "sqlglot")


@contextmanager
def glue_modules(installed: tuple[str, ...] = ()) -> Iterator[None]:
    """Inside: the modules Glue 5.0 lacks cannot be imported, except those the job ``installed``."""
    blocked = [name for name in NOT_ON_GLUE if name not in installed]
    saved = {name: sys.modules.get(name) for name in blocked}
    try:
        for name in blocked:
            sys.modules[name] = None  # type: ignore[assignment]
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
