"""Clickstream events -> sessions: one row per session and date with its funnel progress."""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from typing import Any

from ecomlake.contract import PARTITION_KEY
from ecomlake.etl.engines import api
from ecomlake.etl.transforms.common import conform
from ecomlake.schemas import FUNNEL_STAGES, PROCESSED_SESSIONS

# Counted per session, in the order of the schema's columns.
_EVENT_COUNTS = (
    ("page_views", "page_view"),
    ("product_views", "product_view"),
    ("add_to_carts", "add_to_cart"),
    ("checkouts", "checkout"),
    ("purchases", "purchase"),
)


def stage_rank(F: Any, event_type: Any) -> Any:
    """1-based position of an event in ``FUNNEL_STAGES``; null for events that are no stage."""
    expr = None
    for rank, stage in enumerate(FUNNEL_STAGES, start=1):
        cond = event_type == F.lit(stage)
        expr = F.when(cond, F.lit(rank)) if expr is None else expr.when(cond, F.lit(rank))
    return expr


def stage_name(F: Any, rank: Any) -> Any:
    expr = None
    for position, stage in enumerate(FUNNEL_STAGES, start=1):
        cond = rank == F.lit(position)
        expr = F.when(cond, F.lit(stage)) if expr is None else expr.when(cond, F.lit(stage))
    return expr


def epoch_seconds(F: Any, ts: Any) -> Any:
    """Whole seconds since the epoch (fractions dropped first, so both engines truncate)."""
    return F.unix_timestamp(F.date_trunc("second", ts))


def sessions(clicks: Any) -> Any:
    """Sessionise processed clickstream events (``processed/clickstream`` rows with ``date``).

    A session is its events with the same ``session_id`` in one date partition. Its
    device is the first event's (ties broken by event type, then page); its customer is
    the session's customer_id (the greatest, should a session carry two); a session
    whose events are none of the funnel stages counts as having reached ``page_view``.
    """
    F, _, Window = api(clicks)
    keys = [F.col(PARTITION_KEY), F.col("session_id")]
    first = Window.partitionBy(*keys).orderBy(
        F.col("timestamp").asc(), F.col("event_type").asc(), F.col("page").asc(), F.col("device").asc()
    )
    firsts = (
        clicks.select(PARTITION_KEY, "session_id", "device", F.row_number().over(first).alias("_n"))
        .where(F.col("_n") == 1)
        .select(PARTITION_KEY, "session_id", "device")
    )
    counts = [
        F.sum(F.when(F.col("event_type") == F.lit(event), F.lit(1)).otherwise(F.lit(0))).alias(name)
        for name, event in _EVENT_COUNTS
    ]
    totals = clicks.groupBy(PARTITION_KEY, "session_id").agg(
        F.max("customer_id").alias("customer_id"),
        F.min("timestamp").alias("session_start"),
        F.max("timestamp").alias("session_end"),
        F.count(F.lit(1)).alias("event_count"),
        *counts,
        F.max(stage_rank(F, F.col("event_type"))).alias("_stage"),
    )
    joined = totals.join(firsts, on=[PARTITION_KEY, "session_id"], how="inner")
    out = joined.select(
        "*",
        (epoch_seconds(F, F.col("session_end")) - epoch_seconds(F, F.col("session_start"))).alias("duration_seconds"),
        stage_name(F, F.coalesce(F.col("_stage"), F.lit(1))).alias("furthest_stage"),
        (F.col("purchases") > 0).alias("converted"),
    )
    return conform(out, PROCESSED_SESSIONS)
