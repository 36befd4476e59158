"""Glue job ``master_data_merge``: processed -> curated marts.

fact_sales, fct_sessions and daily_kpis for the dates; dim_products and dim_customers rebuilt.

Thin by design: argument resolution, the session and the commit live in
``ecomlake.etl.glue``; the transforms in ``ecomlake.etl.transforms``. Arguments
(``ecomlake.contract.JobArg``): ``--JOB_NAME``, ``--dates`` (comma-separated
YYYY-MM-DD), ``--raw_uri``, ``--processed_uri``, ``--curated_uri``,
``--quarantine_uri``, ``--reports_uri``.
"""

from __future__ import annotations

from ecomlake.contract import Job
from ecomlake.etl.glue import main

JOB = Job.MASTER_DATA_MERGE

if __name__ == "__main__":
    main(JOB)
