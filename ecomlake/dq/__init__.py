"""Data quality: rules as data, compiled to SQL, evaluated on an engine, judged, reported, published.

``run_checks(lake, day)`` checks what a local lake publishes (``ecomlake dq``);
``ecomlake.runs.audit`` audits a run's unpublished view before it is published, on DuckDB
locally and on Spark in the Glue job ``data_quality`` -- one rule set, one evaluator
(``ecomlake.dq.evaluation``), two engines (``ecomlake.dq.engine``).
"""

from ecomlake.dq.checks import CheckResult, LakeFacts, Status
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import RULES, AnomalyMethod, Kind, Rule, Severity, Thresholds, default_rules
from ecomlake.dq.runner import audit_dates, check_dates, run_checks, write_report

__all__ = [
    "RULES",
    "AnomalyMethod",
    "CheckResult",
    "DQReport",
    "Kind",
    "LakeFacts",
    "Rule",
    "Severity",
    "Status",
    "Thresholds",
    "audit_dates",
    "check_dates",
    "default_rules",
    "run_checks",
    "write_report",
]
