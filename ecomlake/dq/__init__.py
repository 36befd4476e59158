"""Data quality: rules as data, compiled to DuckDB SQL, judged, reported, published.

``run_checks(lake, day)`` is the local entry point (the pipeline runner and ``ecomlake dq``
call it); ``handlers/data_quality.py`` runs the same checks on S3 data in the cloud.
"""

from ecomlake.dq.checks import CheckResult, LakeFacts, Status, evaluate
from ecomlake.dq.report import DQReport
from ecomlake.dq.rules import RULES, AnomalyMethod, Kind, Rule, Severity, default_rules
from ecomlake.dq.runner import check_lake, run_checks, write_report

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
    "check_lake",
    "default_rules",
    "evaluate",
    "run_checks",
    "write_report",
]
