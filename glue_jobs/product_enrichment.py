"""Glue job ``product_enrichment``: raw products and reviews -> processed (+ quarantine).

Products get their price band; reviews are validated and deduplicated.

Thin by design: argument resolution, the session and the commit live in
``ecomlake.etl.glue``; the transforms in ``ecomlake.etl.transforms``. Arguments
(``ecomlake.contract.JobArg``): ``--JOB_NAME``, ``--dates`` (comma-separated
YYYY-MM-DD), ``--raw_uri``, ``--processed_uri``, ``--curated_uri``,
``--quarantine_uri``, ``--reports_uri``.
"""

from __future__ import annotations

from ecomlake.contract import Job
from ecomlake.etl.glue import main

JOB = Job.PRODUCT_ENRICHMENT

if __name__ == "__main__":
    main(JOB)
