/*
 * ecomlake dashboard, part 3 of 4: the customer and quality panels -- conversion funnel,
 * customer segments, lifetime value, return rates, recommendations, data quality.
 */
(function (D) {
  "use strict";

  var DQ_STATUS = D.DQ_STATUS, COLUMNS = D.COLUMNS, ALL_DEVICES = D.ALL_DEVICES, KIND_PAIRS = D.KIND_PAIRS,
    KIND_VIEWED = D.KIND_VIEWED, FUNNEL_STAGES = D.FUNNEL_STAGES, STAGE_LABELS = D.STAGE_LABELS,
    PALETTE = D.PALETTE, state = D.state, $ = D.$, num = D.num, rowsOf = D.rowsOf, isoDay = D.isoDay,
    inRange = D.inRange, fmtMoney = D.fmtMoney, fmtInt = D.fmtInt, fmtPct = D.fmtPct, fmtDec = D.fmtDec,
    shortMoney = D.shortMoney, truncate = D.truncate, panel = D.panel, setEmpty = D.setEmpty,
    setScope = D.setScope, destroyChart = D.destroyChart, drawChart = D.drawChart, baseScales = D.baseScales,
    coverage = D.coverage, rangeIsEverything = D.rangeIsEverything;

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

  D.renderFunnel = renderFunnel;
  D.renderSegments = renderSegments;
  D.renderLtv = renderLtv;
  D.renderReturns = renderReturns;
  D.renderRecommendations = renderRecommendations;
  D.renderDq = renderDq;
})(window.ecomlakeDashboard);
