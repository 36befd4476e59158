"""Lambda: the pipeline's ``audit`` step (invoked by Step Functions with ``{"run_id": <execution name>}``).

The run's dates are every date its jobs wrote, from the run's journal
(``ecomlake.runs.audit.touched_dates`` of ``_runs/<run_id>/outputs/``). A manual invocation
may still pass ``{"dates": [...]}``. Publication requires the audit's verdict
(``_runs/<run_id>/audit.json``, ``ecomlake.runs.audit.write_verdict``); until the cloud audit
engine writes it, the publish step refuses every run (it fails closed).

Design: the same DuckDB checks as ``ecomlake dq``. For each date the objects the rules
read (``ecomlake.dq.inputs``: the date's partitions, the 7-day anomaly window, catalog
snapshots up to the date, run summaries, quarantine and validation reports) are copied
from the zone buckets into a temporary directory laid out like the local lake, the local
catalog is opened on it and the checks run there. One implementation, exercised by the
local pipeline and the unit tests alike; the cost is a copy sized by one day of data,
which fits Lambda's ephemeral storage at this lake's volumes (see docs/data-quality.md).

Then: the JSON + HTML report is written to the reports bucket, metrics go to CloudWatch
as embedded-metric-format log lines (``contract.METRICS_NAMESPACE``; dimensions Stage /
Dataset / Check; Powertools, see handlers/_powertools.py), an SNS alert goes to
``ECOMLAKE_ALERTS_TOPIC_ARN`` when any check failed, and ``DataQualityError`` is raised
when a critical one did, so the state machine's Catch routes to the failure branch.

A step input that is not ``{"dates": [...]}`` raises ``InvalidArgumentError`` with one
logged line: Step Functions does not retry it (it is not a Lambda service error) and the
Catch records the message.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EXECUTION_INPUT_DATES, METRICS_NAMESPACE, EnvVar, Zone, parse_date
from ecomlake.dq.inputs import inputs_for, stage
from ecomlake.dq.publish import alert_message, metric_data
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import RULES, Rule
from ecomlake.dq.runner import check_lake, open_catalog, write_report
from ecomlake.exceptions import DataQualityError, InvalidArgumentError
from ecomlake.runs.audit import touched_dates
from ecomlake.runs.cloud_steps import step_run_id
from ecomlake.snapshots.journal import run_changes
from ecomlake.storage import S3Storage, Storage
from handlers._aws import aws_client, boto3_session, lake_buckets
from handlers._powertools import emit_metric_data, namespace, powertools

tools = powertools("data_quality")
logger, tracer = tools.logger, tools.tracer


def parse_dates(event: Any) -> list[str]:
    """The dates to check: ``{"dates": [...]}`` (the execution input) or ``{"date": "..."}``."""
    if not isinstance(event, dict):
        raise InvalidArgumentError(f"event must be an object with a 'dates' list, got {type(event).__name__}")
    raw = event.get(EXECUTION_INPUT_DATES)
    if raw is None and event.get("date"):
        raw = [event["date"]]
    if isinstance(raw, str):
        raw = [raw]
    if not raw or not isinstance(raw, list):
        raise InvalidArgumentError("event has no 'dates' list")
    if not all(isinstance(d, str) for d in raw):
        raise InvalidArgumentError(f"'dates' must hold YYYY-MM-DD strings, got {raw!r}")
    return sorted({parse_date(d) for d in raw})


def step_dates(event: Any, storage: Storage) -> list[str]:
    """The dates to audit: those run ``run_id`` wrote (``{"run_id": ...}``), or ``{"dates": [...]}`` given."""
    if isinstance(event, dict) and "run_id" in event and EXECUTION_INPUT_DATES not in event and "date" not in event:
        run_id = step_run_id(event)
        days = touched_dates(run_changes(storage, run_id))
        if not days:
            raise InvalidArgumentError(f"run {run_id} recorded no output (_runs/{run_id}/outputs/): nothing to audit")
        return days
    return parse_dates(event)


def check_date(storage: Storage, day: str, rules: Sequence[Rule], now: datetime) -> tuple[DQReport, dict[str, str]]:
    """Stage one date's inputs into a temporary lake, run the checks, write the report to ``storage``."""
    with tempfile.TemporaryDirectory(prefix="ecomlake-dq-") as tmp:
        lake = Path(tmp)
        copied = stage(storage, inputs_for(rules, day), lake)
        logger.info("staged inputs", date=day, objects=len(copied))
        con, unavailable = open_catalog(lake)
        try:
            report = check_lake(con, lake, day, rules, now=now, unavailable=unavailable)
        finally:
            con.close()
    report.lake = storage.uri(f"{Zone.PROCESSED}/")  # where the data came from, not the deleted copy
    return report, write_report(storage, report)


def run(
    dates: Sequence[str],
    *,
    storage: Storage,
    sns: Any,
    stage_name: str,
    topic_arn: str | None,
    namespace: str = METRICS_NAMESPACE,
    rules: Sequence[Rule] = RULES,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check every date, publish, alert; returns the step's output or raises ``DataQualityError``."""
    now = now or datetime.now(UTC)
    reports: list[DQReport] = []
    locations: dict[str, str] = {}
    data: list[dict[str, Any]] = []
    latest = max(dates)
    for day in dates:
        report, uris = check_date(storage, day, rules, now)
        reports.append(report)
        locations[day] = uris["html"]
        # Freshness is a gauge of the newest data, so a backfill reports it for its last date only.
        data += metric_data(report, stage_name, now, freshness=day == latest)
        logger.info("checked", date=day, report_passed=report.passed, counts=report.counts())

    published = emit_metric_data(data, namespace)
    alerted = False
    if any(r.failures for r in reports) and topic_arn:
        subject, message = alert_message(reports, stage_name, locations)
        severity = "critical" if any(not r.passed for r in reports) else "warning"
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
        alerted = True

    summary = {
        "dates": list(dates),
        "passed": all(r.passed for r in reports),
        "checks": sum(len(r.results) for r in reports),
        "failed": sum(len(r.failures) for r in reports),
        "critical_failed": sum(len(r.critical_failures) for r in reports),
        "by_date": {
            r.day: {
                "passed": r.passed,
                "critical_failures": [c.rule_id for c in r.critical_failures],
                "warnings": [c.rule_id for c in r.warnings],
                "report": locations[r.day],
            }
            for r in reports
        },
        "metrics_published": published,
        "alerted": alerted,
    }
    if not summary["passed"]:
        failed = sorted({c.rule_id for r in reports for c in r.critical_failures})
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        raise DataQualityError(f"{len(failed)} critical data-quality check(s) failed: {shown}")
    return summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # results hold business data
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    storage = S3Storage(lake_buckets(), boto3_session())
    try:
        dates = step_dates(event, storage)
    except InvalidArgumentError as err:
        logger.error(f"invalid event: {err}", error=str(err), error_type=type(err).__name__)
        raise
    logger.info("data quality", dates=dates)
    return run(
        dates,
        storage=storage,
        sns=aws_client("sns"),
        stage_name=os.environ.get(EnvVar.STAGE, "dev"),
        topic_arn=os.environ.get(EnvVar.ALERTS_TOPIC_ARN),
        namespace=namespace(),
    )
