/*
 * ecomlake dashboard: reads the query results the lake produced and charts them.
 *
 * The page loads four scripts in order (index.html): js/core.js (what the panels share),
 * js/panels-sales.js and js/panels-customers.js (one render function per panel), and this one,
 * which holds the page itself: the date range, the controls, loading the data, drawing every
 * panel. They share one object, window.ecomlakeDashboard.
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
(function (D) {
  "use strict";

  var QUERIES = D.QUERIES, DQ_STATUS = D.DQ_STATUS, COLUMNS = D.COLUMNS, state = D.state, $ = D.$,
    rowsOf = D.rowsOf, isoDay = D.isoDay, addDays = D.addDays, panel = D.panel, setScope = D.setScope,
    setError = D.setError, dataError = D.dataError, destroyChart = D.destroyChart, renderKpis = D.renderKpis,
    renderRevenueTrend = D.renderRevenueTrend, renderCategoryRevenue = D.renderCategoryRevenue,
    renderTopProducts = D.renderTopProducts, renderFunnel = D.renderFunnel, renderSegments = D.renderSegments,
    renderLtv = D.renderLtv, renderReturns = D.renderReturns, renderRecommendations = D.renderRecommendations,
    renderDq = D.renderDq;

  // ------------------------------------------------------------------ range, controls and page state

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


  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(window.ecomlakeDashboard);
