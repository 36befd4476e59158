"""Timed stages of the local pipeline: seconds, rows per second and peak memory per stage.

Figures are measured, never asserted: the machine running them is part of the result,
so every report carries its CPU count, CPU model, memory and engine versions.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecomlake.contract import PARALLEL_ETL_JOBS, Job, Zone


@dataclass
class StageResult:
    stage: str
    rows: int
    seconds: float
    peak_rss_mb: float | None

    @property
    def rows_per_second(self) -> float | None:
        return round(self.rows / self.seconds) if self.seconds > 0 and self.rows else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}


@dataclass
class BenchReport:
    transactions: int
    engine: str
    machine: dict[str, Any]
    stages: list[StageResult] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return round(sum(s.seconds for s in self.stages), 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "transactions": self.transactions,
            "engine": self.engine,
            "machine": self.machine,
            "total_seconds": self.total_seconds,
            "stages": [s.to_dict() for s in self.stages],
        }


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    import duckdb
    import pyspark

    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kib = int(next(ln for ln in meminfo if ln.startswith("MemTotal")).split()[1])
        mem_gib = round(mem_kib / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "duckdb": duckdb.__version__,
        "pyspark": pyspark.__version__,
    }


# Linux keeps the process's peak resident set in VmHWM; writing "5" to clear_refs resets
# it, which gives a per-stage peak that includes native memory (DuckDB, Arrow), unlike
# tracemalloc which only sees the Python heap.
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak() -> None:
    with suppress(OSError):
        _CLEAR_REFS.write_text("5")


def _peak_rss_mb() -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@contextmanager
def _timed(report: BenchReport, stage: str, rows: Callable[[], int] | int):
    _reset_peak()
    start = time.perf_counter()
    yield
    seconds = round(time.perf_counter() - start, 3)
    count = rows() if callable(rows) else rows
    report.stages.append(StageResult(stage, int(count), seconds, _peak_rss_mb()))


def _summary_rows(summaries: list[Any]) -> int:
    return sum(int(s.rows_in) for s in summaries)


def run_bench(
    lake: Path,
    transactions: int = 1_000_000,
    *,
    days: int = 30,
    engine: str = "duckdb",
    seed: int = 42,
    bad_rate: float = 0.01,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Generate ``transactions`` rows (other sources scaled with them) and time every stage."""
    from ecomlake.dashboard import build
    from ecomlake.demo import GENERATED_DIR
    from ecomlake.dq import run_checks
    from ecomlake.etl import run_job
    from ecomlake.generate import generate
    from ecomlake.ingest import land_tree
    from ecomlake.queries import list_queries, run_query

    say = progress or (lambda _msg: None)
    report = BenchReport(transactions, engine, machine_info())
    source = lake / GENERATED_DIR
    # Keep the seed's proportions: per 100k transactions, 50k clicks and 2k reviews.
    clicks = max(transactions // 2, 1)
    reviews = max(transactions // 50, 1)
    products = 500 if transactions <= 100_000 else 2_000

    say("generate")
    manifest: dict[str, Any] = {}
    with _timed(report, "generate", lambda: sum(manifest["counts"].values())):
        manifest = generate(
            source,
            days=days,
            transactions=transactions,
            products=products,
            clickstream=clicks,
            reviews=reviews,
            seed=seed,
            bad_rate=bad_rate,
        )

    say("ingest")
    with _timed(report, "ingest (copy + validate)", lambda: sum(manifest["counts"].values())):
        landed = land_tree(lake, source)
    dates = sorted({r.date for r in landed if not r.rejected})

    for job in (*PARALLEL_ETL_JOBS, Job.MASTER_DATA_MERGE):
        say(str(job))
        summaries: list[Any] = []
        with _timed(report, f"etl: {job}", lambda s=summaries: _summary_rows(s)):
            summaries.extend(run_job(job, dates, lake, engine=engine))

    say("data quality")
    with _timed(report, f"data quality ({len(dates)} dates)", len(dates)):
        for day in dates:
            run_checks(lake, day)

    say("queries")
    names = [q.name for q in list_queries()]
    with _timed(report, f"analytics queries ({len(names)})", len(names)):
        for name in names:
            run_query(name, lake)

    say("dashboard")
    with _timed(report, "dashboard build", 1):
        build(lake)

    out = lake / Zone.REPORTS / "bench" / f"transactions={transactions}-engine={engine}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report
