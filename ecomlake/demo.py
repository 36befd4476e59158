"""The whole pipeline on generated data, end to end, on one machine.

generate -> land in raw (validate + route) -> one pipeline run over every date ->
every analytics query -> dashboard. Deterministic for a given seed and idempotent: a
second run rewrites the same partitions with the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecomlake.exceptions import PipelineStepError

# Generated source files are kept beside the zones, as an upstream system would deliver them.
GENERATED_DIR = "_generated"


@dataclass(frozen=True)
class DemoConfig:
    """Seed scale by default: 30 days, 100k transactions, 500 products, 50k clicks, 2k reviews, 1% bad."""

    days: int = 30
    start: str = "2025-01-01"
    transactions: int = 100_000
    products: int = 500
    clickstream: int = 50_000
    reviews: int = 2_000
    seed: int = 42
    bad_rate: float = 0.01
    engine: str = "duckdb"


@dataclass
class DemoResult:
    lake: Path
    manifest: dict[str, Any]
    files_landed: int
    files_rejected: int
    run: dict[str, Any]
    queries: dict[str, int] = field(default_factory=dict)
    site: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lake"] = str(self.lake)
        out["site"] = str(self.site) if self.site else None
        return out


Progress = Callable[[str], None]


def run_demo(lake: Path, config: DemoConfig = DemoConfig(), progress: Progress | None = None) -> DemoResult:
    from ecomlake.dashboard import build
    from ecomlake.generate import generate
    from ecomlake.ingest import land_tree
    from ecomlake.queries import list_queries, run_query
    from ecomlake.runner import run_pipeline

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
    rows = {spec.name: len(run_query(spec.name, lake).rows) for spec in list_queries()}

    say("building the dashboard")
    site = build(lake)
    return DemoResult(lake, manifest, len(landed), rejected, run, rows, site)
