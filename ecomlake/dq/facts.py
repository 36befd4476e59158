"""Read the operational records a date's checks need from a local lake directory.

ETL run summaries (``contract.run_summary_key``), quarantined rows
(``quarantine/<dataset>/date=D/*.parquet`` with a ``_reason`` column), whole-file rejects
(``<file>.reason.json`` beside the quarantined copy) and the validator's per-file reports
(``contract.validation_report_key``). The cloud handler stages the same keys from S3 into a
temporary directory first, so this module only ever reads files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from ecomlake.contract import (
    PARALLEL_ETL_JOBS,
    QUARANTINE_REASON_COLUMN,
    QUARANTINE_REASON_SUFFIX,
    Dataset,
    Zone,
    partition_prefix,
    run_summary_key,
    validation_report_key,
)
from ecomlake.dq.checks import LakeFacts

# Keys a run summary may name its dataset under (RunSummary.to_dict writes one of them).
_DATASET_KEYS = ("dataset", "table", "dataset_or_table")


def summary_entries(document: Any) -> list[dict[str, Any]]:
    """The per-dataset entries of a run-summary file: a list, one object, or {"summaries": [...]}."""
    if isinstance(document, dict):
        inner = document.get("summaries")
        document = inner if isinstance(inner, list) else [document]
    return [e for e in document if isinstance(e, dict)] if isinstance(document, list) else []


def entry_dataset(entry: dict[str, Any]) -> str | None:
    return next((str(entry[k]) for k in _DATASET_KEYS if entry.get(k)), None)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_summaries(lake: Path, day: str, facts: LakeFacts) -> None:
    for job in PARALLEL_ETL_JOBS:
        document = _read_json(lake / run_summary_key(job, day))
        if document is None:
            continue
        facts.summary_jobs.add(str(job))
        for entry in summary_entries(document):
            dataset = entry_dataset(entry)
            if dataset and str(entry.get("date") or day) == day:
                facts.summaries[dataset] = {**entry, "job": entry.get("job", str(job))}


def quarantine_dir(lake: Path, dataset: str, day: str) -> Path:
    return lake / partition_prefix(Zone.QUARANTINE, dataset, day)


def count_reasons(paths: list[Path]) -> dict[str, int]:
    """Quarantined rows per reason. Only the reason column is read (DuckDB projects it)."""
    if not paths:
        return {}
    reason = '"' + QUARANTINE_REASON_COLUMN + '"'
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT coalesce(CAST({reason} AS VARCHAR), 'unknown'), count(*) FROM read_parquet(?) GROUP BY 1",
            [[str(p) for p in paths]],
        ).fetchall()
    return dict(sorted((str(k), int(n)) for k, n in rows))


def read_quarantine(lake: Path, day: str, facts: LakeFacts) -> None:
    for dataset in Dataset:
        folder = quarantine_dir(lake, dataset, day)
        if not folder.is_dir():
            continue
        reasons = count_reasons(sorted(folder.glob("*.parquet")))
        if reasons:
            facts.quarantined[str(dataset)] = dict(sorted(reasons.items()))
        rejected = []
        for path in sorted(folder.glob(f"*{QUARANTINE_REASON_SUFFIX}")):
            doc = _read_json(path) or {}
            rejected.append(
                {
                    "file": path.name.removesuffix(QUARANTINE_REASON_SUFFIX),
                    "rule": str(doc.get("rule", "unknown")),
                    "detail": str(doc.get("detail", "")),
                }
            )
        if rejected:
            facts.rejected_files[str(dataset)] = rejected


def drift_of(document: Any, file_name: str) -> dict[str, Any]:
    """Schema drift a validation report names: undeclared columns present, optional columns absent."""
    doc = document if isinstance(document, dict) else {}
    return {
        "file": str(doc.get("file") or file_name),
        "extra_columns": [str(c) for c in doc.get("extra_columns") or []],
        "missing_optional_columns": [str(c) for c in doc.get("missing_optional_columns") or []],
    }


def read_validation(lake: Path, day: str, facts: LakeFacts) -> None:
    for dataset in Dataset:
        folder = (lake / validation_report_key(dataset, day, "_")).parent
        if not folder.is_dir():
            continue
        files = [drift_of(_read_json(p), p.name.removesuffix(".json")) for p in sorted(folder.glob("*.json"))]
        if files:
            facts.drift[str(dataset)] = files


def load_facts(lake: Path, day: str) -> LakeFacts:
    facts = LakeFacts()
    read_summaries(lake, day, facts)
    read_quarantine(lake, day, facts)
    read_validation(lake, day, facts)
    return facts
