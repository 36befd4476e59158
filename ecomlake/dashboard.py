"""The dashboard's data: run the analytics queries and write a static site that charts them.

``build`` copies the static page (``dashboard/``: HTML, CSS, JS and the vendored Chart.js)
into a site directory (``<lake>/_site`` by default) and writes, under ``data/``:

- ``<query>.json``   one file per analytics query, in the same shape the cloud API returns;
- ``dq_status.json`` the data-quality result per business date, and ``dq/date=D.html``,
  the reports themselves;
- ``bundle.js``      all of the above as one script, so the page also works from ``file://``
  (browsers refuse ``fetch`` there);
- ``manifest.json``  the date range, each file's rows and hash, where the data came from
  (``source``) and the build time (``generated_at``).

One function makes those files for both places: ``dashboard_files`` takes an Athena-SQL
runner and a store holding the DQ reports. Locally the runner is DuckDB over the lake (the
SQL transpiled, as ``ecomlake query`` runs it) and the store is the lake directory; in the
cloud's refresh step (``cloud_data_files``) they are Athena and the reports bucket. Given the
same tables and reports, every file is byte-identical in both places except ``manifest.json``,
which also names its ``source`` and ``generated_at``. The data files are deterministic: the
same lake gives the same bytes. The local server that publishes the site on 127.0.0.1 is
``ecomlake.local.server``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from ecomlake.contract import PARTITION_KEY, Table, Zone, to_date
from ecomlake.dashboard_api import (
    QUERY_NAMES,
    SqlRunner,
    canonical_json,
    declared_params,
    jsonable,
    prepare_sql,
    query_payload,
)
from ecomlake.exceptions import LakeNotFoundError

SITE_DIR = "_site"
DATA_DIR = "data"
DQ_DIR = "dq"
MANIFEST = "manifest.json"
BUNDLE = "bundle.js"
DQ_STATUS = "dq_status"
DQ_COLUMNS = ("date", "passed", "checks_failed", "critical_failures", "report", "error")
DQ_PREFIX = f"{Zone.REPORTS}/dq/"
# The static page in the repository (index.html, app.js and the scripts it loads, styles.css, config.js, vendor/).
STATIC_DIR = Path(__file__).resolve().parents[1] / "dashboard"
# index.html loads the page's own scripts in this order (they share window.ecomlakeDashboard).
SCRIPTS = ("js/core.js", "js/panels-sales.js", "js/panels-customers.js", "app.js")
STATIC_FILES = ("index.html", *SCRIPTS, "styles.css", "config.js")
VENDOR_DIR = "vendor"
# The dashboard charts the latest WINDOW_DAYS of data; the daily KPIs reach one more window
# back so the tiles can compare any range inside it with the period before.
WINDOW_DAYS = 90
# Per-query settings the page relies on (applied only when the query declares the parameter):
# daily grain for the series the range selector cuts in the page, one funnel per day so it
# can sum them.
QUERY_SETTINGS: dict[str, dict[str, str]] = {
    "revenue_trends": {"grain": "day"},
    "conversion_funnel": {"by": "day"},
    "revenue_by_category": {"grain": "day"},
}
RANGE_START, RANGE_END = "start_date", "end_date"
# The business dates the lake holds: those with daily KPIs or sales (Athena SQL, both engines).
# The dates the dashboard knows of, from which its window is taken: those of these tables.
DATED_TABLES = (Table.DAILY_KPIS, Table.FACT_SALES)
LAKE_DATES_SQL = (
    'select min(d."day") as first_day, max(d."day") as last_day, count(distinct d."day") as days from ('
    + " union all ".join(f'select t{i}."{PARTITION_KEY}" as "day" from {t} as t{i}' for i, t in enumerate(DATED_TABLES))
    + ") as d"
)


class Reports(Protocol):
    """Where the DQ reports are read from: the lake directory or the reports bucket (``ecomlake.storage``)."""

    def list(self, prefix: str) -> list[str]: ...

    def read_bytes(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class LakeDates:
    first: str | None
    last: str | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.last, "count": self.count}


def lake_dates(runner: SqlRunner) -> LakeDates:
    """First and last business date with curated data, and how many dates have it."""
    _columns, rows = runner(LAKE_DATES_SQL)
    first, last, count = rows[0] if rows else (None, None, 0)
    return LakeDates(_iso_day(first), _iso_day(last), int(count or 0))


def _iso_day(value: Any) -> str | None:
    return None if value is None else str(jsonable(value))[:10]


def dashboard_window(first: str | None, last: str | None, days: int = WINDOW_DAYS) -> tuple[str, str] | None:
    """The (start, end) the dashboard covers: the latest ``days`` days up to the last one with data."""
    if not first or not last:
        return None
    end = to_date(last)
    start = max(to_date(first), end - timedelta(days=days - 1))
    return start.isoformat(), end.isoformat()


def plan_params(
    names: Iterable[str],
    window: tuple[str, str] | None,
    declared: Callable[[str], Sequence[str]],
) -> dict[str, dict[str, str]]:
    """Parameters for each query: the window's dates and the page's settings, where declared."""
    plan: dict[str, dict[str, str]] = {}
    for name in names:
        accepts = set(declared(name))
        params = {k: v for k, v in QUERY_SETTINGS.get(name, {}).items() if k in accepts}
        if window and {RANGE_START, RANGE_END} <= accepts:
            start, end = window
            if name == "daily_kpis":
                span = (to_date(end) - to_date(start)).days + 1
                start = (to_date(start) - timedelta(days=span)).isoformat()
            params.update({RANGE_START: start, RANGE_END: end})
        plan[name] = params
    return plan


def default_site_dir(lake: Path) -> Path:
    return Path(lake) / SITE_DIR


# --------------------------------------------------------------------------- the data files


def dashboard_files(
    runner: SqlRunner,
    reports: Reports | None,
    *,
    source: Mapping[str, Any],
    queries: Iterable[str] = QUERY_NAMES,
    params: Mapping[str, Mapping[str, str]] | None = None,
    window_days: int = WINDOW_DAYS,
    declared: Callable[[str], Sequence[str]] = declared_params,
    generated_at: datetime,
) -> dict[str, str]:
    """The site's ``data/`` files (key relative to the site -> text) from Athena SQL and DQ reports.

    Each query covers the latest ``window_days`` with data (see ``plan_params``); ``params``
    overrides that per query. ``source`` says where the data came from; it goes into
    ``manifest.json`` only, with ``generated_at``, so every other file depends on the data alone.
    """
    queries = tuple(queries)
    dates = lake_dates(runner)
    window = dashboard_window(dates.first, dates.last, window_days)
    plan = plan_params(queries, window, declared)
    for name, override in (params or {}).items():
        plan[name] = {**plan.get(name, {}), **override}
    payloads: dict[str, dict[str, Any]] = {}
    for name in queries:
        sql, values = prepare_sql(name, plan.get(name) or {}, runner)
        columns, rows = runner(sql)
        payloads[name] = query_payload(name, columns, rows, params=values)
    dq = dq_status(reports, window)
    payloads[DQ_STATUS] = dq.payload

    out: dict[str, str] = dict(dq.files)
    files: dict[str, dict[str, Any]] = {}
    for name, payload in payloads.items():
        key = f"{DATA_DIR}/{name}.json"
        text = canonical_json(payload)
        out[key] = text
        files[name] = {
            "file": key,
            "rows": len(payload["rows"]),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
    manifest = {
        "date_range": {"start": window[0] if window else None, "end": window[1] if window else None},
        "lake_dates": dates.to_dict(),
        "queries": files,
    }
    # The bundle carries the part of the manifest that depends on the data alone.
    bundle = {"manifest": manifest, "datasets": payloads}
    out[f"{DATA_DIR}/{BUNDLE}"] = (
        "// Generated by ecomlake.dashboard; lets the page open from file:// without fetch.\n"
        f"window.ECOMLAKE_DATA = {canonical_json(bundle).rstrip()};\n"
    )
    stamped = {**manifest, "source": dict(source), "generated_at": generated_at.isoformat(timespec="seconds")}
    out[f"{DATA_DIR}/{MANIFEST}"] = canonical_json(stamped)
    return out


# --------------------------------------------------------------------------- build (local)


@contextmanager
def local_runner(lake: Path) -> Iterator[SqlRunner]:
    """Athena SQL run on the lake by DuckDB, transpiled as ``ecomlake query`` transpiles it."""
    from ecomlake.catalog import connect  # deferred: DuckDB is only needed when building
    from ecomlake.queries import transpile

    con = connect(Path(lake))

    def run(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = con.execute(transpile(sql))
        return [d[0] for d in cursor.description], cursor.fetchall()

    try:
        yield run
    finally:
        con.close()


def build(
    lake: Path,
    out_dir: Path | None = None,
    *,
    runner: SqlRunner | None = None,
    queries: Iterable[str] = QUERY_NAMES,
    params: Mapping[str, Mapping[str, str]] | None = None,
    window_days: int = WINDOW_DAYS,
    declared: Callable[[str], Sequence[str]] = declared_params,
    static_dir: Path = STATIC_DIR,
    now: Callable[[], datetime] | None = None,
) -> Path:
    """Run every analytics query on ``lake`` and write the static site; returns the site directory.

    ``runner`` runs Athena SQL; it defaults to DuckDB over the lake (tests inject fixed answers).
    """
    from ecomlake.storage import LocalStorage

    lake = Path(lake)
    if not lake.is_dir():
        raise LakeNotFoundError(f"no lake at {lake}; run `ecomlake demo` or `ecomlake ingest` first")
    site = Path(out_dir) if out_dir is not None else default_site_dir(lake)
    with _maybe_local_runner(lake, runner) as run:
        files = dashboard_files(
            run,
            LocalStorage(lake),
            source={"kind": "local", "generator": "ecomlake dashboard", "lake": str(lake.resolve())},
            queries=queries,
            params=params,
            window_days=window_days,
            declared=declared,
            generated_at=(now or _utc_now)(),
        )
    _copy_static(static_dir, site)
    _clear_generated(site / DATA_DIR)
    for key, text in files.items():
        target = site / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return site


@contextmanager
def _maybe_local_runner(lake: Path, runner: SqlRunner | None) -> Iterator[SqlRunner]:
    if runner is not None:
        yield runner
        return
    with local_runner(lake) as run:
        yield run


# --------------------------------------------------------------------------- cloud refresh


def cloud_data_files(
    runner: SqlRunner,
    *,
    reports: Reports | None = None,
    window_days: int = WINDOW_DAYS,
    declared: Callable[[str], Sequence[str]] = declared_params,
    now: Callable[[], datetime] | None = None,
) -> dict[str, str]:
    """The same ``data/`` files as ``build``, from Athena: what the cloud's refresh step uploads.

    ``runner`` runs Athena SQL (``ecomlake.dashboard_api.athena_runner``); ``reports`` is the
    reports bucket (``ecomlake.storage.S3Storage``), whose ``_reports/dq/`` documents fill the
    data-quality panel exactly as the lake's do locally.
    """
    return dashboard_files(
        runner,
        reports,
        source={"kind": "athena", "generator": "ecomlake dashboard refresh"},
        window_days=window_days,
        declared=declared,
        generated_at=(now or _utc_now)(),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _copy_static(static_dir: Path, site: Path) -> None:
    missing = [f for f in STATIC_FILES if not (static_dir / f).is_file()]
    if missing:
        raise LakeNotFoundError(f"dashboard files missing from {static_dir}: {', '.join(missing)}")
    site.mkdir(parents=True, exist_ok=True)
    for name in STATIC_FILES:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(static_dir / name, site / name)
    vendor = static_dir / VENDOR_DIR
    if vendor.is_dir():
        shutil.copytree(vendor, site / VENDOR_DIR, dirs_exist_ok=True)


def _clear_generated(data_dir: Path) -> None:
    """Remove what an earlier build wrote, so a query that disappeared leaves no stale file."""
    if not data_dir.is_dir():
        return
    for pattern in ("*.json", "*.js"):
        for path in data_dir.glob(pattern):
            path.unlink()
    if (data_dir / DQ_DIR).is_dir():
        shutil.rmtree(data_dir / DQ_DIR)


# --------------------------------------------------------------------------- data-quality status


@dataclass
class DqStatus:
    payload: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # site key -> the HTML report


def dq_status(reports: Reports | None, window: tuple[str, str] | None = None) -> DqStatus:
    """One row per business date with a DQ report, and the HTML reports to publish beside them.

    With a ``window`` (the dashboard's first and last date), only the dates in it: the page
    cannot select a date outside it, and a lake keeps a report for every date it ever published,
    so reading (and, in the cloud, uploading) them all would grow with the history.
    """
    rows: list[dict[str, Any]] = []
    files: dict[str, str] = {}
    prefix = f"{DQ_PREFIX}{PARTITION_KEY}="
    keys = set(reports.list(DQ_PREFIX)) if reports is not None else set()
    for key in sorted(k for k in keys if k.startswith(prefix) and k.endswith(".json")):
        day = key[len(prefix) : -len(".json")]
        if window is not None and not window[0] <= day <= window[1]:
            continue
        try:
            report = json.loads(reports.read_bytes(key).decode("utf-8"))  # type: ignore[union-attr]
        except (OSError, ValueError):
            rows.append(_dq_row(day, None, None, None, None, error="report is not valid JSON"))
            continue
        if not isinstance(report, Mapping):
            rows.append(_dq_row(day, None, None, None, None, error="report is not valid JSON"))
            continue
        html_key = key[: -len(".json")] + ".html"
        link = None
        if html_key in keys:
            link = f"{DATA_DIR}/{DQ_DIR}/{html_key.rsplit('/', 1)[1]}"
            files[link] = reports.read_bytes(html_key).decode("utf-8", errors="replace")  # type: ignore[union-attr]
        rows.append(_dq_row(day, *_summarise_dq(report), link))
    payload = query_payload(DQ_STATUS, DQ_COLUMNS, [tuple(r[c] for c in DQ_COLUMNS) for r in rows])
    return DqStatus(payload, files)


def _summarise_dq(report: Mapping[str, Any]) -> tuple[bool | None, int | None, int | None]:
    """(passed, checks failed, critical failures) from a DQ report: its summary, else its check list."""
    passed = report.get("passed")
    summary = report.get("summary") if isinstance(report.get("summary"), Mapping) else {}
    failed = summary.get("failed")
    if not isinstance(failed, int):
        checks = report.get("checks")
        failed = _count(checks, _check_failed) if isinstance(checks, list) else None
    critical = summary.get("critical_failed")
    if not isinstance(critical, int):
        listed = report.get("critical_failures")
        critical = len(listed) if isinstance(listed, list) else None
    return (bool(passed) if passed is not None else None, failed, critical)


def _count(items: list[Any], test: Callable[[Mapping[str, Any]], bool]) -> int:
    return sum(1 for item in items if isinstance(item, Mapping) and test(item))


def _check_failed(check: Mapping[str, Any]) -> bool:
    if "passed" in check:
        return not check["passed"]
    return str(check.get("status", "")).lower() in {"fail", "failed", "error"}


def _dq_row(
    day: str,
    passed: bool | None,
    failed: int | None,
    critical: int | None,
    link: str | None,
    *,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "date": day,
        "passed": passed,
        "checks_failed": failed,
        "critical_failures": critical,
        "report": link,
        "error": error,
    }
