"""Lambda: the pipeline's ``small_date`` step (``ecomlake.runs.small_date.small_date_step``).

Invoked by Step Functions with ``{"run_id": <execution name>}`` when the plan's ``staged_bytes``
is at most the stack's ``smallDateMaxBytes`` (the ``small_enough`` Choice). Stages what the run
reads into ``/tmp`` as a lake directory, runs every ETL job, the merge and the audit on DuckDB --
the code ``ecomlake run`` runs on a laptop -- and uploads the run's versions, journal, reports
and verdict, the verdict last. The audit gate after it judges the verdict, exactly as after
the Glue jobs; this step does not fail on a failed check.

Environment: the ``ECOMLAKE_*_BUCKET`` variables, ``ECOMLAKE_DQ_THRESHOLDS`` (the stack's,
as the Glue audit gets them) and ``ECOMLAKE_DUCKDB_MEMORY_LIMIT`` (below the function's
memory, so DuckDB spills to ``/tmp`` instead of running out). A payload without a valid
``run_id`` raises ``InvalidArgumentError`` after one logged line; it is not retried.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EnvVar
from ecomlake.runs.cloud_steps import step_run_id
from ecomlake.storage import S3Storage
from handlers._aws import boto3_session, lake_buckets
from handlers._powertools import failures_logged, powertools, require_env

tools = powertools("small_date")
logger, tracer = tools.logger, tools.tracer

WORKDIR: Final = "ecomlake-small-date"


def workdir() -> Path:
    """Where the mirror lives: the function's ephemeral storage (``/tmp``)."""
    return Path(tempfile.gettempdir()) / WORKDIR


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # the summary names the run's dates
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    with failures_logged(logger, "cannot run the small date"):
        run_id = step_run_id(event)
        require_env(EnvVar.REPORTS_BUCKET, EnvVar.RAW_BUCKET)
    # DuckDB looks for a home directory; the function's is not writable.
    os.environ.setdefault("HOME", tempfile.gettempdir())
    from ecomlake.runs.small_date import small_date_step

    with failures_logged(logger, f"run {run_id} failed on the small path", run_id=run_id):
        result = small_date_step(S3Storage(lake_buckets(), boto3_session()), run_id, workdir())
    logger.info(
        "small date run",
        run_id=run_id,
        dates=result["dates"],
        staged=result["staged"],
        uploaded=result["uploaded"],
        seconds=result["seconds"],
        audit=result["audit"],
    )
    return result
