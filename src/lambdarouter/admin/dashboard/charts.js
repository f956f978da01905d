// Small inline-SVG charts for the dashboard: stacked bars (counts per group) and lines (percentiles).
// No library: the page must ship without a build step or a CDN. Each chart is sized to its container's
// width when drawn (app.js redraws on resize), so text stays legible at phone and desktop widths.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const HEIGHT = 180;
  const PAD = { top: 10, right: 8, bottom: 22, left: 48 };
  const PALETTE = ["#4c7df0", "#f08c2e", "#2fa66a", "#c4454a", "#8a5cd0", "#1ea3b0", "#b58b00", "#888888"];

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A "nice" axis maximum (1, 2, 2.5 or 5 times a power of ten) so gridlines read as round numbers.
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function frame(width, max, format, labels) {
    const svg = el("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img" });
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    for (let i = 0; i <= 4; i++) {
      const y = PAD.top + plotH - (plotH * i) / 4;
      svg.appendChild(el("line", { x1: PAD.left, x2: width - PAD.right, y1: y, y2: y, class: "grid" }));
      svg.appendChild(el("text", { x: PAD.left - 4, y: y + 4, class: "axis", "text-anchor": "end" },
        format((max * i) / 4)));
    }
    const plotW = width - PAD.left - PAD.right;
    const every = Math.max(1, Math.ceil(labels.length / Math.max(2, Math.floor(plotW / 70))));
    labels.forEach((label, i) => {
      if (i % every) return;
      const x = PAD.left + (plotW * (i + 0.5)) / labels.length;
      svg.appendChild(el("text", { x, y: HEIGHT - 6, class: "axis", "text-anchor": "middle" }, label));
    });
    return { svg, plotW, plotH };
  }

  // series: [{label, values: {group: number}}]; groups: ordered names (colours follow this order).
  function stackedBars(width, series, groups, format) {
    const totals = series.map((s) => groups.reduce((sum, g) => sum + (s.values[g] || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    const { svg, plotW, plotH } = frame(width, max, format, series.map((s) => s.label));
    const slot = plotW / Math.max(series.length, 1);
    const barW = Math.max(1, slot * 0.7);
    series.forEach((s, i) => {
      let base = 0;
      groups.forEach((g, gi) => {
        const value = s.values[g] || 0;
        if (!value) return;
        const h = (plotH * value) / max;
        const y = PAD.top + plotH - ((plotH * base) / max) - h;
        const rect = el("rect", { x: PAD.left + slot * i + (slot - barW) / 2, y, width: barW, height: Math.max(h, 1),
          fill: PALETTE[gi % PALETTE.length], class: "bar", "data-group": g, "data-value": value });
        rect.appendChild(el("title", {}, `${s.label} · ${g}: ${format(value)}`));
        svg.appendChild(rect);
        base += value;
      });
    });
    return svg;
  }

  // lines: [{name, values: [number|null]}], one value per label; gaps where a bucket had no data.
  function lines(width, labels, lineSpecs, format) {
    const all = lineSpecs.flatMap((l) => l.values.filter((v) => v !== null && v !== undefined));
    const max = niceMax(Math.max(0, ...all));
    const { svg, plotW, plotH } = frame(width, max, format, labels);
    lineSpecs.forEach((line, li) => {
      const colour = PALETTE[li % PALETTE.length];
      let path = "";
      line.values.forEach((v, i) => {
        if (v === null || v === undefined) { path += " "; return; }
        const x = PAD.left + (plotW * (i + 0.5)) / labels.length;
        const y = PAD.top + plotH - (plotH * v) / max;
        path += (path.endsWith(" ") || !path ? " M" : " L") + `${x.toFixed(1)},${y.toFixed(1)}`;
        const dot = el("circle", { cx: x, cy: y, r: 2.5, fill: colour, class: "point", "data-value": v });
        dot.appendChild(el("title", {}, `${labels[i]} · ${line.name}: ${format(v)}`));
        svg.appendChild(dot);
      });
      if (path.trim()) svg.appendChild(el("path", { d: path.trim(), stroke: colour, class: "line" }));
    });
    return svg;
  }

  window.LRCharts = { stackedBars, lines, PALETTE };
})();
