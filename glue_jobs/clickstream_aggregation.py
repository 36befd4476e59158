"""Glue job ``clickstream_aggregation``: raw clickstream -> processed clickstream and sessions.

Events are validated (bad ones quarantined) and sessionised with their funnel progress.

Thin by design: argument resolution, the session and the commit live in
``ecomlake.etl.glue``; the transforms in ``ecomlake.etl.transforms``. Arguments
(``ecomlake.contract.JobArg``): ``--JOB_NAME``, ``--dates`` (comma-separated
YYYY-MM-DD), ``--raw_uri``, ``--processed_uri``, ``--curated_uri``,
``--quarantine_uri``, ``--reports_uri``.
"""

from __future__ import annotations

from ecomlake.contract import Job
from ecomlake.etl.glue import main

JOB = Job.CLICKSTREAM_AGGREGATION

if __name__ == "__main__":
    main(JOB)
