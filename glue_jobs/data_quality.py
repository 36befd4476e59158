"""Glue job ``data_quality``: every data-quality check on a run's unpublished view, on Spark.

Reads the published snapshot and the run's journal from the reports bucket, registers one
view per catalog table over exactly the version folders the rules read (processed and
curated buckets, quarantine for the reason counts), and writes each date's report and the
verdict under ``_runs/<run_id>/`` -- nothing else. It succeeds whatever the verdict; the
pipeline's next step turns a failing verdict into the run's failure.

Thin by design: argument resolution, the session and the commit live in
``ecomlake.etl.glue``; the audit in ``ecomlake.dq.glue_job``. Arguments
(``ecomlake.contract.JobArg``): ``--JOB_NAME``, ``--run_id``, ``--dates`` (informative),
the zone URIs, and optionally ``--dq_thresholds`` (the stack's JSON object).
"""

from __future__ import annotations

from ecomlake.contract import Job
from ecomlake.etl.glue import main

JOB = Job.DATA_QUALITY

if __name__ == "__main__":
    main(JOB)
