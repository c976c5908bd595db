// Overview: the node's figures and live charts (uPlot) of connections and of messages in and
// out per second, from polling the API every second.
import { get } from "./api.js";
import { h, fmtDuration, notice } from "./ui.js";

const POLL_MS = 1000;
const POINTS = 180; // three minutes

let uPlotModule = null;
async function loadUPlot() {
  if (!uPlotModule) {
    uPlotModule = (await import("/vendor/uPlot.esm.js")).default;
    document.head.append(h("link", { rel: "stylesheet", href: "/vendor/uPlot.min.css" }));
  }
  return uPlotModule;
}

function chart(uPlot, el, series, label) {
  const opts = {
    width: Math.max(200, el.clientWidth - 8), height: 200,
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, value: (u, v) => v == null ? "—" : v.toFixed(s.decimals ?? 0) }))],
    axes: [{ values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], { minute: "2-digit", second: "2-digit" })) }, { label, size: 60 }],
    scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    legend: { live: false },
  };
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot(opts, data, el);
  const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth - 8), height: 200 }));
  ro.observe(el);
  return { plot, data, stop: () => { ro.disconnect(); plot.destroy(); } };
}

export function overview(main) {
  main.append(h("h1", {}, "Overview"));
  const msg = h("div");
  const cards = h("div", { class: "cards", id: "overview-cards" });
  const connEl = h("div", { id: "chart-connections" });
  const msgEl = h("div", { id: "chart-messages" });
  const connNow = h("p", { class: "muted", id: "connections-now" });
  const rateNow = h("p", { class: "muted", id: "rate-now" });
  main.append(msg, cards, h("div", { class: "charts" },
    h("section", { class: "chart" }, h("h3", {}, "Connections"), connEl, connNow),
    h("section", { class: "chart" }, h("h3", {}, "Messages per second (solid: in, dashed: out)"), msgEl, rateNow)));

  let stopped = false, timer = null, charts = [], last = null;
  const card = (k, v) => h("div", { class: "stat" }, h("div", { class: "k" }, k), h("div", { class: "v", "data-stat": k }, v));

  async function tick() {
    try {
      const [nodes, stats, metrics] = await Promise.all([get("/api/v4/nodes"), get("/api/v4/stats"), get("/api/v4/metrics")]);
      if (stopped) return;
      const n = nodes.data[0] || {}, st = (stats.data[0] || {}).stats || {}, m = (metrics.data[0] || {}).metrics || {};
      cards.replaceChildren(card("Node", n.node), card("Version", n.version), card("Uptime", n.uptime),
        card("Connections", st["connections.count"]), card("Sessions", st["sessions.count"]),
        card("Subscriptions", st["subscriptions.count"]), card("Topics", st["topics.count"]), card("Retained", st["retained.count"]));
      const now = Date.now() / 1000;
      const inN = m["messages.received"] || 0, outN = m["messages.sent"] || 0;
      let rin = null, rout = null;
      if (last) {
        const dt = Math.max(0.001, now - last.t);
        rin = Math.max(0, (inN - last.inN) / dt);
        rout = Math.max(0, (outN - last.outN) / dt);
      }
      last = { t: now, inN, outN };
      connNow.textContent = `Now: ${st["connections.count"] || 0} connections`;
      if (rin !== null) rateNow.textContent = `Now: ${rin.toFixed(1)} in/s, ${rout.toFixed(1)} out/s`;
      if (charts.length) {
        const [c, r] = charts;
        push(c, now, [st["connections.count"] || 0]);
        push(r, now, [rin, rout]);
      }
      notice(msg, "");
    } catch (e) {
      notice(msg, e.message, true);
    }
    if (!stopped) timer = setTimeout(tick, POLL_MS);
  }

  function push(c, t, values) {
    c.data[0].push(t);
    values.forEach((v, i) => c.data[i + 1].push(v));
    if (c.data[0].length > POINTS) c.data.forEach((a) => a.shift());
    c.plot.setData(c.data);
  }

  (async () => {
    try {
      const uPlot = await loadUPlot();
      if (stopped) return;
      charts = [
        chart(uPlot, connEl, [{ label: "connections", color: "#1f6feb" }], "count"),
        chart(uPlot, msgEl, [{ label: "in", color: "#067647", decimals: 1 }, { label: "out", color: "#b54708", dash: [6, 4], decimals: 1 }], "msg/s"),
      ];
    } catch {
      for (const el of [connEl, msgEl]) el.replaceChildren(h("p", { class: "muted" }, "Charts need the npm files of this build: run make."));
    }
  })();
  tick();
  return { stop() { stopped = true; clearTimeout(timer); charts.forEach((c) => c.stop()); } };
}
