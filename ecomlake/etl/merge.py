"""The master data merge: processed -> curated, for exactly the dates a run's changes reach.

By the as-of rule (``ecomlake.etl.transforms.curated``) a curated partition of date D
depends only on processed partitions up to D, so when a run changes processed dates
starting at S, the curated partitions to recompute are every date from S on -- and no
earlier one. That makes the result independent of the order runs and files came in: any
sequence of runs that ends with every date run after its last file equals one backfill.

Two ways to build the dimensions, chosen by :func:`plan_merge`:

* **incremental** -- every date the run changed is newer than every published date (the
  daily run): the published activity states are read (dimension-sized) and the new dates'
  activity folded in; nothing older than the run's dates is read;
* **full** -- late data, a re-run of a published date, or no published dimensions: the
  states are rebuilt from every processed partition, and the later curated partitions with
  them. Correct whatever happened before, and the oracle the incremental path is tested against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ecomlake.contract import CURATED_TABLES, PROCESSED_TABLES, Job, Table
from ecomlake.etl import io
from ecomlake.etl.jobs import write_built
from ecomlake.etl.summary import RunSummary
from ecomlake.etl.transforms import curated
from ecomlake.schemas import (
    DAILY_KPIS,
    DIM_CUSTOMERS,
    DIM_PRODUCTS,
    FACT_SALES,
    FCT_SESSIONS,
    PROCESSED_CLICKSTREAM,
    PROCESSED_PRODUCTS,
    PROCESSED_REVIEWS,
    PROCESSED_SESSIONS,
    PROCESSED_TRANSACTIONS,
    PRODUCT_ACTIVITY,
    TABLES,
)
from ecomlake.snapshots import Changes, Snapshot, table_unit

PROCESSED_UNITS = tuple(table_unit(t) for t in PROCESSED_TABLES)
CURATED_PARTITIONED_UNITS = tuple(table_unit(t) for t in CURATED_TABLES if TABLES[t].partition_key)
STATE_UNITS = (table_unit(Table.DIM_CUSTOMERS), table_unit(Table.PRODUCT_ACTIVITY))


@dataclass(frozen=True)
class MergePlan:
    """Which curated dates a merge rebuilds and how it builds the dimensions."""

    curated_dates: tuple[str, ...]  # every date from the earliest change on, in the merged view
    kpi_dates: tuple[str, ...]  # those with any processed partition (a KPI row each)
    incremental: bool
    changed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "curated_dates": list(self.curated_dates),
            "kpi_dates": list(self.kpi_dates),
            "mode": "incremental" if self.incremental else "full",
            "changed": list(self.changed),
        }


def _dates(snapshot: Snapshot, units: Iterable[str]) -> set[str]:
    return {d for unit in units for d in snapshot.dates(unit)}


def changed_processed_dates(changes: Changes) -> list[str]:
    """Dates of processed partitions a run wrote or emptied."""
    return sorted({d for unit in PROCESSED_UNITS for d in changes.dates(unit)})


def plan_merge(base: Snapshot, view: Snapshot, changed: Iterable[str], *, force_full: bool = False) -> MergePlan:
    """Pure: the merge for a run that changed processed ``changed`` dates (``view`` = base + the run's writes)."""
    days = tuple(sorted(set(changed)))
    if not days:
        return MergePlan((), (), True, ())
    start = days[0]
    with_data = _dates(view, PROCESSED_UNITS)
    curated_dates = tuple(sorted(d for d in with_data | _dates(base, CURATED_PARTITIONED_UNITS) if d >= start))
    published = _dates(base, PROCESSED_UNITS)
    has_state = all(base.version(unit) is not None for unit in STATE_UNITS)
    incremental = not force_full and has_state and bool(published) and start > max(published)
    return MergePlan(curated_dates, tuple(d for d in curated_dates if d in with_data), incremental, days)


def master_data_merge(session: Any, dates: list[str], lake: io.LakeIO, *, force_full: bool = False) -> list[RunSummary]:
    """Processed -> curated for the dates the run's processed changes reach (``dates`` if it changed none)."""
    scope = lake.run
    changed = changed_processed_dates(scope.prior) or list(dates)
    plan = plan_merge(scope.base, lake.view(), changed, force_full=force_full)
    if not plan.curated_dates:
        return []
    inputs = _inputs(session, lake, plan)
    try:
        return _build(session, lake, plan, inputs)
    finally:
        io.release(inputs["transactions"])


def _inputs(session: Any, lake: io.LakeIO, plan: MergePlan) -> dict[str, Any]:
    """What the builds read: the new dates only (incremental), or the whole history they depend on (full).

    Each read has a stable name (``m_in_<table>``), so the queries over them are kept (see :func:`_build`).
    """
    days = list(plan.curated_dates)
    upto = [d for d in _dates(lake.view(), [table_unit(Table.PRODUCTS)]) if d <= days[-1]]
    scope = None if not plan.incremental else days

    def read(schema: Any, **where: Any) -> Any:
        return io.read_table(session, lake, schema, name=f"m_in_{schema.name}", **where)

    found = {
        "transactions": io.materialize(read(PROCESSED_TRANSACTIONS, dates=scope), "m_transactions"),
        "reviews": read(PROCESSED_REVIEWS, dates=scope),
        "products": read(PROCESSED_PRODUCTS, dates=upto),
        "sessions": read(PROCESSED_SESSIONS, dates=days),
        "clicks": read(PROCESSED_CLICKSTREAM, dates=days),
        "days": io.dates_table(session, days, "m_days"),
        "kpi_days": io.dates_table(session, plan.kpi_dates, "m_kpi_days"),
    }
    if plan.incremental:
        published = lake.run.base
        found["customers"] = read(DIM_CUSTOMERS, view=published)
        found["activity"] = read(PRODUCT_ACTIVITY, view=published)
    return found


def _build(session: Any, lake: io.LakeIO, plan: MergePlan, i: dict[str, Any]) -> list[RunSummary]:
    """Build and write every curated table.

    On DuckDB each table's query is planned once per code version and merge mode and kept
    (``io.planned``): it reads only the stable names of :func:`_inputs`, so its text is the
    same for every run of that mode.
    """
    job = Job.MASTER_DATA_MERGE
    mode = "incremental" if plan.incremental else "full"
    days = list(plan.curated_dates)
    tx = i["transactions"]

    def customers() -> Any:
        if plan.incremental:
            return curated.merge_customer_activity(i["customers"], curated.customer_activity(tx))
        return curated.customer_activity(tx)

    def activity() -> Any:
        if plan.incremental:
            return curated.merge_product_activity(i["activity"], curated.product_activity(tx, i["reviews"]))
        return curated.product_activity(tx, i["reviews"])

    def new_customers() -> Any:
        firsts = curated.first_purchases(tx)
        if plan.incremental:
            firsts = firsts.join(i["customers"].select("customer_id"), on="customer_id", how="left_anti")
        return curated.new_customers_by_date(firsts)

    def planned(table: str, build: Callable[[], Any]) -> Any:
        return io.planned(session, f"m_q_{table}", ("merge", mode, table), build)

    kept_activity = io.materialize(planned("activity", activity), "m_activity")
    builds = (
        (FACT_SALES, lambda: curated.fact_sales(tx, i["products"], i["days"])),
        (PRODUCT_ACTIVITY, lambda: kept_activity),
        (DIM_PRODUCTS, lambda: curated.dim_products(i["products"], kept_activity)),
        (DIM_CUSTOMERS, lambda: curated.dim_customers_from(customers())),
        (FCT_SESSIONS, lambda: curated.fct_sessions(i["sessions"], i["clicks"], tx, i["days"])),
        (
            DAILY_KPIS,
            lambda: curated.daily_kpis(i["kpi_days"], tx, i["sessions"], i["reviews"], new_customers()),
        ),
    )
    summaries: list[RunSummary] = []
    try:
        for schema, build in builds:
            started = time.perf_counter()
            built = kept_activity if schema is PRODUCT_ACTIVITY else planned(schema.name, build)
            summaries.extend(write_built(job, schema, built, days, lake, started))
    finally:
        io.release(kept_activity)
    return summaries
