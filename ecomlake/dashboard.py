"""The dashboard's data: run the analytics queries and write a static site that charts them.

``build`` copies the static page (``dashboard/``: HTML, CSS, JS and the vendored Chart.js)
into a site directory (``<lake>/_site`` by default) and writes, under ``data/``:

- ``<query>.json``   one file per analytics query, in the same shape the cloud API returns;
- ``dq_status.json`` the data-quality result per business date (reports copied beside it);
- ``bundle.js``      all of the above as one script, so the page also works from ``file://``
  (browsers refuse ``fetch`` there);
- ``manifest.json``  what the files were generated from, the date range, and the build time.

The data files are deterministic -- the same lake gives byte-identical files -- so the only
wall-clock value lives in ``manifest.json`` (``generated_at``). The local server that
publishes the site on 127.0.0.1 is ``ecomlake.local.server``.

``cloud_data_files`` produces the same ``data/`` files from Athena (same SQL, same parameter
binding), for the cloud pipeline's refresh step to upload next to the deployed page.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
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
# The static page in the repository (index.html, app.js, styles.css, config.js, vendor/).
STATIC_DIR = Path(__file__).resolve().parents[1] / "dashboard"
STATIC_FILES = ("index.html", "app.js", "styles.css", "config.js")
VENDOR_DIR = "vendor"
# The dashboard charts the latest WINDOW_DAYS of data; the daily KPIs reach one more window
# back so the tiles can compare any range inside it with the period before.
WINDOW_DAYS = 90
# Per-query settings the page relies on (applied only when the query declares the parameter):
# daily grain for the trend line, one funnel per day so the range selector can sum them,
# enough top customers for a lifetime-value histogram.
QUERY_SETTINGS: dict[str, dict[str, str]] = {
    "revenue_trends": {"grain": "day"},
    "conversion_funnel": {"by": "day"},
    "customer_ltv": {"top_n": "1000"},
}
RANGE_START, RANGE_END = "start_date", "end_date"


class QueryResultLike(Protocol):
    """What ``build`` needs from ``ecomlake.queries.QueryResult``."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


QueryRunner = Callable[[str, Path, "dict[str, str] | None"], QueryResultLike]


def _default_runner(name: str, lake: Path, params: dict[str, str] | None) -> QueryResultLike:
    from ecomlake.queries import run_query  # deferred: DuckDB is only needed when building

    return run_query(name, lake, params)


def lake_dates(lake: Path) -> list[str]:
    """Business dates with curated data (daily KPIs or sales), oldest first."""
    from ecomlake.catalog import table_files

    found: set[str] = set()
    for table in (Table.DAILY_KPIS, Table.FACT_SALES):
        found.update(f.date for f in table_files(lake, table) if f.date)
    return sorted(found)


def dashboard_window(dates: Sequence[str], days: int = WINDOW_DAYS) -> tuple[str, str] | None:
    """The (start, end) the dashboard covers: the latest ``days`` days that have data."""
    if not dates:
        return None
    end = to_date(max(dates))
    start = max(to_date(min(dates)), end - timedelta(days=days - 1))
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


# --------------------------------------------------------------------------- build


def build(
    lake: Path,
    out_dir: Path | None = None,
    *,
    runner: QueryRunner | None = None,
    queries: Iterable[str] = QUERY_NAMES,
    params: Mapping[str, Mapping[str, str]] | None = None,
    window_days: int = WINDOW_DAYS,
    declared: Callable[[str], Sequence[str]] = declared_params,
    static_dir: Path = STATIC_DIR,
    now: Callable[[], datetime] | None = None,
) -> Path:
    """Run every analytics query on ``lake`` and write the static site; returns the site directory.

    ``runner`` defaults to ``ecomlake.queries.run_query`` (tests inject fixed results).
    Each query covers the latest ``window_days`` with data (see ``plan_params``); ``params``
    overrides that per query.
    """
    lake = Path(lake)
    if not lake.is_dir():
        raise LakeNotFoundError(f"no lake at {lake}; run `ecomlake demo` or `ecomlake ingest` first")
    site = Path(out_dir) if out_dir is not None else default_site_dir(lake)
    run = runner or _default_runner
    queries = tuple(queries)
    dates = lake_dates(lake)
    window = dashboard_window(dates, window_days)
    plan = plan_params(queries, window, declared)
    for name, override in (params or {}).items():
        plan[name] = {**plan.get(name, {}), **override}

    _copy_static(static_dir, site)
    data_dir = site / DATA_DIR
    _clear_generated(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    payloads: dict[str, dict[str, Any]] = {}
    for name in queries:
        given = plan.get(name) or None
        result = run(name, lake, given)
        # The resolved values (defaults filled in) when the runner reports them.
        resolved = getattr(result, "params", None) or given or {}
        payloads[name] = query_payload(name, result.columns, result.rows, params=resolved)
    payloads[DQ_STATUS] = _dq_status(lake, site)

    about = {
        "generator": "ecomlake dashboard",
        "source": "local",
        "lake": str(lake.resolve()),
        "lake_dates": {"first": dates[0] if dates else None, "last": dates[-1] if dates else None, "count": len(dates)},
    }
    for key, text in data_files(payloads, about, window, (now or _utc_now)()).items():
        (site / key).write_text(text, encoding="utf-8")
    return site


def data_files(
    payloads: Mapping[str, Mapping[str, Any]],
    about: Mapping[str, Any],
    window: tuple[str, str] | None,
    generated_at: datetime,
) -> dict[str, str]:
    """The site's ``data/`` files (key relative to the site -> text) for a set of query payloads.

    One JSON file per dataset, ``bundle.js`` with all of them, and ``manifest.json``, the only
    file holding the build time. The local build and the cloud refresh both write these.
    """
    out: dict[str, str] = {}
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
        **about,
        "date_range": {"start": window[0] if window else None, "end": window[1] if window else None},
        "queries": files,
    }
    # The bundle carries the deterministic part of the manifest only.
    bundle = {"manifest": manifest, "datasets": payloads}
    out[f"{DATA_DIR}/{BUNDLE}"] = (
        "// Generated by ecomlake.dashboard; lets the page open from file:// without fetch.\n"
        f"window.ECOMLAKE_DATA = {canonical_json(bundle).rstrip()};\n"
    )
    stamped = {**manifest, "generated_at": generated_at.isoformat(timespec="seconds")}
    out[f"{DATA_DIR}/{MANIFEST}"] = canonical_json(stamped)
    return out


# --------------------------------------------------------------------------- cloud refresh


def cloud_data_files(
    runner: SqlRunner,
    *,
    window_days: int = WINDOW_DAYS,
    declared: Callable[[str], Sequence[str]] = declared_params,
    dq_rows: Sequence[Mapping[str, Any]] = (),
    now: Callable[[], datetime] | None = None,
) -> dict[str, str]:
    """The same ``data/`` files as ``build``, from Athena: what the cloud's refresh step uploads.

    ``runner`` runs Athena SQL (``ecomlake.dashboard_api.athena_runner``); the SQL and its
    parameter binding are the local build's. ``dq_rows`` are ``dq_status`` rows, if the
    caller has the DQ reports at hand.
    """
    _columns, rows = runner(f'select min("{PARTITION_KEY}"), max("{PARTITION_KEY}") from {Table.DAILY_KPIS}')
    bounds = [jsonable(v) for v in (rows[0] if rows else ()) if v is not None]
    dates = sorted(str(v)[:10] for v in bounds)
    window = dashboard_window(dates, window_days)
    plan = plan_params(QUERY_NAMES, window, declared)
    payloads: dict[str, dict[str, Any]] = {}
    for name in QUERY_NAMES:
        sql, values = prepare_sql(name, plan[name], runner)
        columns, result_rows = runner(sql)
        payloads[name] = query_payload(name, columns, result_rows, params=values)
    payloads[DQ_STATUS] = query_payload(
        DQ_STATUS, DQ_COLUMNS, [tuple(row.get(c) for c in DQ_COLUMNS) for row in dq_rows]
    )
    about = {
        "generator": "ecomlake dashboard refresh",
        "source": "athena",
        "lake_dates": {"first": dates[0] if dates else None, "last": dates[-1] if dates else None, "count": None},
    }
    return data_files(payloads, about, window, (now or _utc_now)())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _copy_static(static_dir: Path, site: Path) -> None:
    missing = [f for f in STATIC_FILES if not (static_dir / f).is_file()]
    if missing:
        raise LakeNotFoundError(f"dashboard files missing from {static_dir}: {', '.join(missing)}")
    site.mkdir(parents=True, exist_ok=True)
    for name in STATIC_FILES:
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


def _dq_status(lake: Path, site: Path) -> dict[str, Any]:
    """One row per business date with a DQ report; the HTML reports are copied into the site."""
    reports_dir = lake / Zone.REPORTS / "dq"
    rows: list[dict[str, Any]] = []
    prefix = f"{PARTITION_KEY}="
    for path in sorted(reports_dir.glob(f"{prefix}*.json")) if reports_dir.is_dir() else []:
        day = path.stem[len(prefix) :]
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rows.append(_dq_row(day, None, None, None, None, error="report is not valid JSON"))
            continue
        html = path.with_suffix(".html")
        link = None
        if html.is_file():
            target = site / DATA_DIR / DQ_DIR / html.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(html, target)
            link = f"{DATA_DIR}/{DQ_DIR}/{html.name}"
        rows.append(_dq_row(day, *_summarise_dq(report), link))
    return query_payload(DQ_STATUS, DQ_COLUMNS, [tuple(r[c] for c in DQ_COLUMNS) for r in rows])


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
