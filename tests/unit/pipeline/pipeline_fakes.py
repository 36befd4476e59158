"""Fakes for the pipeline tests: step callables that record their calls instead of running ETL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecomlake.local.runner import StepContext
from ecomlake.pipeline import PIPELINE, GlueJobStep, LambdaStep, PipelineFunction


class Recorder:
    """A registry of fake step callables: every call is logged as ``(step, date)``.

    ``fail[name] = [exc, ...]`` makes the next calls of that step raise those exceptions,
    in order, before it starts succeeding.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.contexts: list[StepContext] = []
        self.fail: dict[str, list[BaseException]] = {}
        self.repairs: list[str] = []
        self.staged_bytes: int | None = None  # the plan's estimate; None: the plan returns none

    def fn(self, name: str) -> Callable[[StepContext], Any]:
        def call(ctx: StepContext) -> Any:
            self.calls.append((name, ctx.date))
            self.contexts.append(ctx)
            pending = self.fail.get(name)
            if pending:
                raise pending.pop(0)
            if isinstance(ctx.step, GlueJobStep):
                return {
                    "rows_in": 10 * len(ctx.run_dates),
                    "rows_out": 9 * len(ctx.run_dates),
                    "rows_quarantined": len(ctx.run_dates),
                }
            if isinstance(ctx.step, LambdaStep) and ctx.step.function is PipelineFunction.PLAN:
                # A plan that adds one repair date, as a lost partition would.
                plan = {"dates": sorted({*ctx.dates, *self.repairs}), "base_seq": 4, "payload": ctx.payload()}
                if self.staged_bytes is not None:
                    plan["staged_bytes"] = self.staged_bytes
                return plan
            if isinstance(ctx.step, LambdaStep):
                return {"payload": ctx.payload()}
            return {"subject": ctx.subject, "message": ctx.message}

        return call

    def registry(self) -> dict[str, Callable[[StepContext], Any]]:
        return {step.name: self.fn(step.name) for step in PIPELINE.walk() if step.kind not in ("parallel", "choice")}

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class ServiceError(Exception):
    """Stands for a named AWS service error (``error_name`` is what Step Functions would report)."""

    def __init__(self, error_name: str) -> None:
        self.error_name = error_name
        super().__init__(f"simulated {error_name}")
