"""Every SQL text the runtime renders through sqlframe, rendered at once into the SQL cache.

The validator's rules, the DuckDB jobs' statements and the merge's planned queries, each
kept by ``ecomlake.sqlcache`` under a fingerprint of the code. Two callers want them all
ahead of time: the bench, before it times anything, and the Pulumi program, which ships
them in the Lambda code archive so a function's cold start reads them instead of
rendering them (``components.packaging.rendered_sql``).

``python -m ecomlake.rendered`` renders into the cache ``ECOMLAKE_SQL_CACHE`` names and
prints this code's folder in it (or nothing, exit 1, when the cache is off).
"""

from __future__ import annotations

import sys

from ecomlake import sqlcache
from ecomlake.contract import DATASETS


def render_all() -> None:
    """Render (or find in the cache) every dataset's rules and statements and the merge's queries."""
    from ecomlake.etl.clean_duckdb import dataset_sql
    from ecomlake.etl.merge import plan_queries
    from ecomlake.ingest.classifier import prepare

    prepare(DATASETS)
    for dataset in DATASETS:
        dataset_sql(dataset)
    plan_queries()


def main() -> int:
    folder = sqlcache.folder()
    if folder is None:
        print(f"the SQL cache is off or has no home; set {sqlcache.ENV} to a directory", file=sys.stderr)
        return 1
    render_all()
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
