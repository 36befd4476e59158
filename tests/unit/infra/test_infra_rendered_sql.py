"""The SQL shipped in the Lambda code archive: complete, reproducible, and found by the code as shipped.

The functions' file system is read-only and every daily run starts cold; without the
shipped SQL each small-date run would render the rules and plan the merge's queries again
(about 3 s here). These tests build the archive's files the way the program does
(``components.packaging``) and run the shipped code from a copy of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from infra_harness import REPO_ROOT

from components.packaging import LAMBDA_SQL_CACHE, SQL_CACHE_DIR, lambda_sources, rendered_sql
from ecomlake import sqlcache

# Every text the runtime renders through sqlframe, by name: four datasets' validator rules,
# duplicate checks and ETL statements, and the merge's seven kept queries in each of its two modes.
EXPECTED = sorted(
    [
        *(f"validator-rules-{d}.json" for d in ("clickstream", "products", "reviews", "transactions")),
        *(f"validator-duplicates-{d}.json" for d in ("clickstream", "products", "reviews", "transactions")),
        *(f"etl-statements-{d}.json" for d in ("clickstream", "products", "reviews", "transactions")),
        *(
            f"planned-merge-{mode}-{table}.json"
            for mode in ("full", "incremental")
            for table in (
                "activity",
                "basket_pairs",
                "daily_kpis",
                "dim_customers",
                "dim_products",
                "fact_sales",
                "fct_sessions",
            )
        ),
    ]
)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return rendered_sql(REPO_ROOT, tmp_path_factory.mktemp("sql-cache"))


def test_every_rendered_text_ships_under_the_fingerprint_the_functions_compute(shipped: dict[str, Path]) -> None:
    assert LAMBDA_SQL_CACHE == "/var/task/sqlcache"
    assert SQL_CACHE_DIR == "sqlcache"
    folders = {name.split("/")[1] for name in shipped}
    assert folders == {sqlcache.fingerprint()}
    assert sorted(name.split("/")[2] for name in shipped) == EXPECTED
    assert all(name.startswith("sqlcache/") for name in shipped)


def test_a_fresh_rendering_gives_the_same_bytes(shipped: dict[str, Path], tmp_path: Path) -> None:
    """Another process, another cache: the same archive, so ``pulumi preview`` shows no change."""
    again = rendered_sql(REPO_ROOT, tmp_path / "other")
    assert sorted(again) == sorted(shipped)
    for name, path in shipped.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_the_shipped_code_reads_the_shipped_sql_without_rendering(shipped: dict[str, Path], tmp_path: Path) -> None:
    """The archive's files, imported from their own folder as on Lambda: nothing renders, nothing is written.

    A missing or unmatched entry would make the code render it, which imports sqlframe, and
    try to write it (Lambda's code folder is read-only); the fingerprint is computed over
    the shipped package, which has no ``ecomlake/local``.
    """
    task = tmp_path / "task"
    for name, path in {**lambda_sources(REPO_ROOT), **shipped}.items():
        target = task / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    assert not (task / "ecomlake" / "local").exists()
    before = sorted(p.relative_to(task).as_posix() for p in task.rglob("*") if p.is_file())
    probe = (
        "import sys, ecomlake, ecomlake.sqlcache as c; from ecomlake.rendered import render_all; "
        "render_all(); print(ecomlake.__file__); print(c.state()); print('sqlframe' in sys.modules)"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(task),
        "PYTHONDONTWRITEBYTECODE": "1",
        sqlcache.ENV: str(task / SQL_CACHE_DIR),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    module, state, rendered = done.stdout.split()
    assert module == str(task / "ecomlake" / "__init__.py")
    assert state == "warm"
    assert rendered == "False"
    assert sorted(p.relative_to(task).as_posix() for p in task.rglob("*") if p.is_file()) == before
