/*
 * ecomlake dashboard, part 1 of 4: what the panels share -- the queries and the columns each
 * panel reads, the page's state, formatting, and the plumbing of a panel (its empty, error and
 * scope notes, its chart). Loaded first; the panel scripts and app.js read it from
 * window.ecomlakeDashboard (see app.js for the page as a whole).
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

  // ------------------------------------------------------------------ what each panel covers

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

  // Shared with the scripts loaded after this one, and with tests and the browser console.
  var D = (window.ecomlakeDashboard = {});
  D.QUERIES = QUERIES;
  D.DQ_STATUS = DQ_STATUS;
  D.COLUMNS = COLUMNS;
  D.ALL_DEVICES = ALL_DEVICES;
  D.KIND_PAIRS = KIND_PAIRS;
  D.KIND_VIEWED = KIND_VIEWED;
  D.FUNNEL_STAGES = FUNNEL_STAGES;
  D.STAGE_LABELS = STAGE_LABELS;
  D.PALETTE = PALETTE;
  D.ACCENT = ACCENT;
  D.ACCENT_SOFT = ACCENT_SOFT;
  D.SECOND = SECOND;
  D.state = state;
  D.$ = $;
  D.num = num;
  D.sum = sum;
  D.rowsOf = rowsOf;
  D.isoDay = isoDay;
  D.addDays = addDays;
  D.daysBetween = daysBetween;
  D.inRange = inRange;
  D.fmtMoney = fmtMoney;
  D.fmtInt = fmtInt;
  D.fmtPct = fmtPct;
  D.fmtDec = fmtDec;
  D.shortMoney = shortMoney;
  D.truncate = truncate;
  D.panel = panel;
  D.setEmpty = setEmpty;
  D.setScope = setScope;
  D.setError = setError;
  D.dataError = dataError;
  D.destroyChart = destroyChart;
  D.drawChart = drawChart;
  D.baseScales = baseScales;
  D.coverage = coverage;
  D.rangeIsEverything = rangeIsEverything;
})();
