"""What the cloud DQ step publishes, built as plain data: CloudWatch metric data and the SNS alert.

Kept free of boto3 so the exact metrics and message are unit-tested without AWS; the
handler only sends them. Metric dimensions keep CloudWatch's series count (and cost)
bounded: per-table failure counts are always sent so alarms see data every run, while
the per-check series exists only for checks that have failed at least once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ecomlake.contract import PROJECT, Metric, MetricDimension, to_date
from ecomlake.dq.checks import Status
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import Kind

SNS_SUBJECT_LIMIT = 100  # SNS rejects longer subjects
_MAX_LISTED = 25  # failed checks listed per date in an alert; the report has them all


def _dims(stage: str, dataset: str | None = None, check: str | None = None) -> list[dict[str, str]]:
    dims = [{"Name": str(MetricDimension.STAGE), "Value": stage}]
    if dataset is not None:
        dims.append({"Name": str(MetricDimension.DATASET), "Value": dataset})
    if check is not None:
        dims.append({"Name": str(MetricDimension.CHECK), "Value": check})
    return dims


def _datum(name: Metric, value: float, dims: list[dict[str, str]], now: datetime, unit: str = "Count") -> dict:
    return {"MetricName": str(name), "Dimensions": dims, "Value": float(value), "Unit": unit, "Timestamp": now}


def freshness_hours(day: str, now: datetime) -> float:
    """Hours since the business day ``day`` closed (its next midnight, UTC); 0 while it is still open."""
    closed = datetime.combine(to_date(day) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return max(0.0, round((now - closed).total_seconds() / 3600, 2))


def metric_data(report: DQReport, stage: str, now: datetime, *, freshness: bool = True) -> list[dict[str, Any]]:
    """CloudWatch ``MetricData`` for one date's report.

    DQChecksFailed / DQCriticalFailed by Stage (for alarms) and by Stage+Dataset; one
    DQChecksFailed datum by Stage+Dataset+Check per failed check; RowsIn / RowsOut /
    RowsQuarantined by Stage+Dataset from the run summaries; DataFreshnessHours by
    Stage+Dataset for each table whose partition for the date exists (``freshness``).
    """
    data = [
        _datum(Metric.DQ_CHECKS_FAILED, len(report.failures), _dims(stage), now),
        _datum(Metric.DQ_CRITICAL_FAILED, len(report.critical_failures), _dims(stage), now),
    ]
    tables = sorted({r.table for r in report.results})
    for table in tables:
        failed = [r for r in report.failures if r.table == table]
        data.append(_datum(Metric.DQ_CHECKS_FAILED, len(failed), _dims(stage, table), now))
        data.append(_datum(Metric.DQ_CRITICAL_FAILED, sum(r.critical for r in failed), _dims(stage, table), now))
    for result in report.failures:
        data.append(_datum(Metric.DQ_CHECKS_FAILED, 1, _dims(stage, result.table, result.rule_id), now))
    for row in report.conservation():
        for metric, key in (
            (Metric.ROWS_IN, "rows_in"),
            (Metric.ROWS_OUT, "rows_out"),
            (Metric.ROWS_QUARANTINED, "rows_quarantined"),
        ):
            if row.get(key) is not None:
                data.append(_datum(metric, float(row[key]), _dims(stage, row["dataset"]), now))
    if freshness:
        hours = freshness_hours(report.day, now)
        for result in report.results:
            if result.kind == Kind.FRESHNESS and result.status is Status.PASS:
                data.append(_datum(Metric.DATA_FRESHNESS_HOURS, hours, _dims(stage, result.table), now, "None"))
    return data


def alert_message(reports: Sequence[DQReport], stage: str, locations: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) of the SNS alert for the dates whose checks failed."""
    failing = [r for r in reports if r.failures]
    critical = sum(len(r.critical_failures) for r in failing)
    warnings = sum(len(r.warnings) for r in failing)
    days = ", ".join(r.day for r in failing)
    verdict = "FAILED" if critical else "warnings"
    subject = f"[{PROJECT} {stage}] data quality {verdict} {days}: {critical} critical, {warnings} warning"
    if len(subject) > SNS_SUBJECT_LIMIT:
        subject = subject[: SNS_SUBJECT_LIMIT - 3] + "..."
    lines = [f"Data-quality checks failed on stage {stage}.", ""]
    for report in failing:
        state = "critical failure: pipeline stopped" if not report.passed else "warnings only: pipeline continued"
        lines.append(f"{report.day}: {state} ({len(report.failures)} of {len(report.results)} checks failed)")
        ordered = report.critical_failures + report.warnings
        for result in ordered[:_MAX_LISTED]:
            lines.append(f"  [{result.severity}] {result.rule_id}: {result.detail}")
        if len(ordered) > _MAX_LISTED:
            lines.append(f"  ... and {len(ordered) - _MAX_LISTED} more")
        if report.day in locations:
            lines.append(f"  report: {locations[report.day]}")
        lines.append("")
    return subject, "\n".join(lines).rstrip() + "\n"
