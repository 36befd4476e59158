/*
 * ecomlake dashboard, part 2 of 4: the sales panels -- KPI tiles, revenue trend, revenue by
 * category, top products. Each render function draws its panel from the page's state.
 */
(function (D) {
  "use strict";

  var COLUMNS = D.COLUMNS, PALETTE = D.PALETTE, ACCENT = D.ACCENT, ACCENT_SOFT = D.ACCENT_SOFT,
    SECOND = D.SECOND, state = D.state, $ = D.$, num = D.num, sum = D.sum, rowsOf = D.rowsOf,
    isoDay = D.isoDay, addDays = D.addDays, daysBetween = D.daysBetween, inRange = D.inRange,
    fmtMoney = D.fmtMoney, fmtInt = D.fmtInt, fmtPct = D.fmtPct, shortMoney = D.shortMoney,
    truncate = D.truncate, setEmpty = D.setEmpty, setScope = D.setScope, destroyChart = D.destroyChart,
    drawChart = D.drawChart, baseScales = D.baseScales, coverage = D.coverage;

  // ------------------------------------------------------------------ KPI tiles

  function kpiTotals(rows) {
    var c = COLUMNS.daily_kpis;
    var revenue = sum(rows, c.revenue);
    var orders = sum(rows, c.orders);
    var completed = sum(rows, c.completedOrders);
    var sessions = sum(rows, c.sessions);
    return {
      days: rows.length,
      revenue: revenue,
      orders: orders,
      aov: completed > 0 ? revenue / completed : null,
      conversion_rate: sessions > 0 ? sum(rows, c.convertedSessions) / sessions : null,
      return_rate: orders > 0 ? sum(rows, c.returns) / orders : null,
      // Daily distinct customers do not add up across days; first-time customers do.
      customers: sum(rows, c.newCustomers),
    };
  }

  var KPI_FORMAT = {
    revenue: function (v) { return fmtMoney(v); },
    orders: fmtInt,
    aov: function (v) { return fmtMoney(v, true); },
    conversion_rate: function (v) { return fmtPct(v, 2); },
    return_rate: function (v) { return fmtPct(v, 1); },
    customers: fmtInt,
  };
  // For these a rise is bad news.
  var KPI_LOWER_IS_BETTER = { return_rate: true };

  function renderKpis() {
    var c = COLUMNS.daily_kpis;
    var all = rowsOf("daily_kpis");
    var range = state.range;
    var current = all.filter(function (r) { return inRange(isoDay(r[c.date]), range); });
    var note = $("#kpi-note");
    var tiles = document.querySelectorAll(".kpi");
    if (!current.length) {
      tiles.forEach(function (t) {
        t.querySelector(".kpi-value").textContent = "–";
        t.querySelector(".kpi-delta").textContent = "No data";
      });
      note.textContent = "No daily KPIs for this range.";
      return;
    }
    var now = kpiTotals(current);
    var prev = null;
    if (range) {
      var span = daysBetween(range.start, range.end) + 1;
      var prevRange = { start: addDays(range.start, -span), end: addDays(range.start, -1) };
      var prevRows = all.filter(function (r) { return inRange(isoDay(r[c.date]), prevRange); });
      // Compare only against a complete earlier period of the same length.
      if (prevRows.length === span) prev = kpiTotals(prevRows);
    }
    tiles.forEach(function (tile) {
      var key = tile.getAttribute("data-kpi");
      var value = now[key];
      var valueEl = tile.querySelector(".kpi-value");
      valueEl.textContent = KPI_FORMAT[key](value);
      valueEl.setAttribute("data-value", value === null ? "" : String(value));
      var delta = tile.querySelector(".kpi-delta");
      delta.className = "kpi-delta";
      if (!prev || prev[key] === null || value === null || !prev[key]) {
        delta.textContent = prev ? "n/a vs previous period" : "";
        return;
      }
      var change = (value - prev[key]) / Math.abs(prev[key]);
      var arrow = change > 0 ? "▲" : change < 0 ? "▼" : "■";
      delta.textContent = arrow + " " + (Math.abs(change) * 100).toFixed(1) + "% vs previous " + (daysBetween(range.start, range.end) + 1) + " days";
      var good = KPI_LOWER_IS_BETTER[key] ? change < 0 : change > 0;
      if (change !== 0) delta.classList.add(good ? "up" : "down");
    });
    note.textContent =
      "Over " + now.days + " day" + (now.days === 1 ? "" : "s") +
      ". Conversion = sessions reaching purchase ÷ sessions; return rate = returned or refunded ÷ all transactions.";
  }

  // ------------------------------------------------------------------ revenue trend

  function dailyRevenueSeries() {
    // revenue_trends at day grain carries the SQL's moving average; the daily KPIs are the fallback.
    var t = COLUMNS.revenue_trends;
    var rows = rowsOf("revenue_trends");
    if (rows.length && t.period in rows[0]) {
      return rows
        .map(function (r) { return { date: isoDay(r[t.period]), revenue: num(r[t.revenue]) || 0, ma: num(r[t.movingAvg]) }; })
        .sort(function (a, b) { return a.date < b.date ? -1 : 1; });
    }
    var k = COLUMNS.daily_kpis;
    var series = rowsOf("daily_kpis")
      .map(function (r) { return { date: isoDay(r[k.date]), revenue: num(r[k.revenue]) || 0, ma: null }; })
      .sort(function (a, b) { return a.date < b.date ? -1 : 1; });
    var ma = movingAverage(series.map(function (p) { return p.revenue; }), 7);
    series.forEach(function (p, i) { p.ma = ma[i]; });
    return series;
  }

  function movingAverage(values, window) {
    // Trailing mean over up to `window` values (fewer at the start), as revenue_trends.sql does.
    var out = [];
    var acc = 0;
    for (var i = 0; i < values.length; i++) {
      acc += values[i];
      if (i >= window) acc -= values[i - window];
      out.push(acc / Math.min(i + 1, window));
    }
    return out;
  }

  function renderRevenueTrend() {
    // The average was computed over the whole series, so days before the range still count.
    var points = dailyRevenueSeries().filter(function (p) { return inRange(p.date, state.range); });
    if (!points.length) {
      destroyChart("chart-revenue");
      setEmpty("revenue_trend", true, "No revenue for this range.");
      return;
    }
    setEmpty("revenue_trend", false);
    drawChart("chart-revenue", {
      type: "line",
      data: {
        labels: points.map(function (p) { return p.date; }),
        datasets: [
          {
            label: "Daily revenue",
            data: points.map(function (p) { return p.revenue; }),
            borderColor: ACCENT,
            backgroundColor: ACCENT_SOFT,
            fill: true,
            tension: 0.25,
            pointRadius: points.length > 45 ? 0 : 2,
          },
          {
            label: "7-day moving average",
            data: points.map(function (p) { return p.ma; }),
            borderColor: SECOND,
            borderDash: [6, 4],
            backgroundColor: SECOND,
            fill: false,
            tension: 0.25,
            pointRadius: 0,
            spanGaps: true,
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: baseScales(shortMoney),
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + fmtMoney(ctx.parsed.y, true); } } },
        },
      },
    });
  }

  // ------------------------------------------------------------------ revenue by category

  function mondayOf(iso) {
    var weekday = new Date(iso + "T00:00:00Z").getUTCDay(); // 0 = Sunday
    return addDays(iso, -((weekday + 6) % 7));
  }

  // Above this many days a bar per day gets too thin: the page sums the days into ISO weeks.
  var WEEKLY_AFTER_DAYS = 45;

  function renderCategoryRevenue() {
    var c = COLUMNS.revenue_by_category;
    var ds = state.data.revenue_by_category || {};
    var daily = !ds.params || !ds.params.grain || ds.params.grain === "day";
    var rows = rowsOf("revenue_by_category").filter(function (r) {
      return !daily || inRange(isoDay(r[c.period]), state.range);
    });
    if (!rows.length) {
      destroyChart("chart-category-revenue");
      setEmpty("revenue_by_category", true, "No sales for this range.");
      setScope("revenue_by_category", "");
      return;
    }
    setEmpty("revenue_by_category", false);
    var span = state.range ? daysBetween(state.range.start, state.range.end) + 1 : rows.length;
    var weekly = daily && span > WEEKLY_AFTER_DAYS;
    var totals = {};
    var cells = {};
    var periods = {};
    rows.forEach(function (r) {
      var period = weekly ? mondayOf(isoDay(r[c.period])) : isoDay(r[c.period]);
      var cat = r[c.category];
      var revenue = num(r[c.revenue]) || 0;
      periods[period] = true;
      totals[cat] = (totals[cat] || 0) + revenue;
      cells[period + "|" + cat] = (cells[period + "|" + cat] || 0) + revenue;
    });
    var labels = Object.keys(periods).sort();
    // Largest categories first, so the biggest bars sit at the bottom of each stack.
    var categories = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a] || (a < b ? -1 : 1); });
    drawChart("chart-category-revenue", {
      type: "bar",
      data: {
        labels: labels,
        datasets: categories.map(function (cat, i) {
          return {
            label: cat,
            data: labels.map(function (p) { return cells[p + "|" + cat] || 0; }),
            backgroundColor: PALETTE[i % PALETTE.length],
            stack: "revenue",
          };
        }),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: (function () {
          var scales = baseScales(shortMoney);
          scales.x.stacked = true;
          scales.y.stacked = true;
          return scales;
        })(),
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: function (items) { return (weekly ? "Week of " : "") + items[0].label; },
              label: function (ctx) { return ctx.dataset.label + ": " + fmtMoney(ctx.parsed.y, true); },
            },
          },
        },
      },
    });
    var scope = daily
      ? "Completed revenue over the selected range." + (weekly ? " One bar per week (starting Monday; the first and last may be partial)." : "")
      : "Completed revenue per " + ds.params.grain + ". " + coverage("revenue_by_category").text;
    setScope("revenue_by_category", scope, !daily && coverage("revenue_by_category").unfiltered);
  }

  // ------------------------------------------------------------------ top products

  function renderTopProducts() {
    var c = COLUMNS.top_products;
    var rows = rowsOf("top_products");
    var select = $("#top-category");
    var categories = Array.from(new Set(rows.map(function (r) { return r[c.category]; }).filter(Boolean))).sort();
    if (select.options.length !== categories.length + 1) {
      var chosen = select.value;
      select.innerHTML = '<option value="">All categories</option>';
      categories.forEach(function (cat) {
        var o = document.createElement("option");
        o.value = cat;
        o.textContent = cat;
        select.appendChild(o);
      });
      select.value = categories.indexOf(chosen) !== -1 ? chosen : "";
    }
    var cat = select.value;
    var picked = rows
      .filter(function (r) { return !cat || r[c.category] === cat; })
      .slice()
      .sort(function (a, b) { return (num(b[c.revenue]) || 0) - (num(a[c.revenue]) || 0); })
      .slice(0, 10);
    if (!picked.length) {
      destroyChart("chart-top-products");
      setEmpty("top_products", true, "No product sales.");
      return;
    }
    setEmpty("top_products", false);
    // One dataset per category (stacked, so each product keeps a single bar) gives a colour legend.
    var shown = categories.filter(function (k) { return picked.some(function (r) { return r[c.category] === k; }); });
    drawChart("chart-top-products", {
      type: "bar",
      data: {
        labels: picked.map(function (r) { return truncate(r[c.product] || r[c.productId], 28); }),
        datasets: shown.map(function (k) {
          return {
            label: k,
            data: picked.map(function (r) { return r[c.category] === k ? num(r[c.revenue]) || 0 : null; }),
            backgroundColor: PALETTE[categories.indexOf(k) % PALETTE.length],
            borderRadius: 4,
          };
        }),
      },
      options: {
        indexAxis: "y",
        scales: {
          x: { stacked: true, beginAtZero: true, grid: { color: "#eef1f5" }, ticks: { color: "#4f5b6b", callback: shortMoney } },
          y: { stacked: true, grid: { display: false }, ticks: { color: "#1b2430" } },
        },
        plugins: {
          legend: { display: shown.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            filter: function (item) { return item.raw !== null; },
            callbacks: {
              title: function (items) { var r = picked[items[0].dataIndex]; return (r[c.product] || r[c.productId]) + " (" + r[c.category] + ")"; },
              label: function (ctx) {
                var r = picked[ctx.dataIndex];
                var parts = ["Revenue " + fmtMoney(r[c.revenue], true)];
                if (c.orders in r) parts.push(fmtInt(r[c.orders]) + " orders");
                if (c.returnRate in r) parts.push(fmtPct(r[c.returnRate]) + " returned");
                return parts.join(" · ");
              },
            },
          },
        },
      },
    });
    var cover = coverage("top_products");
    setScope("top_products", "Completed revenue. " + cover.text, cover.unfiltered);
  }

  D.kpiTotals = kpiTotals;
  D.renderKpis = renderKpis;
  D.movingAverage = movingAverage;
  D.renderRevenueTrend = renderRevenueTrend;
  D.renderCategoryRevenue = renderCategoryRevenue;
  D.renderTopProducts = renderTopProducts;
})(window.ecomlakeDashboard);
