/*
 * ecomlake dashboard: reads the query results the lake produced and charts them.
 *
 * Data sources:
 *   - data/bundle.js (window.ECOMLAKE_DATA): the snapshot `ecomlake dashboard` (or the cloud
 *     refresh step) wrote; works from file:// too. data/<query>.json is the fallback over http.
 *   - ECOMLAKE_CONFIG.apiBase (config.js; "/api" in the cloud): when set, the page draws the
 *     snapshot if there is one, asks the API (GET <apiBase>/<query>?start_date&end_date) for
 *     aggregated panels when the date range changes, and asks it for everything without one.
 *
 * Every dataset is {query, columns, rows: [{column: value}], params}. Panels read only the
 * columns listed in COLUMNS below. A panel with no rows says "No data"; a panel whose data
 * could not be loaded (or that could not be drawn) says so in red instead: an error is never
 * shown as an empty chart.
 *
 * The date range filters what has one row per day (tiles, revenue trend, revenue by
 * category, funnel, data-quality table) in the page; with the API it also asks again for
 * the panels aggregated over a range. Panels that cannot follow it (all-time customer
 * figures, or range aggregates in a static build) say what they cover, and are marked
 * "Not filtered" while the selected range differs from it.
 */
(function () {
  "use strict";

  var QUERIES = [
    "daily_kpis",
    "revenue_trends",
    "revenue_by_category",
    "top_products",
    "conversion_funnel",
    "customer_segments",
    "customer_ltv",
    "ltv_distribution",
    "return_rates",
    "product_recommendations",
  ];
  var DQ_STATUS = "dq_status";

  // The columns each panel reads, per query (they are the sql/<query>.sql output names).
  var COLUMNS = {
    daily_kpis: {
      date: "date",
      revenue: "revenue",
      orders: "orders",
      completedOrders: "completed_orders",
      newCustomers: "new_customers",
      returns: "returns",
      sessions: "sessions",
      convertedSessions: "converted_sessions",
    },
    revenue_trends: { period: "period_start", revenue: "revenue", movingAvg: "revenue_moving_avg" },
    revenue_by_category: { period: "period_start", category: "category", revenue: "revenue", orders: "orders" },
    top_products: {
      category: "category",
      product: "product_name",
      productId: "product_id",
      revenue: "revenue",
      orders: "orders",
      returnRate: "return_rate",
    },
    // device is 'all' (every session) or one device; one row per stage per period.
    conversion_funnel: { period: "period_start", device: "device", stage: "stage", sessions: "sessions" },
    customer_segments: { segment: "segment", customers: "customers", revenueShare: "revenue_share" },
    customer_ltv: {
      value: "lifetime_value",
      rank: "ltv_rank",
      topShare: "top_share_of_customers",
      cumulativeShare: "cumulative_value_share",
    },
    // One row per band over every customer, binned in SQL (sql/ltv_distribution.sql).
    ltv_distribution: {
      start: "band_start",
      end: "band_end",
      customers: "customers",
      customerShare: "customer_share",
      valueShare: "value_share",
      total: "customers_total",
    },
    return_rates: {
      dimension: "dimension",
      value: "dimension_value",
      orders: "orders",
      returns: "returns",
      rate: "return_rate",
    },
    product_recommendations: {
      kind: "kind",
      product: "product_name",
      productId: "product_id",
      other: "related_product_name",
      otherId: "related_product_id",
      baskets: "pair_baskets",
      confidence: "confidence",
      lift: "lift",
      views: "views",
      purchases: "purchases",
      viewRate: "view_to_purchase_rate",
    },
  };
  var ALL_DEVICES = "all";
  var KIND_PAIRS = "bought_together";
  var KIND_VIEWED = "viewed_not_bought";

  var FUNNEL_STAGES = ["page_view", "product_view", "add_to_cart", "checkout", "purchase"];
  var STAGE_LABELS = {
    page_view: "Page view",
    product_view: "Product view",
    add_to_cart: "Add to cart",
    checkout: "Checkout",
    purchase: "Purchase",
  };
  // Colour-blind-safe palette (Okabe-Ito, darkened where needed for contrast on white).
  var PALETTE = ["#1f5fbf", "#d55e00", "#009e73", "#cc79a7", "#0072b2", "#b8860b", "#56b4e9", "#7f5f00", "#6a3d9a", "#4d4d4d"];
  var ACCENT = "#1f5fbf";
  var ACCENT_SOFT = "rgba(31, 95, 191, 0.18)";
  var SECOND = "#d55e00";

  // The datasets each panel draws from: a failed one puts the panel in its error state.
  var PANEL_DATA = {
    kpis: ["daily_kpis"],
    revenue_trend: ["revenue_trends"],
    revenue_by_category: ["revenue_by_category"],
    top_products: ["top_products"],
    conversion_funnel: ["conversion_funnel"],
    customer_segments: ["customer_segments"],
    customer_ltv: ["ltv_distribution"],
    return_rates: ["return_rates"],
    product_recommendations: ["product_recommendations"],
    dq_status: [DQ_STATUS],
  };

  var state = {
    source: null,
    apiBase: null,
    manifest: null,
    data: {},
    errors: {}, // dataset -> why it could not be loaded
    bounds: null, // {min, max} ISO dates the data covers
    range: null, // {start, end} selected
    charts: {},
  };

  // ------------------------------------------------------------------ small helpers

  function $(sel, root) {
    return (root || document).querySelector(sel);
  }

  function num(v) {
    if (v === null || v === undefined || v === "") return null;
    var n = typeof v === "number" ? v : Number(v);
    return isFinite(n) ? n : null;
  }

  function sum(rows, col) {
    var total = 0;
    for (var i = 0; i < rows.length; i++) total += num(rows[i][col]) || 0;
    return total;
  }

  function rowsOf(name) {
    var ds = state.data[name];
    return ds && Array.isArray(ds.rows) ? ds.rows : [];
  }

  function isoDay(v) {
    return v === null || v === undefined ? null : String(v).slice(0, 10);
  }

  function addDays(iso, n) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 86400000);
  }

  function inRange(day, range) {
    return !!day && (!range || (day >= range.start && day <= range.end));
  }

  var moneyFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  var moneyFmt2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var decFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

  function fmtMoney(v, cents) {
    var n = num(v);
    return n === null ? "–" : (cents ? moneyFmt2 : moneyFmt).format(n);
  }
  function fmtInt(v) {
    var n = num(v);
    return n === null ? "–" : intFmt.format(n);
  }
  function fmtPct(v, digits) {
    var n = num(v);
    return n === null ? "–" : (n * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }
  function fmtDec(v) {
    var n = num(v);
    return n === null ? "–" : decFmt.format(n);
  }
  function shortMoney(v) {
    var n = num(v) || 0;
    var a = Math.abs(n);
    // Trim a trailing ".0" so axis labels stay short but distinct ($1.5k, $2k).
    function trim(x, digits) { return x.toFixed(digits).replace(/\.0+$/, ""); }
    if (a >= 1e6) return "$" + trim(n / 1e6, 1) + "M";
    if (a >= 1e4) return "$" + trim(n / 1e3, 0) + "k";
    if (a >= 1e3) return "$" + trim(n / 1e3, 1) + "k";
    return "$" + n.toFixed(0);
  }
  function truncate(text, n) {
    var s = String(text === null || text === undefined ? "" : text);
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  // ------------------------------------------------------------------ panels: empty state and charts

  function panel(name) {
    return document.querySelector('[data-panel="' + name + '"]');
  }

  function setEmpty(name, empty, message) {
    var el = panel(name);
    if (!el) return;
    el.classList.toggle("is-empty", !!empty);
    var note = el.querySelector(":scope > .empty-note");
    if (note) {
      note.hidden = !empty;
      if (message) note.textContent = message;
    }
  }

  function setScope(name, text, unfiltered) {
    var el = panel(name);
    var note = el && el.querySelector(".scope-note");
    if (note) note.textContent = text || "";
    if (el) el.classList.toggle("is-unfiltered", !!unfiltered);
  }

  function setError(name, message) {
    var el = panel(name);
    if (!el) return;
    el.classList.toggle("is-error", !!message);
    var note = el.querySelector(":scope > .error-note");
    if (!note && message) {
      note = document.createElement("p");
      note.className = "error-note";
      note.setAttribute("role", "alert");
      var scope = el.querySelector(":scope > .scope-note");
      el.insertBefore(note, scope);
    }
    if (note) {
      note.hidden = !message;
      note.textContent = message || "";
    }
  }

  // Why a panel cannot be drawn from its data, or null when its datasets are there.
  function dataError(name) {
    var missing = (PANEL_DATA[name] || []).filter(function (ds) {
      // The API serves queries only: without a snapshot there are no DQ results, which is not a failure.
      if (ds === DQ_STATUS && state.source === "api" && !state.errors[ds]) return false;
      return state.errors[ds] || !state.data[ds];
    });
    if (!missing.length) return null;
    return "Could not load " + missing.join(", ") + (state.errors[missing[0]] ? ": " + state.errors[missing[0]] : ".");
  }

  function destroyChart(id) {
    if (state.charts[id]) {
      state.charts[id].destroy();
      delete state.charts[id];
    }
  }

  function drawChart(id, config) {
    destroyChart(id);
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return null;
    config.options = Object.assign(
      {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {},
      },
      config.options || {}
    );
    state.charts[id] = new Chart(canvas, config);
    return state.charts[id];
  }

  function baseScales(yTick) {
    return {
      x: { grid: { display: false }, ticks: { color: "#4f5b6b", maxRotation: 0, autoSkipPadding: 12 } },
      y: { beginAtZero: true, grid: { color: "#eef1f5" }, ticks: { color: "#4f5b6b", callback: yTick } },
    };
  }

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

  // ------------------------------------------------------------------ conversion funnel

  function renderFunnel() {
    var c = COLUMNS.conversion_funnel;
    var ds = state.data.conversion_funnel || {};
    var rows = rowsOf("conversion_funnel");
    var select = $("#funnel-device");
    var devices = Array.from(new Set(rows.map(function (r) { return r[c.device]; })))
      .filter(function (d) { return d && d !== ALL_DEVICES; })
      .sort();
    if (select.options.length !== devices.length + 1) {
      select.innerHTML = '<option value="">All devices</option>';
      devices.forEach(function (d) {
        var o = document.createElement("option");
        o.value = d;
        o.textContent = d.charAt(0).toUpperCase() + d.slice(1);
        select.appendChild(o);
      });
    }
    var device = select.value || ALL_DEVICES;
    // by=day gives one funnel per date, which the range selector can sum; by=range is one funnel.
    var daily = ds.params && ds.params.by === "day";
    var counts = {};
    FUNNEL_STAGES.forEach(function (s) { counts[s] = 0; });
    rows.forEach(function (r) {
      if (r[c.device] !== device) return;
      if (daily && !inRange(isoDay(r[c.period]), state.range)) return;
      if (r[c.stage] in counts) counts[r[c.stage]] += num(r[c.sessions]) || 0;
    });
    var values = FUNNEL_STAGES.map(function (s) { return counts[s]; });
    if (!values[0]) {
      destroyChart("chart-funnel");
      setEmpty("conversion_funnel", true, "No sessions for this selection.");
      return;
    }
    setEmpty("conversion_funnel", false);
    drawChart("chart-funnel", {
      type: "bar",
      data: {
        labels: FUNNEL_STAGES.map(function (s) { return STAGE_LABELS[s]; }),
        datasets: [
          {
            label: "Sessions",
            data: values,
            backgroundColor: FUNNEL_STAGES.map(function (_, i) { return "rgba(31, 95, 191, " + (1 - i * 0.15) + ")"; }),
            borderRadius: 4,
          },
        ],
      },
      options: {
        indexAxis: "y",
        scales: {
          x: { beginAtZero: true, grid: { color: "#eef1f5" }, ticks: { color: "#4f5b6b" } },
          y: { grid: { display: false }, ticks: { color: "#1b2430" } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var i = ctx.dataIndex;
                var text = fmtInt(values[i]) + " sessions";
                if (i > 0 && values[i - 1]) text += " · " + fmtPct(values[i] / values[i - 1]) + " of previous stage";
                if (values[0]) text += " · " + fmtPct(values[i] / values[0]) + " of all";
                return text;
              },
            },
          },
        },
      },
    });
    var overall = "Overall " + fmtPct(values[values.length - 1] / values[0], 2) + " of sessions reach purchase";
    if (daily) setScope("conversion_funnel", overall + " in the selected range.");
    else {
      var funnelCover = coverage("conversion_funnel");
      setScope("conversion_funnel", overall + ". " + funnelCover.text, funnelCover.unfiltered);
    }
  }

  // ------------------------------------------------------------------ customer segments

  function renderSegments() {
    var c = COLUMNS.customer_segments;
    var rows = rowsOf("customer_segments").filter(function (r) { return (num(r[c.customers]) || 0) > 0; });
    if (!rows.length) {
      destroyChart("chart-segments");
      setEmpty("customer_segments", true, "No customer segments.");
      return;
    }
    setEmpty("customer_segments", false);
    drawChart("chart-segments", {
      type: "doughnut",
      data: {
        labels: rows.map(function (r) { return r[c.segment]; }),
        datasets: [
          {
            label: "Customers",
            data: rows.map(function (r) { return num(r[c.customers]) || 0; }),
            backgroundColor: rows.map(function (_, i) { return PALETTE[i % PALETTE.length]; }),
            borderColor: "#ffffff",
            borderWidth: 2,
          },
        ],
      },
      options: {
        cutout: "55%",
        plugins: {
          legend: { position: "right", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var r = rows[ctx.dataIndex];
                var text = r[c.segment] + ": " + fmtInt(r[c.customers]) + " customers";
                if (c.revenueShare in r) text += " · " + fmtPct(r[c.revenueShare]) + " of revenue";
                else if (c.revenue in r) text += " · " + fmtMoney(r[c.revenue]);
                return text;
              },
            },
          },
        },
      },
    });
    var segmentCover = coverage("customer_segments");
    setScope("customer_segments", "Hover a segment for its share of revenue. " + segmentCover.text, segmentCover.unfiltered);
  }

  // ------------------------------------------------------------------ customer lifetime value

  function bandLabel(band) {
    var c = COLUMNS.ltv_distribution;
    var lo = num(band[c.start]) || 0;
    var hi = num(band[c.end]);
    return hi === null ? shortMoney(lo) + "+" : shortMoney(lo) + "–" + shortMoney(hi);
  }

  function renderLtv() {
    // The bands come binned from SQL over every customer, so they add up to the customer count.
    var c = COLUMNS.ltv_distribution;
    var bands = rowsOf("ltv_distribution");
    var total = bands.length ? num(bands[0][c.total]) : 0;
    if (!bands.length || !total) {
      destroyChart("chart-ltv");
      setEmpty("customer_ltv", true, "No customers with purchases.");
      setScope("customer_ltv", "");
      return;
    }
    setEmpty("customer_ltv", false);
    drawChart("chart-ltv", {
      type: "bar",
      data: {
        labels: bands.map(bandLabel),
        datasets: [{ label: "Customers", data: bands.map(function (b) { return num(b[c.customers]) || 0; }), backgroundColor: "#009e73", borderRadius: 3 }],
      },
      options: {
        scales: baseScales(function (v) { return fmtInt(v); }),
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var b = bands[ctx.dataIndex];
                return fmtInt(b[c.customers]) + " customers (" + fmtPct(b[c.customerShare]) + ") · " + fmtPct(b[c.valueShare]) + " of all lifetime value";
              },
            },
          },
        },
      },
    });
    var text = "All " + fmtInt(total) + " customers, lifetime value to date (not filtered by the date range).";
    // customer_ltv lists the top customers; the last one listed says how much value they hold.
    var t = COLUMNS.customer_ltv;
    var top = rowsOf("customer_ltv");
    var last = top.reduce(function (acc, r) { return !acc || num(r[t.rank]) > num(acc[t.rank]) ? r : acc; }, null);
    if (last && num(last[t.topShare]) !== null && num(last[t.cumulativeShare]) !== null) {
      text += " The top " + fmtInt(top.length) + " (" + fmtPct(last[t.topShare]) + " of customers) hold " + fmtPct(last[t.cumulativeShare]) + " of it.";
    }
    setScope("customer_ltv", text, !rangeIsEverything());
  }

  // ------------------------------------------------------------------ return rates

  var DIMENSION_LABELS = { category: "Category", brand: "Brand", price_band: "Price band", rating: "Rating" };

  function renderReturns() {
    var c = COLUMNS.return_rates;
    var rows = rowsOf("return_rates");
    var select = $("#returns-dimension");
    var dims = Array.from(new Set(rows.map(function (r) { return r[c.dimension]; }).filter(Boolean)));
    if (select.options.length !== dims.length) {
      select.innerHTML = "";
      dims.forEach(function (d) {
        var o = document.createElement("option");
        o.value = d;
        o.textContent = DIMENSION_LABELS[d] || d;
        select.appendChild(o);
      });
      if (dims.indexOf("category") !== -1) select.value = "category";
    }
    var dim = select.value;
    var picked = rows
      .filter(function (r) { return r[c.dimension] === dim && num(r[c.rate]) !== null; })
      .slice()
      .sort(function (a, b) { return (num(b[c.rate]) || 0) - (num(a[c.rate]) || 0); })
      .slice(0, 15);
    if (!picked.length) {
      destroyChart("chart-returns");
      setEmpty("return_rates", true, "No returns data.");
      return;
    }
    setEmpty("return_rates", false);
    var canvas = document.getElementById("chart-returns");
    canvas.setAttribute("aria-label", "Bar chart of return rate by " + (DIMENSION_LABELS[dim] || dim).toLowerCase());
    drawChart("chart-returns", {
      type: "bar",
      data: {
        labels: picked.map(function (r) { return truncate(r[c.value], 22); }),
        datasets: [{ label: "Return rate", data: picked.map(function (r) { return num(r[c.rate]); }), backgroundColor: "#cc79a7", borderRadius: 4 }],
      },
      options: {
        scales: (function () {
          var scales = baseScales(function (v) { return (v * 100).toFixed(0) + "%"; });
          // Every bar is a named group: show all the names, slanted if they need the room.
          scales.x.ticks = { color: "#4f5b6b", autoSkip: false, maxRotation: 45 };
          return scales;
        })(),
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var r = picked[ctx.dataIndex];
                var text = fmtPct(r[c.rate]) + " returned";
                if (c.returns in r && c.orders in r) text += " (" + fmtInt(r[c.returns]) + " of " + fmtInt(r[c.orders]) + ")";
                return text;
              },
            },
          },
        },
      },
    });
    var returnsCover = coverage("return_rates");
    setScope("return_rates", "Returned or refunded ÷ all transactions. " + returnsCover.text, returnsCover.unfiltered);
  }

  // ------------------------------------------------------------------ recommendations

  function fillTable(table, rows, cells) {
    var body = table.querySelector("tbody");
    body.innerHTML = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      cells.forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell.value(r);
        if (cell.num) td.className = "num";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var note = table.parentNode.querySelector(".empty-note");
    if (note) note.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
  }

  function renderRecommendations() {
    var c = COLUMNS.product_recommendations;
    var rows = rowsOf("product_recommendations");
    var pairs = rows.filter(function (r) { return r[c.kind] === KIND_PAIRS; }).slice(0, 10);
    var viewed = rows.filter(function (r) { return r[c.kind] === KIND_VIEWED; }).slice(0, 10);
    fillTable($("#table-bought-together"), pairs, [
      { value: function (r) { return truncate(r[c.product] || r[c.productId], 40); } },
      { value: function (r) { return truncate(r[c.other] || r[c.otherId], 40); } },
      { value: function (r) { return fmtInt(r[c.baskets]); }, num: true },
      { value: function (r) { return fmtPct(r[c.confidence]); }, num: true },
      { value: function (r) { return fmtDec(r[c.lift]); }, num: true },
    ]);
    fillTable($("#table-viewed-not-bought"), viewed, [
      { value: function (r) { return truncate(r[c.product] || r[c.productId], 40); } },
      { value: function (r) { return fmtInt(r[c.views]); }, num: true },
      { value: function (r) { return fmtInt(r[c.purchases]); }, num: true },
      { value: function (r) { return fmtPct(r[c.viewRate]); }, num: true },
    ]);
    var recsCover = coverage("product_recommendations");
    setScope("product_recommendations", "A basket is one customer's purchases on one day. " + recsCover.text, recsCover.unfiltered);
  }

  // ------------------------------------------------------------------ data quality

  var DQ_ROWS = 14;

  function renderDq() {
    var all = rowsOf(DQ_STATUS);
    var rows = all
      .filter(function (r) { return inRange(isoDay(r.date), state.range); })
      .sort(function (a, b) { return a.date < b.date ? 1 : -1; });
    var el = panel("dq_status");
    var table = $("#dq-table");
    var summary = $("#dq-summary");
    if (!rows.length) {
      table.hidden = true;
      summary.textContent = "";
      var why = !state.data[DQ_STATUS]
        ? "Data-quality results come with the pipeline's snapshot of the data; there is none yet."
        : all.length
          ? "No data-quality reports for this range (" + all.length + " outside it)."
          : "No data-quality reports yet.";
      setEmpty("dq_status", true, why);
      setScope("dq_status", "");
      el.classList.remove("has-failures");
      return;
    }
    setEmpty("dq_status", false);
    table.hidden = false;
    var failed = rows.filter(function (r) { return r.passed === false; }).length;
    summary.innerHTML = "";
    var badge = document.createElement("span");
    badge.className = "badge " + (failed ? "fail" : "pass");
    badge.textContent = failed ? failed + " of " + rows.length + " dates failed" : "All " + rows.length + " dates passed";
    summary.appendChild(badge);
    var body = table.querySelector("tbody");
    body.innerHTML = "";
    rows.slice(0, DQ_ROWS).forEach(function (r) {
      var tr = document.createElement("tr");
      var cells = [
        r.date,
        null,
        r.checks_failed === null || r.checks_failed === undefined ? "–" : fmtInt(r.checks_failed),
        r.critical_failures === null || r.critical_failures === undefined ? "–" : fmtInt(r.critical_failures),
        null,
      ];
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        if (i === 1) {
          var b = document.createElement("span");
          b.className = "badge " + (r.passed ? "pass" : "fail");
          b.textContent = r.error ? "unreadable" : r.passed ? "passed" : "failed";
          td.appendChild(b);
        } else if (i === 4) {
          if (r.report) {
            var a = document.createElement("a");
            a.href = r.report;
            a.textContent = "View report";
            a.setAttribute("aria-label", "Data-quality report for " + r.date);
            td.appendChild(a);
          } else td.textContent = "–";
        } else td.textContent = text;
        if (i === 2 || i === 3) td.className = "num";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    el.classList.toggle("has-failures", failed > 0);
    var shown = Math.min(rows.length, DQ_ROWS);
    setScope(
      "dq_status",
      "Dates in the selected range" + (rows.length > shown ? ", latest " + shown + " of " + rows.length + " listed" : "") + "."
    );
  }

  // ------------------------------------------------------------------ scope, range and page state

  // What a panel's data covers, and whether that differs from the selected range.
  function coverage(name) {
    var ds = state.data[name];
    var p = (ds && ds.params) || {};
    if (!(p.start_date && p.end_date)) {
      return { text: "Covers every customer, all time (not filtered by the date range).", unfiltered: !rangeIsEverything() };
    }
    var range = state.range;
    if (!range || (p.start_date === range.start && p.end_date === range.end)) {
      return { text: "Covers " + p.start_date + " to " + p.end_date + ".", unfiltered: false };
    }
    // Without the API an aggregate cannot follow the range selector: say what it shows instead.
    return {
      text:
        "Covers " + p.start_date + " to " + p.end_date + ", not the selected range" +
        (state.apiBase ? "." : " (a static build holds one answer per panel)."),
      unfiltered: true,
    };
  }

  function rangeIsEverything() {
    return !state.range || !state.bounds || (state.range.start === state.bounds.min && state.range.end === state.bounds.max);
  }

  function computeBounds() {
    // The build's window; daily_kpis may reach further back (for the previous-period deltas).
    var span = state.manifest && state.manifest.date_range;
    if (span && span.start && span.end) return { min: span.start, max: span.end };
    var days = rowsOf("daily_kpis").map(function (r) { return isoDay(r[COLUMNS.daily_kpis.date]); }).filter(Boolean).sort();
    if (days.length) return { min: days[0], max: days[days.length - 1] };
    return null;
  }

  function setupRange() {
    var start = $("#range-start");
    var end = $("#range-end");
    var buttons = document.querySelectorAll("[data-preset]");
    state.bounds = computeBounds();
    if (!state.bounds) return;
    [start, end].forEach(function (input) {
      input.min = state.bounds.min;
      input.max = state.bounds.max;
      input.disabled = false;
    });
    buttons.forEach(function (b) { b.disabled = false; });
    setRange(state.bounds.min, state.bounds.max, "all");

    function onDates() {
      var s = start.value || state.bounds.min;
      var e = end.value || state.bounds.max;
      if (s > e) { var t = s; s = e; e = t; }
      setRange(s, e, null);
      refresh();
    }
    start.addEventListener("change", onDates);
    end.addEventListener("change", onDates);
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        var preset = b.getAttribute("data-preset");
        if (preset === "all") setRange(state.bounds.min, state.bounds.max, "all");
        else {
          var s = addDays(state.bounds.max, -(Number(preset) - 1));
          setRange(s < state.bounds.min ? state.bounds.min : s, state.bounds.max, preset);
        }
        refresh();
      });
    });
  }

  function setupControls() {
    var controls = [
      ["#top-category", "top_products", renderTopProducts],
      ["#funnel-device", "conversion_funnel", renderFunnel],
      ["#returns-dimension", "return_rates", renderReturns],
    ];
    controls.forEach(function (c) {
      $(c[0]).addEventListener("change", function () { renderPanel(c[1], c[2]); });
    });
  }

  function setRange(s, e, preset) {
    state.range = { start: s, end: e };
    $("#range-start").value = s;
    $("#range-end").value = e;
    document.querySelectorAll("[data-preset]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-preset") === preset));
    });
  }

  var PANELS = [
    ["kpis", renderKpis],
    ["revenue_trend", renderRevenueTrend],
    ["revenue_by_category", renderCategoryRevenue],
    ["top_products", renderTopProducts],
    ["conversion_funnel", renderFunnel],
    ["customer_segments", renderSegments],
    ["customer_ltv", renderLtv],
    ["return_rates", renderReturns],
    ["product_recommendations", renderRecommendations],
    ["dq_status", renderDq],
  ];

  function renderPanel(name, fn) {
    var why = dataError(name);
    if (why) {
      clearPanel(name);
      setError(name, why);
      return;
    }
    setError(name, null);
    try {
      fn();
    } catch (err) {
      // One broken panel must not blank the page, but it must not go unnoticed either.
      console.error("dashboard panel failed:", name, err);
      clearPanel(name);
      setError(name, "This panel could not be drawn: " + (err && err.message ? err.message : err));
    }
  }

  function clearPanel(name) {
    var el = panel(name);
    if (!el) return;
    el.querySelectorAll("canvas").forEach(function (canvas) { destroyChart(canvas.id); });
    setScope(name, "");
  }

  function renderAll() {
    PANELS.forEach(function (pair) { renderPanel(pair[0], pair[1]); });
    var asOf = $("#as-of");
    if (state.bounds) {
      asOf.textContent = "Data " + state.bounds.min + " to " + state.bounds.max + " · showing " + state.range.start + " to " + state.range.end;
    } else {
      asOf.textContent = "No data in the lake yet.";
    }
  }

  // ------------------------------------------------------------------ loading

  function showBanner(text) {
    var banner = $("#status-banner");
    banner.textContent = text;
    banner.hidden = !text;
  }

  function fetchJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (res) {
      if (!res.ok) {
        return res.text().then(function (body) {
          var message = res.status + " " + res.statusText;
          try { message = JSON.parse(body).message || message; } catch (e) { /* not JSON */ }
          throw new Error(url + ": " + message);
        });
      }
      return res.json();
    });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }

  function loadStatic() {
    // The bundle works from file:// too; plain JSON files are the fallback over http.
    return loadScript("data/bundle.js")
      .then(function () {
        if (!window.ECOMLAKE_DATA) throw new Error("data/bundle.js did not define ECOMLAKE_DATA");
        state.source = "bundle";
        state.manifest = window.ECOMLAKE_DATA.manifest || null;
        state.data = window.ECOMLAKE_DATA.datasets || {};
      })
      .catch(function () {
        return fetchJson("data/manifest.json").then(function (manifest) {
          state.source = "json";
          state.manifest = manifest;
          return Promise.all(
            QUERIES.concat([DQ_STATUS]).map(function (name) {
              return fetchJson("data/" + name + ".json")
                .then(function (ds) { state.data[name] = ds; delete state.errors[name]; })
                .catch(function (err) { state.errors[name] = err.message; console.warn(err.message); });
            })
          );
        });
      });
  }

  // What the page asks the API for on first load: the same settings `ecomlake dashboard` uses.
  var API_SETTINGS = {
    revenue_trends: { grain: "day" },
    conversion_funnel: { by: "day" },
    revenue_by_category: { grain: "day" },
  };

  function apiUrl(name, params) {
    var query = Object.keys(params || {})
      .sort()
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); })
      .join("&");
    return state.apiBase.replace(/\/$/, "") + "/" + encodeURIComponent(name) + (query ? "?" + query : "");
  }

  function loadFromApi(names, paramsFor) {
    var failures = [];
    return Promise.all(
      names.map(function (name) {
        return fetchJson(apiUrl(name, paramsFor(name)))
          .then(function (ds) { state.data[name] = ds; delete state.errors[name]; })
          .catch(function (err) { failures.push(name); state.errors[name] = err.message; console.warn(err.message); });
      })
    ).then(function () {
      showBanner(failures.length ? "Some panels could not load: " + failures.join(", ") + "." : "");
      if (failures.length === names.length) throw new Error("the API answered none of " + names.join(", "));
    });
  }

  // Datasets the page can cut to any range itself: one row per day.
  function filtersClientSide(name) {
    var ds = state.data[name];
    if (name === "daily_kpis") return true;
    if (name === "revenue_trends" || name === "revenue_by_category") {
      return !ds || !ds.params || !ds.params.grain || ds.params.grain === "day";
    }
    if (name === "conversion_funnel") return !!(ds && ds.params && ds.params.by === "day");
    return false;
  }

  // Datasets that must be asked again when the range changes: aggregated over a date range.
  function rangeBound() {
    return QUERIES.filter(function (name) {
      var ds = state.data[name];
      return !!(ds && ds.params && "start_date" in ds.params && "end_date" in ds.params) && !filtersClientSide(name);
    });
  }

  function refresh() {
    var names = state.apiBase ? rangeBound() : [];
    if (!names.length) {
      renderAll();
      return Promise.resolve();
    }
    document.body.setAttribute("data-state", "loading");
    var range = state.range;
    return loadFromApi(names, function (name) {
      var params = Object.assign({}, API_SETTINGS[name] || {});
      params.start_date = range.start;
      params.end_date = range.end;
      return params;
    })
      .then(function () {
        renderAll();
        document.body.setAttribute("data-state", "ready");
      })
      .catch(fail);
  }

  function fail(err) {
    showBanner("The dashboard data could not be loaded: " + (err && err.message ? err.message : err));
    $("#as-of").textContent = "No data loaded.";
    document.body.setAttribute("data-state", "error");
  }

  function load() {
    // A snapshot written by the build (locally) or the pipeline's refresh step (in the cloud)
    // paints at once; without one, the cloud page asks the API for everything.
    if (!state.apiBase) return loadStatic();
    return fetchJson("data/manifest.json").then(
      function () { return loadStatic(); },
      function () {
        state.source = "api";
        return loadFromApi(QUERIES, function (name) { return API_SETTINGS[name] || {}; });
      }
    );
  }

  function start() {
    var cfg = window.ECOMLAKE_CONFIG || {};
    state.apiBase = cfg.apiBase || null;
    if (typeof Chart === "undefined") {
      fail(new Error("Chart.js did not load (vendor/chart-4.6.1.umd.min.js)"));
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#4f5b6b";
    load()
      .then(function () {
        setupRange();
        setupControls();
        renderAll();
        $("#footer-source").textContent = state.source === "api" ? "Live from Athena." : "";
        document.body.setAttribute("data-state", "ready");
      })
      .catch(fail);
  }

  // Exposed for tests and the browser console.
  window.ecomlakeDashboard = { state: state, kpiTotals: kpiTotals, movingAverage: movingAverage, COLUMNS: COLUMNS };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
