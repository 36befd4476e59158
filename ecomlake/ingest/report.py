"""The validator's per-file report, written as JSON at ``contract.validation_report_key``.

It holds no wall-clock time, so validating the same bytes twice writes the same report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ecomlake.exceptions import FileRejectedError
from ecomlake.schemas import REASON_ORDER

ACCEPTED = "accepted"
REJECTED = "rejected"
# Fault examples kept per reason: enough to see the pattern, small enough to read.
EXAMPLES_PER_REASON = 5


@dataclass(frozen=True)
class Rejection:
    """Why a whole file was refused: a ``schemas.FileRule`` code and where it was found."""

    rule: str
    detail: str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (f"line {self.line}" if self.line else "", f"column {self.column!r}" if self.column else "")
            if part
        )
        return f"{self.rule}{f' ({where})' if where else ''}: {self.detail}"

    @classmethod
    def of(cls, err: FileRejectedError) -> Rejection:
        """The rejection a framing or stream error stands for."""
        return cls(str(err.rule), err.detail, err.line, err.column)


@dataclass(frozen=True)
class FaultExample:
    """One bad row: the rule it broke, where, and the value found."""

    reason: str
    line: int
    column: str | None
    value: str | None
    detail: str


@dataclass
class ValidationReport:
    """What the validator found in one raw file."""

    key: str
    file: str
    dataset: str | None = None
    date: str | None = None
    size: int | None = None
    etag: str | None = None
    status: str = ACCEPTED
    rejection: Rejection | None = None
    format: str | None = None  # csv | json_array | json_lines
    compression: str | None = None  # gzip | None
    encoding: str | None = None  # utf-8 | utf-8-bom
    line_endings: str | None = None  # lf | crlf | cr | mixed | none
    columns: list[str] = field(default_factory=list)  # CSV header, or JSON keys in order of appearance
    rows: int = 0  # records read (blank lines and the header excluded), bad ones included
    valid_rows: int = 0
    faults: dict[str, int] = field(default_factory=dict)  # Reason -> rows, in Reason order
    examples: list[FaultExample] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)  # schema drift: undeclared columns (kept, unused)
    missing_optional_columns: list[str] = field(default_factory=list)  # schema drift: nullable columns absent
    report_key: str | None = None
    quarantine_key: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    @property
    def fault_rows(self) -> int:
        return sum(self.faults.values())

    @property
    def has_drift(self) -> bool:
        return bool(self.extra_columns or self.missing_optional_columns)

    def reject(self, rejection: Rejection) -> None:
        self.status = REJECTED
        self.rejection = rejection

    def add_fault(self, reason: str, line: int, column: str | None, value: str | None, detail: str) -> None:
        reason = str(reason)  # a Reason member is stored as its plain code
        count = self.faults.get(reason, 0)
        self.faults[reason] = count + 1
        if count < EXAMPLES_PER_REASON:
            self.examples.append(FaultExample(reason, line, column, value, detail))

    def finish(self) -> None:
        """Order faults by ``Reason`` precedence and examples by line, for stable output."""
        order = {reason.value: i for i, reason in enumerate(REASON_ORDER)}
        self.faults = dict(sorted(self.faults.items(), key=lambda kv: order.get(kv[0], len(order))))
        self.examples.sort(key=lambda e: (e.line, order.get(e.reason, len(order))))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fault_rows"] = self.fault_rows
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if values.get("rejection"):
            values["rejection"] = Rejection(**values["rejection"])
        values["examples"] = [FaultExample(**e) for e in values.get("examples", [])]
        return cls(**values)

    def summary(self) -> str:
        """One line for logs and the console."""
        if self.rejected:
            return f"{self.key}: rejected, {self.rejection}"
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items()) or "none"
        return f"{self.key}: accepted, {self.rows} rows, faults: {faults}"
