"""Lambda: the pipeline's audit-verdict step, after the Glue job ``data_quality`` (input ``{"run_id": ...}``).

The checks themselves run in the Glue job (``ecomlake.dq.glue_job``: Spark over the S3
buckets, reading only the partitions and columns the rules need); it writes each date's
report and the run's verdict under ``_runs/<run_id>/`` and succeeds whatever the verdict.
This step reads those few small JSON documents -- no table data, nothing staged on disk --
and

* publishes the CloudWatch metrics of every checked date as embedded-metric-format log
  lines (``contract.METRICS_NAMESPACE``; dimensions Stage / Dataset / Check), freshness for
  the newest date only;
* on a **critical** failure raises ``DataQualityError`` naming the failed checks, dates and
  what was found. It sends no message itself: the state machine's Catch routes the error to
  the pipeline's failure notification, which carries it -- one alert per failed run;
* on **warnings only** sends one SNS message to ``ECOMLAKE_ALERTS_TOPIC_ARN`` (message
  attribute ``severity`` = ``warning``) listing them, and returns: the run goes on to publish.

An input without a valid ``run_id`` raises ``InvalidArgumentError`` after one logged line
and an ``InvalidEvents`` metric: Step Functions does not retry it (it is not a Lambda
service error) and the Catch records the message, so the run publishes nothing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import METRICS_NAMESPACE, EnvVar
from ecomlake.dq.publish import alert_message, metric_data
from ecomlake.dq.report import DQReport
from ecomlake.exceptions import DataQualityError, EcomlakeError, InvalidArgumentError
from ecomlake.runs.audit import failure_message, findings, read_verdict
from ecomlake.runs.cloud_steps import step_run_id
from ecomlake.runs.publish import audit_report_key
from ecomlake.storage import S3Storage, Storage
from handlers._aws import aws_client, boto3_session, lake_buckets
from handlers._powertools import emit_metric_data, invalid_event, namespace, powertools, stage

tools = powertools("data_quality")
logger, tracer = tools.logger, tools.tracer


def read_reports(storage: Storage, verdict: dict[str, Any]) -> list[DQReport]:
    """The reports the verdict names, in date order (one that cannot be read is logged and skipped)."""
    named = verdict.get("reports")
    reports = []
    for day, key in sorted(named.items() if isinstance(named, dict) else []):
        try:
            reports.append(DQReport.from_dict(json.loads(storage.read_bytes(str(key)))))
        except (EcomlakeError, ValueError, KeyError, TypeError) as err:
            logger.warning("report unreadable; its metrics are not published", date=day, key=key, error=str(err))
    return reports


def judge(
    run_id: str,
    *,
    storage: Storage,
    sns: Any,
    stage_name: str,
    topic_arn: str | None,
    metrics_namespace: str = METRICS_NAMESPACE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Publish the run's DQ metrics, alert on warnings, raise on a failed verdict; returns the step's output."""
    now = now or datetime.now(UTC)
    verdict = read_verdict(storage, run_id)
    if verdict is None:
        raise DataQualityError(f"run {run_id} has no audit verdict; an unaudited run is never published")
    reports = read_reports(storage, verdict)
    latest = max((r.day for r in reports), default=None)
    data: list[dict[str, Any]] = []
    for report in reports:
        # Freshness is a gauge of the newest data, so a backfill reports it for its last date only.
        data += metric_data(report, stage_name, now, freshness=report.day == latest)
    published = emit_metric_data(data, metrics_namespace)
    failures, warned = findings(verdict.get("failures")), findings(verdict.get("warned"))
    logger.info("audit verdict", run_id=run_id, passed=verdict["passed"], critical=len(failures), warned=len(warned))
    if not verdict["passed"]:
        # No message here: the pipeline's failure notification carries this error (one alert).
        raise DataQualityError(failure_message(failures))
    alerted = False
    if warned and topic_arn:
        locations = {r.day: storage.uri(audit_report_key(run_id, r.day, "html")) for r in reports}
        subject, message = alert_message([r for r in reports if r.warnings], stage_name, locations)
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={"severity": {"DataType": "String", "StringValue": "warning"}},
        )
        alerted = True
    return {
        "run_id": run_id,
        "passed": True,
        "dates": list(verdict.get("dates") or []),
        "checks": verdict.get("checks"),
        "warnings": [f"{check} on {day}" for day, check, _detail in warned],
        "metrics_published": published,
        "alerted": alerted,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # results hold business data
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        run_id = step_run_id(event)
    except InvalidArgumentError as err:
        invalid_event(tools, err, event)  # logged and counted, then raised: the Catch records it
        raise
    return judge(
        run_id,
        storage=S3Storage(lake_buckets(), boto3_session()),
        sns=aws_client("sns"),
        stage_name=stage(),
        topic_arn=os.environ.get(EnvVar.ALERTS_TOPIC_ARN),
        metrics_namespace=namespace(),
    )
