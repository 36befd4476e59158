"""Read the operational records a date's checks need, through the snapshot being checked.

Engine-neutral: small JSON documents are read through ``Storage`` (a lake directory or the
S3 buckets alike), and the one thing that reads table data -- counting quarantined rows per
reason -- is the engine's (``Engine.count_reasons``), reading only the reason column.

* ETL run summaries: the snapshot names, per dataset and date, the run that computed it
  (``Snapshot.computed_by``); that run's journal (``ecomlake.snapshots.journal``) holds the
  summary, so an audit judges exactly the summary of the rows it checks;
* quarantined rows: the current version of ``quarantine/<dataset>/date=D/`` (a ``_reason``
  column), counted per reason;
* whole-file rejects (``<file>.reason.json`` beside the quarantined copy) and the
  validator's per-file reports (``contract.validation_report_key``), which belong to the
  landed files, not to a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from ecomlake.contract import (
    QUARANTINE_REASON_SUFFIX,
    Dataset,
    Zone,
    partition_prefix,
    validation_report_key,
)
from ecomlake.dq.checks import LakeFacts
from ecomlake.dq.engine import QueryError
from ecomlake.dq.rules import job_for_dataset
from ecomlake.snapshots import Snapshot, quarantine_unit
from ecomlake.snapshots.journal import JobOutput, read_outputs
from ecomlake.storage import Storage

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


def _json(storage: Storage, key: str) -> Any:
    try:
        return json.loads(storage.read_bytes(key))
    except (OSError, ValueError):
        return None


def drift_of(document: Any, file_name: str) -> dict[str, Any]:
    """Schema drift a validation report names: undeclared columns present, optional columns absent."""
    doc = document if isinstance(document, dict) else {}
    return {
        "file": str(doc.get("file") or file_name),
        "extra_columns": [str(c) for c in doc.get("extra_columns") or []],
        "missing_optional_columns": [str(c) for c in doc.get("missing_optional_columns") or []],
    }


# (quarantine unit, {date: version prefix}) -> {date: {reason: rows}}
ReasonCounter = Callable[[str, Mapping[str, str]], dict[str, dict[str, int]]]


class FactsLoader:
    """Loads :class:`LakeFacts` of dates of one snapshot; each run journal is read once."""

    def __init__(self, storage: Storage, view: Snapshot, count_reasons: ReasonCounter) -> None:
        self.storage, self.view, self.count_reasons = storage, view, count_reasons
        self._journal = cache(self._outputs)

    def _outputs(self, run_id: str) -> tuple[JobOutput, ...]:
        return tuple(read_outputs(self.storage, run_id))

    def load(self, day: str) -> LakeFacts:
        return self.load_all([day])[day]

    def load_all(self, dates: Iterable[str]) -> dict[str, LakeFacts]:
        """The facts of every date; quarantined rows are counted in one pass per dataset."""
        days = sorted(set(dates))
        loaded = {day: LakeFacts() for day in days}
        for dataset in Dataset:
            unit = quarantine_unit(dataset)
            prefixes = {day: prefix for day, prefix in self.view.prefixes(unit, days)}
            try:
                counted = self.count_reasons(unit, prefixes) if prefixes else {}
            except QueryError as err:
                # Unreadable quarantine files hold no countable rows: conservation then
                # fails on the gap, and the report names why.
                counted = {day: {f"unreadable: {err}": 0} for day in prefixes}
            for day, reasons in counted.items():
                if reasons and day in loaded:
                    loaded[day].quarantined[str(dataset)] = dict(sorted(reasons.items()))
        for day, facts in loaded.items():
            self.summaries(day, facts)
            self.rejected(day, facts)
            self.validation(day, facts)
        return loaded

    def summaries(self, day: str, facts: LakeFacts) -> None:
        for dataset in Dataset:
            run = self.view.computed_by(dataset, day)
            if run is None:
                continue
            job = str(job_for_dataset(dataset))
            for output in self._journal(run):
                if output.job != job:
                    continue
                facts.summary_jobs.add(job)
                for entry in summary_entries(output.summaries):
                    if entry_dataset(entry) == str(dataset) and str(entry.get("date")) == day:
                        facts.summaries[str(dataset)] = {**entry, "job": entry.get("job", job)}

    def rejected(self, day: str, facts: LakeFacts) -> None:
        """Files the validator rejected whole: their reason documents beside the quarantined copies."""
        for dataset in Dataset:
            folder = partition_prefix(Zone.QUARANTINE, dataset, day)
            rejected = []
            for key in self.storage.list(folder):
                name = key.rsplit("/", 1)[-1]
                if key.count("/") != folder.count("/") or not name.endswith(QUARANTINE_REASON_SUFFIX):
                    continue  # versioned row files live one folder down
                doc = _json(self.storage, key) or {}
                rejected.append(
                    {
                        "file": name.removesuffix(QUARANTINE_REASON_SUFFIX),
                        "rule": str(doc.get("rule", "unknown")),
                        "detail": str(doc.get("detail", "")),
                    }
                )
            if rejected:
                facts.rejected_files[str(dataset)] = rejected

    def validation(self, day: str, facts: LakeFacts) -> None:
        for dataset in Dataset:
            folder = validation_report_key(dataset, day, "_").rsplit("/", 1)[0] + "/"
            files = [
                drift_of(_json(self.storage, key), key.rsplit("/", 1)[-1].removesuffix(".json"))
                for key in self.storage.list(folder)
                if key.endswith(".json")
            ]
            if files:
                facts.drift[str(dataset)] = files
