// The usage page's chart: tickets per model per day as stacked bars, drawn as SVG from the
// figures the server puts in data-usage-chart (JSON: [{date, model, tickets}, ...]).
// No library and no inline style (the CSP forbids it): SVG presentation attributes only.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#4f46e5", "#12b76a", "#f79009", "#f04438", "#0ea5e9", "#a855f7", "#84cc16", "#64748b"];
  var WIDTH = 760;
  var HEIGHT = 240;
  var PAD = { top: 12, right: 12, bottom: 34, left: 44 };

  function node(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) {
      el.setAttribute(key, String(attrs[key]));
    });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function shortModel(model) {
    var m = String(model || "");
    return m.length > 14 ? m.slice(0, 8) + "…" + m.slice(-4) : m;
  }

  function niceMax(value) {
    if (value <= 5) return 5;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= value) return steps[i] * power;
    }
    return 10 * power;
  }

  function draw(container) {
    var points;
    try {
      points = JSON.parse(container.dataset.usageChart || "[]");
    } catch (e) {
      return;
    }
    if (!points.length) return;
    var days = [];
    var models = [];
    var byDay = {};
    points.forEach(function (p) {
      if (days.indexOf(p.date) < 0) days.push(p.date);
      if (models.indexOf(p.model) < 0) models.push(p.model);
      byDay[p.date] = byDay[p.date] || {};
      byDay[p.date][p.model] = (byDay[p.date][p.model] || 0) + Number(p.tickets || 0);
    });
    days.sort();
    var totals = days.map(function (d) {
      return models.reduce(function (sum, m) { return sum + (byDay[d][m] || 0); }, 0);
    });
    var top = niceMax(Math.max.apply(null, totals));
    var plotW = WIDTH - PAD.left - PAD.right;
    var plotH = HEIGHT - PAD.top - PAD.bottom;
    var slot = plotW / days.length;
    var barW = Math.max(2, Math.min(36, slot * 0.7));

    var svg = node("svg", {
      viewBox: "0 0 " + WIDTH + " " + HEIGHT, width: "100%", role: "img",
      "aria-label": "Tickets per model per day", preserveAspectRatio: "xMinYMin meet",
    });
    svg.appendChild(node("title", {}, "Tickets per model per day"));
    [0, 0.5, 1].forEach(function (f) {
      var y = PAD.top + plotH * (1 - f);
      svg.appendChild(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, stroke: "#e4e7ec" }));
      svg.appendChild(node("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" },
        String(Number.isInteger(top * f) ? top * f : (top * f).toFixed(1))));
    });
    days.forEach(function (day, i) {
      var x = PAD.left + i * slot + (slot - barW) / 2;
      var base = PAD.top + plotH;
      models.forEach(function (model, m) {
        var value = byDay[day][model] || 0;
        if (!value) return;
        var h = (value / top) * plotH;
        base -= h;
        var rect = node("rect", { x: x.toFixed(1), y: base.toFixed(1), width: barW.toFixed(1), height: h.toFixed(1),
          fill: COLORS[m % COLORS.length] });
        rect.appendChild(node("title", {}, day + " · " + model + ": " + value + " tickets"));
        svg.appendChild(rect);
      });
      var every = Math.ceil(days.length / 10);
      if (i % every === 0) {
        svg.appendChild(node("text", { x: (x + barW / 2).toFixed(1), y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle",
          "font-size": 11, fill: "#667085" }, day.slice(5)));
      }
    });
    container.replaceChildren(svg);

    var legend = document.createElement("ul");
    legend.className = "chart-legend small";
    models.forEach(function (model, m) {
      var item = document.createElement("li");
      var swatch = node("svg", { width: 10, height: 10, "aria-hidden": "true" });
      swatch.appendChild(node("rect", { width: 10, height: 10, rx: 2, fill: COLORS[m % COLORS.length] }));
      var label = document.createElement("code");
      label.textContent = shortModel(model);
      label.title = model;
      item.appendChild(swatch);
      item.appendChild(label);
      legend.appendChild(item);
    });
    container.appendChild(legend);
  }

  function drawAll() {
    document.querySelectorAll("[data-usage-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
