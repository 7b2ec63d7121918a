// Draws the /plot chart as SVG from the JSON embedded in the page.
// Sized to its container and redrawn on resize, so it fits any screen.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("plot-data").textContent);
  const figure = document.getElementById("chart");
  const ts = data.timestamps;
  const vs = data.values;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function extent() {
    let lo = data.band[0], hi = data.band[1];
    for (let i = 0; i < vs.length; i++) {
      if (vs[i] < lo) lo = vs[i];
      if (vs[i] > hi) hi = vs[i];
    }
    const pad = (hi - lo) * 0.05 || 1;
    return [lo - pad, hi + pad];
  }

  // Round tick steps (1, 2 or 5 times a power of ten) inside [lo, hi].
  function niceTicks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
    return out;
  }

  function evenTicks(lo, hi, count) {
    const out = [];
    for (let i = 0; i <= count; i++) out.push(lo + ((hi - lo) * i) / count);
    return out;
  }

  function fmtTime(t, short) {
    const text = new Date(t * 1000).toISOString().replace("T", " ");
    return short ? text.slice(5, 16) : text.slice(0, 16);  // phones drop the year
  }

  // One min/max pair per pixel column keeps every spike visible with any
  // number of points, and keeps the path small.
  function linePath(x, y, width) {
    const parts = [];
    if (vs.length <= width * 2) {
      for (let i = 0; i < vs.length; i++) parts.push((i ? "L" : "M") + x(ts[i]).toFixed(1) + "," + y(vs[i]).toFixed(1));
      return parts.join("");
    }
    let column = -1, lo = 0, hi = 0;
    const flush = () => {
      if (column < 0) return;
      parts.push((parts.length ? "L" : "M") + column + "," + y(lo).toFixed(1));
      parts.push("L" + column + "," + y(hi).toFixed(1));
    };
    for (let i = 0; i < vs.length; i++) {
      const c = Math.round(x(ts[i]));
      if (c !== column) { flush(); column = c; lo = hi = vs[i]; }
      else { if (vs[i] < lo) lo = vs[i]; if (vs[i] > hi) hi = vs[i]; }
    }
    flush();
    return parts.join("");
  }

  function nearest(t) {
    let a = 0, b = ts.length - 1;
    while (b - a > 1) { const m = (a + b) >> 1; if (ts[m] < t) a = m; else b = m; }
    return Math.abs(ts[a] - t) <= Math.abs(ts[b] - t) ? a : b;
  }

  function draw() {
    figure.textContent = "";
    const width = Math.max(figure.clientWidth, 200);
    const height = Math.max(figure.clientHeight, 160);
    const narrow = width < 520;
    const m = { top: 10, right: 12, bottom: 28, left: narrow ? 44 : 60 };
    const svg = el("svg", { id: "chart-svg", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `${data.series_id} ${data.version}: ${vs.length} points, ${data.anomalies.length} outside the band` }, figure);
    if (!ts.length) {
      el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", id: "no-data" }, svg).textContent =
        "this version kept no training points";
      return;
    }
    const [y0, y1] = extent();
    const t0 = ts[0], t1 = ts[ts.length - 1] === t0 ? t0 + 1 : ts[ts.length - 1];
    const x = (t) => m.left + ((t - t0) / (t1 - t0)) * (width - m.left - m.right);
    const y = (v) => height - m.bottom - ((v - y0) / (y1 - y0)) * (height - m.top - m.bottom);

    const grid = el("g", { class: "grid" }, svg);
    const axis = el("g", { class: "axis" }, svg);
    for (const v of niceTicks(y0, y1, narrow ? 4 : 6)) {
      el("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }, grid);
      el("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end" }, axis).textContent = +v.toPrecision(6);
    }
    const times = evenTicks(t0, t1, narrow ? 2 : 4);
    times.forEach((t, i) => {
      const anchor = i === 0 ? "start" : i === times.length - 1 ? "end" : "middle";
      el("text", { class: "x-tick", x: x(t), y: height - 8, "text-anchor": anchor }, axis).textContent = fmtTime(t, narrow);
    });

    const top = y(data.band[1]), bottom = y(data.band[0]);
    el("rect", { id: "band", x: m.left, y: top, width: width - m.left - m.right, height: Math.max(bottom - top, 0) }, svg);
    el("path", { id: "series-line", d: linePath(x, y, width) }, svg);
    // Over the points, or a dense series hides it.
    el("line", { id: "mean-line", x1: m.left, x2: width - m.right, y1: y(data.mean), y2: y(data.mean) }, svg);
    const dots = el("g", { id: "anomalies" }, svg);
    for (const i of data.anomalies) {
      el("circle", { class: "anomaly", cx: x(ts[i]).toFixed(1), cy: y(vs[i]).toFixed(1), r: 3, "data-index": i }, dots);
    }

    const tip = document.createElement("div");
    tip.id = "tooltip";
    tip.hidden = true;
    figure.appendChild(tip);
    svg.addEventListener("mousemove", (event) => {
      const box = svg.getBoundingClientRect();
      const px = event.clientX - box.left;
      const i = nearest(t0 + ((px - m.left) / (width - m.left - m.right)) * (t1 - t0));
      tip.hidden = false;
      tip.textContent = `${fmtTime(ts[i])}  ${vs[i].toPrecision(6)}`;
      tip.style.left = Math.min(px + 12, width - 160) + "px";
      tip.style.top = Math.max(y(vs[i]) - 30, 0) + "px";
    });
    svg.addEventListener("mouseleave", () => { tip.hidden = true; });
  }

  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(draw);
  });
  draw();
  document.body.dataset.chartReady = "true";
})();
