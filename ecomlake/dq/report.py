"""The data-quality report of one date: results, row conservation and quarantine, as JSON and HTML.

The HTML page is self-contained (inline CSS, no script, no external asset), so it can be
opened from the lake directory, served by the dashboard or attached to an alert as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from ecomlake.dq.checks import CheckResult, LakeFacts, Status
from ecomlake.dq.rules import Severity

REPORT_VERSION = 1
# The run-summary fields a report's row-conservation table keeps.
_SUMMARY_KEYS = ("job", "rows_in", "rows_out", "rows_quarantined", "duplicates_dropped")


@dataclass
class DQReport:
    """All check results for one date, plus the row accounting they were judged on."""

    day: str
    results: list[CheckResult]
    generated_at: str
    facts: LakeFacts = field(default_factory=LakeFacts)
    lake: str = ""

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.critical]

    @property
    def warnings(self) -> list[CheckResult]:
        """Failed checks of warning severity."""
        return [r for r in self.results if r.failed and not r.critical]

    @property
    def passed(self) -> bool:
        """True unless a critical check failed (warnings do not stop the pipeline)."""
        return not self.critical_failures

    def counts(self) -> dict[str, int]:
        return {
            "checks": len(self.results),
            "passed": sum(r.status is Status.PASS for r in self.results),
            "failed": len(self.failures),
            "critical_failed": len(self.critical_failures),
            "warnings_failed": len(self.warnings),
            "skipped": sum(r.status is Status.SKIP for r in self.results),
        }

    def conservation(self) -> list[dict[str, Any]]:
        """Per dataset: the run summary's row accounting and what quarantine holds, by reason."""
        rows = []
        for dataset in sorted(set(self.facts.summaries) | set(self.facts.quarantined)):
            summary = self.facts.summaries.get(dataset, {})
            rows.append(
                {
                    "dataset": dataset,
                    "job": summary.get("job"),
                    "rows_in": summary.get("rows_in"),
                    "rows_out": summary.get("rows_out"),
                    "rows_quarantined": summary.get("rows_quarantined"),
                    "duplicates_dropped": summary.get("duplicates_dropped"),
                    "quarantined_by_reason": dict(self.facts.quarantined.get(dataset, {})),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "date": self.day,
            "generated_at": self.generated_at,
            "lake": self.lake,
            "passed": self.passed,
            "summary": self.counts(),
            "critical_failures": [r.rule_id for r in self.critical_failures],
            "warnings": [r.rule_id for r in self.warnings],
            "checks": [r.to_dict() for r in self.results],
            "conservation": self.conservation(),
            "quarantine": {ds: dict(reasons) for ds, reasons in sorted(self.facts.quarantined.items())},
            "rejected_files": {ds: list(files) for ds, files in sorted(self.facts.rejected_files.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DQReport:
        """A report read back from its JSON (what the cloud's verdict step publishes metrics from)."""
        results = [
            CheckResult(
                rule_id=str(c["id"]),
                table=str(c["table"]),
                kind=str(c["kind"]),
                severity=str(c["severity"]),
                status=Status(c["status"]),
                value=c.get("value"),
                expected=str(c.get("expected", "")),
                detail=str(c.get("detail", "")),
                sql=str(c.get("sql", "")),
                samples=tuple(dict(x) for x in c.get("samples") or ()),
            )
            for c in doc.get("checks") or []
        ]
        facts = LakeFacts(
            summaries={
                str(row["dataset"]): {k: row.get(k) for k in _SUMMARY_KEYS}
                for row in doc.get("conservation") or []
                if row.get("rows_in") is not None
            },
            quarantined={str(ds): dict(reasons) for ds, reasons in (doc.get("quarantine") or {}).items()},
            rejected_files={str(ds): list(files) for ds, files in (doc.get("rejected_files") or {}).items()},
        )
        return cls(
            day=str(doc["date"]),
            results=results,
            generated_at=str(doc.get("generated_at", "")),
            facts=facts,
            lake=str(doc.get("lake", "")),
        )

    def to_html(self) -> str:
        return render_html(self)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1f2933;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.meta{color:#616e7c;margin-bottom:1rem}
.banner{padding:.75rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
.banner.ok{background:#e3f9e5;color:#05400a}.banner.bad{background:#ffe3e3;color:#610404}
.banner.warn{background:#fff3c4;color:#513c06}
.tiles{display:flex;gap:.75rem;flex-wrap:wrap}
.tile{border:1px solid #e4e7eb;border-radius:6px;padding:.5rem .9rem;min-width:7rem}
.tile b{display:block;font-size:1.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:0 .5rem;border-radius:999px;font-size:.8rem;font-weight:600}
.pass{background:#e3f9e5;color:#05400a}.fail{background:#ffe3e3;color:#610404}
.skip{background:#e4e7eb;color:#3e4c59}.critical{color:#610404}.warning{color:#8d6708}
code{font-size:.8rem;color:#3e4c59;word-break:break-all}
details summary{cursor:pointer;color:#3e4c59}
"""


def _cell(value: Any, cls: str = "") -> str:
    text = "" if value is None else str(value)
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(text)}</td>"


def _pill(status: str) -> str:
    return f'<span class="pill {escape(status)}">{escape(status.upper())}</span>'


def _checks_table(results: list[CheckResult]) -> str:
    head = "<tr><th>check</th><th>severity</th><th>status</th><th>value</th><th>expected</th><th>detail</th></tr>"
    body = []
    for r in results:
        extra = ""
        if r.samples:
            extra += "<details><summary>examples</summary><code>" + escape(json.dumps(r.samples, default=str))
            extra += "</code></details>"
        if r.failed and r.sql:
            extra += f"<details><summary>query</summary><code>{escape(r.sql)}</code></details>"
        body.append(
            "<tr>"
            + _cell(r.rule_id)
            + f'<td class="{escape(r.severity)}">{escape(r.severity)}</td>'
            + f"<td>{_pill(str(r.status))}</td>"
            + _cell(r.value, "num")
            + _cell(r.expected)
            + f"<td>{escape(r.detail)}{extra}</td>"
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def render_html(report: DQReport) -> str:
    counts = report.counts()
    if not report.passed:
        banner = f'<div class="banner bad">FAILED: {counts["critical_failed"]} critical check(s) failed</div>'
    elif report.warnings:
        banner = f'<div class="banner warn">PASSED with {counts["warnings_failed"]} warning(s)</div>'
    else:
        banner = '<div class="banner ok">PASSED: every check passed or had nothing to check</div>'
    tiles = "".join(
        f'<div class="tile"><b>{counts[k]}</b>{escape(label)}</div>'
        for k, label in (
            ("checks", "checks"),
            ("passed", "passed"),
            ("critical_failed", "critical failed"),
            ("warnings_failed", "warnings"),
            ("skipped", "skipped"),
        )
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Data quality {escape(report.day)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Data quality report: {escape(report.day)}</h1>",
        f'<div class="meta">generated {escape(report.generated_at)}'
        + (f" from {escape(report.lake)}" if report.lake else "")
        + "</div>",
        banner,
        f'<div class="tiles">{tiles}</div>',
    ]
    if report.failures:
        parts += ["<h2>Failed checks</h2>", _checks_table(report.failures)]
    parts += ["<h2>Row conservation</h2>", _conservation_table(report)]
    parts += ["<h2>Quarantine</h2>", _quarantine_table(report)]
    parts += ["<h2>All checks</h2>", _checks_table(report.results)]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _conservation_table(report: DQReport) -> str:
    rows = report.conservation()
    if not rows:
        return "<p>No ETL run summary or quarantined rows for this date.</p>"
    head = (
        "<tr><th>dataset</th><th>job</th><th>rows in</th><th>rows out</th>"
        "<th>quarantined</th><th>duplicates dropped</th></tr>"
    )
    body = "".join(
        "<tr>"
        + _cell(r["dataset"])
        + _cell(r["job"])
        + _cell(r["rows_in"], "num")
        + _cell(r["rows_out"], "num")
        + _cell(r["rows_quarantined"], "num")
        + _cell(r["duplicates_dropped"], "num")
        + "</tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def _quarantine_table(report: DQReport) -> str:
    facts = report.facts
    rows = [(ds, reason, n) for ds, reasons in sorted(facts.quarantined.items()) for reason, n in reasons.items()]
    out = []
    if rows:
        out.append("<table><tr><th>dataset</th><th>reason</th><th>rows</th></tr>")
        out += ["<tr>" + _cell(ds) + _cell(reason) + _cell(n, "num") + "</tr>" for ds, reason, n in rows]
        out.append("</table>")
    else:
        out.append("<p>No quarantined rows for this date.</p>")
    files = [(ds, f) for ds, fs in sorted(facts.rejected_files.items()) for f in fs]
    if files:
        out.append("<table><tr><th>dataset</th><th>rejected file</th><th>rule</th><th>detail</th></tr>")
        out += [
            "<tr>" + _cell(ds) + _cell(f["file"]) + _cell(f["rule"]) + _cell(f["detail"]) + "</tr>" for ds, f in files
        ]
        out.append("</table>")
    return "\n".join(out)


def severity_rank(result: CheckResult) -> tuple[int, str]:
    """Sort key: critical failures, then warnings, then the rest, each by id."""
    if result.critical:
        return 0, result.rule_id
    if result.failed:
        return 1, result.rule_id
    return (2 if result.severity == Severity.CRITICAL else 3), result.rule_id
