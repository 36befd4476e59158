"""The dashboard in headless Chromium: every chart drawn with data, KPI tiles right, no errors, nothing off-host."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from ecomlake import dashboard
from ecomlake.dashboard_api import QUERY_NAMES
from ecomlake.local import server as local_server
from tests.browser.conftest import OUTPUT_DIR, serve_in_thread
from tests.unit.dashboard.dashboard_fakes import (
    DATES,
    LTV_BAND_CUSTOMERS,
    FakeAthena,
    conversion_funnel,
    customer_segments,
    daily_kpis,
    expected_kpis,
    revenue_by_category,
    top_products,
)

pytestmark = pytest.mark.browser

CANVASES = [
    "chart-revenue",
    "chart-category-revenue",
    "chart-top-products",
    "chart-funnel",
    "chart-segments",
    "chart-ltv",
    "chart-returns",
]

# For each canvas: its Chart.js instance, how many non-zero values its datasets hold, and how
# many pixels were actually painted (a chart object with nothing drawn would show 0).
CHART_STATE_JS = """
() => Array.from(document.querySelectorAll('canvas')).map((canvas) => {
  const chart = window.Chart.getChart(canvas);
  const ctx = canvas.getContext('2d');
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {
    id: canvas.id,
    type: chart ? chart.config.type : null,
    nonZero: chart ? chart.data.datasets.reduce(
      (n, d) => n + d.data.filter((v) => v !== null && Number(v) !== 0).length, 0) : 0,
    labels: chart ? chart.data.labels.length : 0,
    painted,
    visible: canvas.getBoundingClientRect().height > 0,
  };
})
"""

KPI_JS = """
() => Object.fromEntries(Array.from(document.querySelectorAll('.kpi')).map((tile) => [
  tile.dataset.kpi,
  {
    text: tile.querySelector('.kpi-value').textContent,
    value: tile.querySelector('.kpi-value').dataset.value,
    delta: tile.querySelector('.kpi-delta').textContent,
  },
]))
"""


FIRST_VALUE_JS = "(id) => Chart.getChart(document.getElementById(id)).data.datasets[0].data[0]"
# Every value a chart draws, summed over its datasets (for a histogram: the customers it counts).
CHART_SUM_JS = """
(id) => Chart.getChart(document.getElementById(id)).data.datasets
  .reduce((n, d) => n + d.data.reduce((m, v) => m + (v === null ? 0 : Number(v)), 0), 0)
"""


def _whole(value: float) -> str:
    return f"{int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP)):,}"


def assert_charts_drawn(page: Any) -> dict[str, dict[str, Any]]:
    charts = {c["id"]: c for c in page.evaluate(CHART_STATE_JS)}
    assert sorted(charts) == sorted(CANVASES)
    for cid, chart in charts.items():
        assert chart["type"] is not None, f"{cid}: no Chart.js instance"
        assert chart["nonZero"] > 0, f"{cid}: no non-zero data"
        assert chart["painted"] > 500, f"{cid}: nothing painted"
        assert chart["visible"], f"{cid}: hidden"
    return charts


def assert_kpis(page: Any, rows: list[tuple[Any, ...]]) -> dict[str, dict[str, str]]:
    tiles = page.evaluate(KPI_JS)
    expected = expected_kpis(rows)
    for key, value in expected.items():
        assert float(tiles[key]["value"]) == pytest.approx(value, rel=1e-9), key
    assert tiles["revenue"]["text"] == "$" + _whole(expected["revenue"])
    assert tiles["orders"]["text"] == _whole(expected["orders"])
    assert tiles["customers"]["text"] == _whole(expected["customers"])
    assert tiles["aov"]["text"] == f"${expected['aov']:,.2f}"
    assert tiles["conversion_rate"]["text"] == f"{expected['conversion_rate'] * 100:.2f}%"
    assert tiles["return_rate"]["text"] == f"{expected['return_rate'] * 100:.1f}%"
    return tiles


def test_every_panel_renders_from_the_served_site(open_page, site_url: str) -> None:
    page, log = open_page(site_url + "index.html")

    assert page.get_attribute("body", "data-state") == "ready"
    charts = assert_charts_drawn(page)
    assert charts["chart-revenue"]["labels"] == len(DATES)
    assert charts["chart-segments"]["labels"] == len(customer_segments())
    assert charts["chart-top-products"]["labels"] == 10
    assert charts["chart-funnel"]["labels"] == 5
    assert charts["chart-ltv"]["labels"] == len(LTV_BAND_CUSTOMERS)
    assert charts["chart-category-revenue"]["labels"] == len(DATES)  # 30 days: one bar per day
    assert_kpis(page, daily_kpis())
    # The lifetime-value histogram counts every customer, not a top slice.
    assert page.evaluate(CHART_SUM_JS, "chart-ltv") == sum(LTV_BAND_CUSTOMERS) == 6400
    assert "All 6,400 customers" in page.inner_text("[data-panel='customer_ltv'] .scope-note")
    revenue = sum(float(r[5]) for r in revenue_by_category())
    assert page.evaluate(CHART_SUM_JS, "chart-category-revenue") == pytest.approx(revenue, rel=1e-9)

    # Tables: five pairs, five viewed-not-bought products, two DQ dates with report links.
    assert page.locator("#table-bought-together tbody tr").count() == 5
    assert page.locator("#table-viewed-not-bought tbody tr").count() == 5
    first_pair = page.locator("#table-bought-together tbody tr").first.inner_text()
    assert "Books item 1" in first_pair
    assert "Electronics item 1" in first_pair
    assert page.locator("#dq-table tbody tr").count() == 2
    assert page.inner_text("#dq-summary") == "1 of 2 dates failed"
    report_href = page.get_attribute("#dq-table tbody tr:first-child a", "href")
    assert report_href == f"data/dq/date={DATES[-1].isoformat()}.html"
    assert "2025-01-01 to 2025-01-30" in page.inner_text("#as-of")
    # No panel fell back to its "no data" note.
    assert page.locator(".panel.is-empty").count() == 0

    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "dashboard.png"), full_page=True)

    assert log.errors == []
    assert log.offsite(site_url) == []
    assert any(u.endswith("/data/bundle.js") for u in log.requests)


def test_range_preset_filters_tiles_and_trend_and_compares_periods(open_page, site_url: str) -> None:
    page, log = open_page(site_url + "index.html")

    page.click("button[data-preset='7']")

    rows = daily_kpis()
    tiles = assert_kpis(page, rows[-7:])
    previous = expected_kpis(rows[-14:-7])
    current = expected_kpis(rows[-7:])
    change = (current["revenue"] - previous["revenue"]) / previous["revenue"]
    arrow = "▲" if change > 0 else "▼"
    assert tiles["revenue"]["delta"] == f"{arrow} {abs(change) * 100:.1f}% vs previous 7 days"
    charts = {c["id"]: c for c in page.evaluate(CHART_STATE_JS)}
    assert charts["chart-revenue"]["labels"] == 7
    assert page.input_value("#range-start") == DATES[-7].isoformat()
    assert page.get_attribute("button[data-preset='7']", "aria-pressed") == "true"

    # The funnel sums the per-day funnels of the range: 7 days of 'all' page views.
    funnel_total = page.evaluate(FIRST_VALUE_JS, "chart-funnel")
    expected_views = sum(
        r[4] for r in conversion_funnel() if r[1] == "all" and r[3] == "page_view" and r[0] >= DATES[-7]
    )
    assert funnel_total == expected_views
    assert log.errors == []


def test_panel_controls_filter_their_chart(open_page, site_url: str) -> None:
    page, log = open_page(site_url + "index.html")

    page.select_option("#top-category", "Home")
    labels = page.evaluate("() => Chart.getChart(document.getElementById('chart-top-products')).data.labels")
    assert labels == [r[3] for r in top_products() if r[0] == "Home"]

    page.select_option("#returns-dimension", "price_band")
    labels = page.evaluate("() => Chart.getChart(document.getElementById('chart-returns')).data.labels")
    assert sorted(labels) == ["budget", "luxury", "mid", "premium"]

    page.select_option("#funnel-device", "tablet")
    views = page.evaluate(FIRST_VALUE_JS, "chart-funnel")
    assert views == sum(r[4] for r in conversion_funnel() if r[1] == "tablet" and r[3] == "page_view")
    assert log.errors == []


def test_page_works_from_a_file_url(open_page, built_site: Path) -> None:
    url = (built_site / "index.html").as_uri()

    page, log = open_page(url)

    assert page.get_attribute("body", "data-state") == "ready"
    assert_charts_drawn(page)
    assert_kpis(page, daily_kpis())
    assert log.errors == []
    assert [u for u in log.requests if not u.startswith(("file://", "data:"))] == []


def test_phone_width_has_no_horizontal_scroll(open_page, site_url: str) -> None:
    page, log = open_page(site_url + "index.html", width=390, height=844)

    assert_charts_drawn(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "dashboard-phone.png"), full_page=True)
    assert log.errors == []


def test_empty_datasets_show_no_data_notes(open_page, lake: Path, tmp_path: Path) -> None:
    site = dashboard.build(lake, tmp_path / "empty-site", runner=FakeAthena(empty=frozenset(QUERY_NAMES), dates=False))
    server = local_server.make_server(site, port=0)
    serve_in_thread(server)
    try:
        page, log = open_page(local_server.server_url(server) + "index.html")
        assert page.get_attribute("body", "data-state") == "ready"
        empty = page.eval_on_selector_all(".panel.is-empty", "els => els.map(e => e.dataset.panel)")
        assert sorted(empty) == sorted(
            [
                "revenue_trend",
                "revenue_by_category",
                "top_products",
                "conversion_funnel",
                "customer_segments",
                "customer_ltv",
                "return_rates",
                "dq_status",
            ]
        )
        charts = page.evaluate("() => Array.from(document.querySelectorAll('canvas')).map(c => !!Chart.getChart(c))")
        assert charts == [False] * len(CANVASES)
        assert page.inner_text("[data-kpi='revenue'] .kpi-delta") == "No data"
        assert page.locator("#table-bought-together").is_hidden()
        assert page.inner_text("#as-of") == "No data in the lake yet."
        assert log.errors == []
    finally:
        server.shutdown()
        server.server_close()


def _api_requests(log: Any) -> list[str]:
    return [u.split("/api/", 1)[1] for u in log.requests if "/api/" in u]


def test_cloud_page_without_a_snapshot_reads_everything_from_the_api(open_page, make_api_site) -> None:
    site = make_api_site(snapshot=False)
    page, log = open_page(site.url + "index.html")

    assert page.get_attribute("body", "data-state") == "ready"
    assert_charts_drawn(page)
    assert_kpis(page, daily_kpis())
    assert sorted(_api_requests(log)) == sorted(
        [
            "conversion_funnel?by=day",
            "customer_ltv",
            "customer_segments",
            "daily_kpis",
            "ltv_distribution",
            "product_recommendations",
            "return_rates",
            "revenue_by_category?grain=day",
            "revenue_trends?grain=day",
            "top_products",
        ]
    )
    # The only console error is the 404 of the missing snapshot the page probes for first.
    assert len(log.errors) == 1
    assert "404" in log.errors[0]
    assert log.offsite(site.url) == []


def test_cloud_page_paints_the_snapshot_and_asks_the_api_for_other_ranges(open_page, make_api_site) -> None:
    site = make_api_site(snapshot=True)
    page, log = open_page(site.url + "index.html")

    assert_charts_drawn(page)
    assert_kpis(page, daily_kpis())
    assert _api_requests(log) == []  # the snapshot alone drew the page
    assert "Covers 2025-01-01 to 2025-01-30." in page.inner_text("[data-panel='top_products'] .scope-note")

    page.click("button[data-preset='7']")
    page.wait_for_selector("body[data-state='ready']")

    start, end = DATES[-7].isoformat(), DATES[-1].isoformat()
    # Only the panels aggregated over a range are asked again; daily data is cut in the page.
    assert sorted(_api_requests(log)) == [
        f"product_recommendations?end_date={end}&start_date={start}",
        f"return_rates?end_date={end}&start_date={start}",
        f"top_products?end_date={end}&start_date={start}",
    ]
    assert f"Covers {start} to {end}." in page.inner_text("[data-panel='top_products'] .scope-note")
    assert all(f"date '{start}'" in sql for sql in site.athena.query_sqls)
    assert_charts_drawn(page)
    assert_kpis(page, daily_kpis()[-7:])
    assert log.errors == []
    assert log.offsite(site.url) == []


def test_manifest_date_range_drives_the_selector(open_page, site_url: str, built_site: Path) -> None:
    manifest = json.loads((built_site / "data" / "manifest.json").read_text())
    page, _log = open_page(site_url + "index.html")

    assert page.get_attribute("#range-start", "min") == manifest["date_range"]["start"]
    assert page.get_attribute("#range-end", "max") == manifest["date_range"]["end"]


def test_dashboard_of_a_real_pipeline_run_shows_what_the_sql_returns(open_page, lake: Path) -> None:
    """Generated data through the whole local pipeline: the tiles equal daily_kpis.sql's numbers."""
    from ecomlake.local.demo import DemoConfig, run_demo
    from ecomlake.queries import run_query

    config = DemoConfig(days=3, transactions=3000, products=100, clickstream=3000, reviews=200, bad_rate=0.0)
    result = run_demo(lake, config)
    kpis = run_query("daily_kpis", lake, {"start_date": "2025-01-01", "end_date": "2025-01-03"})
    assert len(kpis.rows) == 3

    server = local_server.make_server(result.site, port=0)
    serve_in_thread(server)
    try:
        url = local_server.server_url(server)
        page, log = open_page(url + "index.html")
        assert page.get_attribute("body", "data-state") == "ready"
        assert_charts_drawn(page)
        col = {c: i for i, c in enumerate(kpis.columns)}
        rows = [tuple(r) for r in kpis.rows]
        tiles = page.evaluate(KPI_JS)
        revenue = sum(float(r[col["revenue"]]) for r in rows)
        completed = sum(r[col["completed_orders"]] for r in rows)
        assert float(tiles["revenue"]["value"]) == pytest.approx(revenue, rel=1e-9)
        assert tiles["revenue"]["text"] == "$" + _whole(revenue)
        assert int(float(tiles["orders"]["value"])) == sum(r[col["orders"]] for r in rows)
        assert float(tiles["aov"]["value"]) == pytest.approx(revenue / completed, rel=1e-9)
        sessions = sum(r[col["sessions"]] for r in rows)
        converted = sum(r[col["converted_sessions"]] for r in rows)
        assert float(tiles["conversion_rate"]["value"]) == pytest.approx(converted / sessions, rel=1e-9)
        assert int(float(tiles["customers"]["value"])) == sum(r[col["new_customers"]] for r in rows)
        assert page.locator("#dq-table tbody tr").count() == 3
        assert page.locator("#table-bought-together tbody tr").count() > 0
        # The histogram's bars add up to every customer of the lake (not the top 1,000 or 100).
        import duckdb

        customers = (
            duckdb.connect()
            .execute(
                f"select count(*) from read_parquet('{(lake / 'curated' / 'dim_customers').as_posix()}/**/*.parquet')"
            )
            .fetchone()[0]
        )
        assert customers > 100
        assert page.evaluate(CHART_SUM_JS, "chart-ltv") == customers
        assert f"All {customers:,} customers" in page.inner_text("[data-panel='customer_ltv'] .scope-note")
        assert log.errors == []
        assert log.offsite(url) == []
    finally:
        server.shutdown()
        server.server_close()


def test_the_range_filters_every_daily_panel_and_the_rest_say_what_they_cover(open_page, site_url: str) -> None:
    page, log = open_page(site_url + "index.html")

    # Full range: nothing is marked as not following it.
    assert page.locator(".panel.is-unfiltered").count() == 0
    page.click("button[data-preset='7']")

    charts = {c["id"]: c for c in page.evaluate(CHART_STATE_JS)}
    assert charts["chart-category-revenue"]["labels"] == 7
    last7 = sum(float(r[5]) for r in revenue_by_category() if r[0] >= DATES[-7])
    assert page.evaluate(CHART_SUM_JS, "chart-category-revenue") == pytest.approx(last7, rel=1e-9)
    # Aggregates of the static build and all-time customer figures cannot follow: they say so.
    unfiltered = sorted(page.eval_on_selector_all(".panel.is-unfiltered", "els => els.map(e => e.dataset.panel)"))
    assert unfiltered == sorted(
        ["top_products", "customer_segments", "customer_ltv", "return_rates", "product_recommendations"]
    )
    note = page.inner_text("[data-panel='top_products'] .scope-note")
    assert "Covers 2025-01-01 to 2025-01-30, not the selected range" in note

    # The data-quality table shows the range's dates only.
    page.fill("#range-start", DATES[0].isoformat())
    page.fill("#range-end", DATES[9].isoformat())
    page.dispatch_event("#range-end", "change")
    assert page.locator("#dq-table").is_hidden()
    assert page.inner_text("[data-panel='dq_status'] > .empty-note") == (
        "No data-quality reports for this range (2 outside it)."
    )
    charts = {c["id"]: c for c in page.evaluate(CHART_STATE_JS)}
    assert charts["chart-category-revenue"]["labels"] == 10
    assert charts["chart-revenue"]["labels"] == 10
    assert log.errors == []


def test_a_panel_whose_data_did_not_load_says_so(open_page, built_site: Path) -> None:
    # Served without the bundle, the page fetches each JSON file; one of them is gone.
    (built_site / "data" / "bundle.js").unlink()
    (built_site / "data" / "top_products.json").unlink()
    server = local_server.make_server(built_site, port=0)
    serve_in_thread(server)
    try:
        page, log = open_page(local_server.server_url(server) + "index.html")
        assert page.get_attribute("body", "data-state") == "ready"
        errored = page.eval_on_selector_all(".panel.is-error", "els => els.map(e => e.dataset.panel)")
        assert errored == ["top_products"]
        note = page.inner_text("[data-panel='top_products'] .error-note")
        assert note.startswith("Could not load top_products: ")
        assert "404" in note
        assert page.evaluate("() => !!Chart.getChart(document.getElementById('chart-top-products'))") is False
        assert not page.locator("[data-panel='top_products']").evaluate("e => e.classList.contains('is-empty')")
        # Everything else still drew from its own file.
        charts = {c["id"]: c for c in page.evaluate(CHART_STATE_JS)}
        assert all(c["nonZero"] > 0 for cid, c in charts.items() if cid != "chart-top-products")
        assert_kpis(page, daily_kpis())
        # The only console errors are the two missing files (the bundle's 404 page is also refused as a
        # script, nosniff being on).
        missing = [e for e in log.errors if "404" in e]
        assert len(missing) == 2
        assert [e for e in log.errors if e not in missing] == [
            e for e in log.errors if "bundle.js" in e and "MIME type" in e
        ]
    finally:
        server.shutdown()
        server.server_close()
