"""RFM scoring: recency, frequency and monetary quintiles, and the segment they map to.

Scores are quintiles computed with ``ntile(5)`` over all customers, 5 being best (most
recent, most orders, highest lifetime value). Customers tied on a measure are ordered by
``customer_id`` so the split is deterministic and the same on every engine.

Segments are the first rule of :data:`SEGMENT_RULES` a customer's (r, f) scores satisfy,
plus m for Champions. The rules cover all 125 score combinations (tested), so every
customer gets one of ``schemas.RFM_SEGMENTS``.
"""

# ruff: noqa: N803 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ecomlake.schemas import RFM_SEGMENTS


@dataclass(frozen=True)
class SegmentRule:
    """A segment and the inclusive score ranges a customer must fall in."""

    segment: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)
    meaning: str = ""

    def matches(self, r: int, f: int, m: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1] and self.m[0] <= m <= self.m[1]

    def condition(self) -> str:
        parts = []
        for name, (lo, hi) in (("R", self.r), ("F", self.f), ("M", self.m)):
            if (lo, hi) == (1, 5):
                continue
            parts.append(f"{name} = {lo}" if lo == hi else f"{name} {lo}-{hi}")
        return ", ".join(parts) or "any"


SEGMENT_RULES: Final[tuple[SegmentRule, ...]] = (
    SegmentRule("Champions", r=(4, 5), f=(4, 5), m=(4, 5), meaning="bought recently, often, and spend the most"),
    SegmentRule("Loyal", r=(3, 5), f=(4, 5), meaning="buy often and not long ago"),
    SegmentRule("Potential Loyalist", r=(4, 5), f=(2, 5), meaning="recent customers with a few orders"),
    SegmentRule("New", r=(4, 5), f=(1, 1), meaning="recent first-time buyers"),
    SegmentRule("At Risk", r=(1, 2), f=(3, 5), meaning="used to buy often, not lately"),
    SegmentRule("Needs Attention", r=(3, 3), meaning="middling recency, few orders"),
    SegmentRule("Hibernating", r=(2, 2), meaning="long ago and seldom"),
    SegmentRule("Lost", r=(1, 1), meaning="longest ago and seldom"),
)
assert {rule.segment for rule in SEGMENT_RULES} == set(RFM_SEGMENTS)


def segment_of(r: int, f: int, m: int) -> str:
    """The segment of one score triple (the same rules the column expression applies)."""
    for rule in SEGMENT_RULES:
        if rule.matches(r, f, m):
            return rule.segment
    raise ValueError(f"no segment for scores {r}{f}{m}")


def segment_expr(F: Any, r: Any, f: Any, m: Any) -> Any:
    """Column expression of :func:`segment_of`."""
    expr = None
    for rule in SEGMENT_RULES:
        cond = r.between(*rule.r) & f.between(*rule.f) & m.between(*rule.m)
        expr = F.when(cond, F.lit(rule.segment)) if expr is None else expr.when(cond, F.lit(rule.segment))
    return expr
