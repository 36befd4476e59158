"""The whole pipeline on generated data, end to end, on one machine.

generate -> land in raw (validate + route) -> one pipeline run over every date ->
every analytics query -> dashboard. Deterministic for a given seed and idempotent: a
second run rewrites the same partitions with the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecomlake.exceptions import PipelineStepError
from ecomlake.generate.config import GenerateParams

# Generated source files are kept beside the zones, as an upstream system would deliver them.
GENERATED_DIR = "_generated"


@dataclass(frozen=True)
class DemoConfig:
    """Seed scale by default (the generator's own defaults): 30 days, 100k transactions, 500 products,
    50k clicks, 2k reviews, 1% bad."""

    days: int = GenerateParams.days
    start: str = GenerateParams.start
    transactions: int = GenerateParams.transactions
    products: int = GenerateParams.products
    clickstream: int = GenerateParams.clickstream
    reviews: int = GenerateParams.reviews
    seed: int = GenerateParams.seed
    bad_rate: float = 0.01
    engine: str = "duckdb"


@dataclass(frozen=True)
class StepRow:
    """One line of the pipeline steps table."""

    name: str
    status: str
    seconds: float


@dataclass(frozen=True)
class DatasetRows:
    """Rows of one dataset (or derived processed table) through the zones."""

    name: str
    raw: int | None
    processed: int
    quarantined: int
    quarantined_by_reason: dict[str, int]


@dataclass(frozen=True)
class RejectedFile:
    dataset: str
    date: str
    file: str
    reason: str


@dataclass(frozen=True)
class DQStatus:
    dates: int
    passed: int
    failed: int
    warnings: int
    failed_dates: list[str]


@dataclass(frozen=True)
class Answer:
    """The headline answer to one business question, from its query's rows."""

    query: str
    question: str
    answer: str


@dataclass
class DemoSummary:
    steps: list[StepRow]
    zones: list[DatasetRows]
    curated: dict[str, int]
    rejected_files: list[RejectedFile]
    dq: DQStatus
    answers: list[Answer]


@dataclass
class DemoResult:
    lake: Path
    manifest: dict[str, Any]
    files_landed: int
    files_rejected: int
    run: dict[str, Any]
    queries: dict[str, int] = field(default_factory=dict)
    site: Path | None = None
    summary: DemoSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lake"] = str(self.lake)
        out["site"] = str(self.site) if self.site else None
        return out


Progress = Callable[[str], None]

# The dashboard's URL when served locally (`ecomlake dashboard --serve`).
DASHBOARD_COMMAND = ".venv/bin/ecomlake dashboard --serve"
DASHBOARD_URL = "http://127.0.0.1:8050"


def dashboard_command(lake: Path, default_lake: Path) -> str:
    """The command that serves this lake's dashboard: ``--lake`` is named unless it is the default one."""
    import shlex

    if Path(lake).resolve() == Path(default_lake).resolve():
        return DASHBOARD_COMMAND
    return f"{DASHBOARD_COMMAND} --lake {shlex.quote(str(lake))}"


# customer_ltv lists the top 100 by default; the top-decile share needs the whole first decile.
LTV_ALL_PARAMS = {"top_n": "100000"}


# --------------------------------------------------------------------------- summary (pure)


def collapse_steps(steps: list[dict[str, Any]]) -> list[StepRow]:
    """The run record's steps, with the per-date children of a map step folded into its row.

    Parallel branches keep their own (indented) row; a map step becomes
    "data_quality (30 dates)" with its status and its seconds (wall time of all dates).
    """
    per_date: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        if step.get("kind") == "date" and step.get("parent"):
            per_date.setdefault(step["parent"], []).append(step)
    rows = []
    for step in steps:
        if step.get("kind") == "date" and step.get("parent"):
            continue
        name, seconds = str(step.get("name")), float(step.get("seconds") or 0.0)
        if name in per_date:
            children = per_date[name]
            name = f"{name} ({len(children)} dates)"
            seconds = seconds or sum(float(c.get("seconds") or 0.0) for c in children)
        elif step.get("parent"):
            name = f"  {name}"
        rows.append(StepRow(name, str(step.get("status")), round(seconds, 2)))
    return rows


def zone_rows(manifest: dict[str, Any], summaries: list[dict[str, Any]]) -> list[DatasetRows]:
    """Raw rows (generator counts) against processed and quarantined rows (ETL summaries).

    ``summaries`` are the raw -> processed ETL summaries (not the master merge's); a table
    the ETL derives (sessions) has no raw count.
    """
    raw = {str(k): int(v) for k, v in manifest.get("counts", {}).items()}
    processed: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    for s in summaries:
        name = str(s["dataset_or_table"])
        processed[name] = processed.get(name, 0) + int(s["rows_out"])
        quarantined[name] = quarantined.get(name, 0) + int(s["rows_quarantined"])
        merged = reasons.setdefault(name, {})
        for reason, n in (s.get("quarantined_by_reason") or {}).items():
            merged[reason] = merged.get(reason, 0) + int(n)
    names = [*raw, *sorted(n for n in processed if n not in raw)]
    return [
        DatasetRows(
            name,
            raw.get(name),
            processed.get(name, 0),
            quarantined.get(name, 0),
            dict(sorted(reasons.get(name, {}).items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        for name in names
    ]


def dq_status(reports: list[dict[str, Any]]) -> DQStatus:
    """Dates passed / failed and failing warning checks, from the per-date DQ reports."""
    failed_dates = sorted(str(r["date"]) for r in reports if not r.get("passed"))
    warnings = 0
    for r in reports:
        summary = r.get("summary") or {}
        warnings += int(summary.get("warnings_failed", len(r.get("warnings") or [])))
    return DQStatus(len(reports), len(reports) - len(failed_dates), len(failed_dates), warnings, failed_dates)


def _records(result: Any) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _money(value: Any) -> str:
    return f"{float(value):,.2f}"


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.1f}%"


def _answer_top_products(recs: list[dict[str, Any]]) -> str:
    best = max(recs, key=lambda r: (float(r["revenue"] or 0), r["product_id"]))
    return f"{best['product_name']} ({best['product_id']}, {best['category']}): revenue {_money(best['revenue'])}"


def _answer_customer_ltv(recs: list[dict[str, Any]]) -> str:
    top = min(recs, key=lambda r: r["ltv_rank"])
    decile = [r for r in recs if r["ltv_decile"] == 1]
    text = f"top customer {top['customer_id']} ({top['segment']}): LTV {_money(top['lifetime_value'])}"
    if decile:
        share = max(float(r["cumulative_value_share"]) for r in decile)
        # Only the rows listed are known: when every one is in decile 1 the share is a floor.
        bound = ">= " if len(decile) == len(recs) else ""
        text += f"; top 10% of customers hold {bound}{_pct(share)} of value"
    return text


def _answer_conversion_funnel(recs: list[dict[str, Any]]) -> str:
    overall = [r for r in recs if r["device"] == "all"]
    first = min(r["period_start"] for r in overall)
    stages = {r["stage"]: r for r in overall if r["period_start"] == first}
    purchase, views = stages["purchase"], stages["page_view"]
    return (
        f"{_pct(purchase['overall_conversion'])} of sessions purchase "
        f"({int(purchase['sessions']):,} of {int(views['sessions']):,})"
    )


def _answer_recommendations(recs: list[dict[str, Any]]) -> str:
    parts = []
    pairs = [r for r in recs if r["kind"] == "bought_together" and r["lift"] is not None]
    if pairs:
        best = max(pairs, key=lambda r: (float(r["lift"]), -int(r["kind_rank"])))
        parts.append(
            f"{best['product_name']} + {best['related_product_name']}: lift {float(best['lift']):.2f} "
            f"({int(best['pair_baskets']):,} baskets)"
        )
    viewed = [r for r in recs if r["kind"] == "viewed_not_bought"]
    if viewed:
        top = min(viewed, key=lambda r: r["kind_rank"])
        parts.append(
            f"viewed not bought: {top['product_name']} ({int(top['views']):,} views, "
            f"{_pct(top['view_to_purchase_rate'] or 0)} bought)"
        )
    return "; ".join(parts) or "no pairs"


def _answer_revenue_trends(recs: list[dict[str, Any]]) -> str:
    last = max(recs, key=lambda r: r["period_start"])
    growth = last["revenue_growth"]
    change = "no earlier period" if growth is None else f"{float(growth) * 100:+.1f}% on the period before"
    return f"{last['period_start']}: revenue {_money(last['revenue'])}, {change}"


def _answer_customer_segments(recs: list[dict[str, Any]]) -> str:
    top = max(recs, key=lambda r: (int(r["customers"] or 0), -recs.index(r)))
    return (
        f"{top['segment']}: {int(top['customers']):,} customers ({_pct(top['customer_share'] or 0)}), "
        f"{_pct(top['revenue_share'] or 0)} of revenue"
    )


def _answer_return_rates(recs: list[dict[str, Any]]) -> str:
    categories = [r for r in recs if r["dimension"] == "category"]
    top = max(categories, key=lambda r: (float(r["return_rate"] or 0), r["dimension_value"]))
    return (
        f"{top['dimension_value']}: {_pct(top['return_rate'])} returned "
        f"({int(top['returns']):,} of {int(top['orders']):,} orders)"
    )


def _answer_daily_kpis(recs: list[dict[str, Any]]) -> str:
    last = max(recs, key=lambda r: r["date"])
    return (
        f"{last['date']}: revenue {_money(last['revenue'])}, {int(last['orders']):,} orders, "
        f"AOV {_money(last['avg_order_value'])}"
    )


def _answer_revenue_by_category(recs: list[dict[str, Any]]) -> str:
    totals: dict[str, float] = {}
    for r in recs:
        totals[r["category"]] = totals.get(r["category"], 0.0) + float(r["revenue"] or 0)
    overall = sum(totals.values())
    best = max(sorted(totals), key=lambda c: totals[c])
    periods = len({r["period_start"] for r in recs})
    share = f" ({_pct(totals[best] / overall)} of revenue)" if overall else ""
    return f"{best}: revenue {_money(totals[best])}{share} over {periods} period(s)"


def _answer_ltv_distribution(recs: list[dict[str, Any]]) -> str:
    biggest = max(recs, key=lambda r: (int(r["customers"] or 0), -int(r["band_index"])))
    end = biggest["band_end"]
    band = f"{_money(biggest['band_start'])}+" if end is None else f"{_money(biggest['band_start'])}-{_money(end)}"
    total = int(recs[0]["customers_total"])
    return f"{int(biggest['customers']):,} of {total:,} customers ({_pct(biggest['customer_share'])}) have LTV {band}"


# query -> (business question, headline from the query's records)
ANSWERS: dict[str, tuple[str, Callable[[list[dict[str, Any]]], str]]] = {
    "top_products": ("Best-selling product by revenue", _answer_top_products),
    "customer_ltv": ("Most valuable customers", _answer_customer_ltv),
    "conversion_funnel": ("Page view -> purchase conversion", _answer_conversion_funnel),
    "product_recommendations": ("Bought together / viewed not bought", _answer_recommendations),
    "revenue_trends": ("Latest revenue and growth", _answer_revenue_trends),
    "revenue_by_category": ("Category with the most revenue", _answer_revenue_by_category),
    "ltv_distribution": ("Most common lifetime-value band", _answer_ltv_distribution),
    "customer_segments": ("Largest customer segment", _answer_customer_segments),
    "return_rates": ("Category returned most", _answer_return_rates),
    "daily_kpis": ("Latest day", _answer_daily_kpis),
}


def answers(results: dict[str, Any]) -> list[Answer]:
    """One headline per business question from the query results (objects with columns and rows)."""
    out = []
    for name, (question, headline) in ANSWERS.items():
        result = results.get(name)
        recs = _records(result) if result is not None else []
        out.append(Answer(name, question, headline(recs) if recs else "no rows"))
    return out


# --------------------------------------------------------------------------- summary (lake reads)


def read_etl_summaries(lake: Path) -> list[dict[str, Any]]:
    """The published ETL summary of every dataset and date (raw -> processed jobs)."""
    from ecomlake.runs.reports import published_summaries
    from ecomlake.storage import LocalStorage

    return published_summaries(LocalStorage(lake))


def read_dq_reports(lake: Path, dates: list[str]) -> list[dict[str, Any]]:
    from ecomlake.contract import Zone

    paths = [lake / Zone.REPORTS / "dq" / f"date={day}.json" for day in dates]
    return [json.loads(p.read_text()) for p in paths if p.is_file()]


def count_rows(lake: Path, zone: str) -> dict[str, int]:
    """Rows per table of a zone as published, from the Parquet footers (no data read)."""
    from ecomlake.runs.reports import published_row_counts

    return published_row_counts(lake, zone)


def _rejected_files(landed: list[Any]) -> list[RejectedFile]:
    out = []
    for r in landed:
        if r.rejected:
            rejection = r.report.rejection
            out.append(RejectedFile(r.dataset, r.date, r.file, str(rejection.rule if rejection else "rejected")))
    return out


# --------------------------------------------------------------------------- run


def run_demo(lake: Path, config: DemoConfig = DemoConfig(), progress: Progress | None = None) -> DemoResult:
    from ecomlake.contract import Zone
    from ecomlake.dashboard import build
    from ecomlake.generate import generate
    from ecomlake.ingest import land_tree
    from ecomlake.local.runner import run_pipeline
    from ecomlake.queries import list_queries, run_query

    say = progress or (lambda _msg: None)
    lake.mkdir(parents=True, exist_ok=True)
    source = lake / GENERATED_DIR

    say(f"generating {config.days} days of data into {source}")
    manifest = generate(
        source,
        days=config.days,
        start=config.start,
        transactions=config.transactions,
        products=config.products,
        clickstream=config.clickstream,
        reviews=config.reviews,
        seed=config.seed,
        bad_rate=config.bad_rate,
    )

    say("landing files in the raw zone (validate + route)")
    landed = land_tree(lake, source)
    rejected = sum(1 for r in landed if r.rejected)
    dates = sorted({r.date for r in landed if not r.rejected})

    say(f"running the pipeline over {len(dates)} dates ({config.engine})")
    record = run_pipeline(lake, dates, engine=config.engine)
    run = record.to_dict()
    if run.get("status") != "SUCCEEDED":
        raise PipelineStepError(str(run.get("failed_step", "pipeline")), str(run.get("error", "run failed")))

    say("running the analytics queries")
    results = {spec.name: run_query(spec.name, lake) for spec in list_queries()}
    rows = {name: len(result.rows) for name, result in results.items()}
    if "customer_ltv" in results:
        results["customer_ltv"] = run_query("customer_ltv", lake, LTV_ALL_PARAMS)

    say("building the dashboard")
    site = build(lake)

    say("summarising")
    summary = DemoSummary(
        steps=collapse_steps(run.get("steps", [])),
        zones=zone_rows(manifest, read_etl_summaries(lake)),
        curated=count_rows(lake, Zone.CURATED),
        rejected_files=_rejected_files(landed),
        dq=dq_status(read_dq_reports(lake, dates)),
        answers=answers(results),
    )
    return DemoResult(lake, manifest, len(landed), rejected, run, rows, site, summary)
