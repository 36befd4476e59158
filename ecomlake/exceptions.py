"""Every error ecomlake raises on purpose derives from EcomlakeError.

The CLI prints ``str(error)`` as one line and exits non-zero; it never shows a
traceback for these. Anything else is a bug and is allowed to surface.
"""

from __future__ import annotations


class EcomlakeError(Exception):
    """Base class: a clear, one-line, user-facing error."""


class InvalidArgumentError(EcomlakeError, ValueError):
    """A command-line or API argument is out of its domain."""


class InvalidDateError(InvalidArgumentError):
    """A date that is not a real YYYY-MM-DD calendar day."""


class UnknownDatasetError(InvalidArgumentError):
    """A dataset name that is not one of the four sources."""


class UnknownQueryError(InvalidArgumentError):
    """A query name with no matching file in sql/."""


class InvalidKeyError(EcomlakeError):
    """An object key outside the raw/<dataset>/date=YYYY-MM-DD/<file> layout."""


class FileRejectedError(EcomlakeError):
    """A raw file that cannot be read at all; it is quarantined whole with a reason."""

    def __init__(self, rule: str, detail: str, line: int | None = None, column: str | None = None):
        self.rule, self.detail, self.line, self.column = rule, detail, line, column
        where = "".join([f" line {line}" if line is not None else "", f" column {column!r}" if column else ""])
        super().__init__(f"{rule}:{where} {detail}".replace(": ", ": ", 1).strip())


class LakeNotFoundError(EcomlakeError):
    """The lake directory or a required partition is missing."""


class DataQualityError(EcomlakeError):
    """A critical data-quality check failed; the pipeline stops."""


class PipelineStepError(EcomlakeError):
    """A pipeline step failed; carries the step name."""

    def __init__(self, step: str, message: str):
        self.step = step
        super().__init__(f"step {step!r} failed: {message}")
