// Usage: period selector, totals, charts by day, profile and model, the aggregate table,
// and the import of the agents' own usage logs (one agent or all) with live progress.
// With a shared database ([sync]), a scope switch between this machine and all machines
// (with a machine breakdown), and how the push goes. A link to the Prometheus metrics.
// Above, each profile's active billing block and the provider's limits (usage-live.js);
// below, the budgets (budgets.js).

import { get, post } from "../api.js";
import { on } from "../events.js";
import { el, num, usd, compact, duration, sumTokens, bars, table, toast } from "../util.js";
import uPlot from "../../vendor/uplot-1.6.32/uPlot.esm.js";
import { renderLive } from "../usage-live.js";
import { renderBudgets } from "../budgets.js";

const PERIODS = [["today", "Today"], ["yesterday", "Yesterday"], ["week", "Week"], ["month", "Month"], ["7d", "7 days"], ["30d", "30 days"], ["all", "All"]];

// Local midnight starting `date` (YYYY-MM-DD) plus `plus` days, in seconds.
function midnight(date, plus = 0) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d + plus).getTime() / 1000;
}

// The x axis spans the whole period, from the first day's midnight to the one after the
// last day, and a week or a month to its calendar end even while it is still running:
// one day, a week or a month, whatever days hold data (uPlot's own range for a single
// point runs over years).
function span(period, days) {
  const first = days[0].date;
  let end = midnight(days[days.length - 1].date, 1);
  if (period === "week") end = Math.max(end, midnight(first, 7));
  if (period === "month") {
    const [y, m] = first.split("-").map(Number);
    end = Math.max(end, new Date(y, m, 1).getTime() / 1000);
  }
  return [midnight(first), end];
}

function dayChart(host, days, period) {
  const xs = days.map((d) => midnight(d.date) + 12 * 3600);
  const range = span(period, days);
  const series = [
    ["input", (d) => d.tokens.input_tokens, "#5b5bd6"],
    ["output", (d) => d.tokens.output_tokens, "#e5484d"],
    ["cache write", (d) => d.tokens.cache_creation_input_tokens, "#d9822b"],
    ["cache read", (d) => d.tokens.cache_read_input_tokens, "#2f9e6a"],
  ];
  const cost = days.map((d) => d.cost.total_cost);
  const width = Math.max(280, host.clientWidth - 20);
  const chart = new uPlot({
    width, height: 240,
    scales: { x: { time: true, range: () => range }, cost: { auto: true } },
    // What the axis really spans, for tests and the curious.
    hooks: { setScale: [(u, key) => {
      if (key === "x") Object.assign(host.dataset, { xMin: String(u.scales.x.min), xMax: String(u.scales.x.max) });
    }] },
    axes: [{}, { values: (_, v) => v.map(compact) }, { side: 1, scale: "cost", values: (_, v) => v.map((x) => `$${x.toFixed(2)}`), grid: { show: false } }],
    series: [{}, ...series.map(([label, , color]) => ({ label, stroke: color, width: 2, fill: color + "22", points: { show: days.length < 40 } })),
      { label: "cost", scale: "cost", stroke: "#888", dash: [6, 4], width: 1.5, value: (_, v) => (v == null ? "-" : usd(v)) }],
  }, [xs, ...series.map(([, f]) => days.map(f)), cost], host);
  return chart;
}

const SCOPES = [["machine", "This machine"], ["all-machines", "All machines"]];

function syncLine(s) {
  if (!s.enabled) return null;
  const state = s.connected ? "connected" : "not connected";
  const parts = [`Shared database ${state}`, `backlog ${num(s.backlog)}`,
    s.last_push ? `last push ${new Date(s.last_push).toLocaleString()}` : "nothing pushed yet"];
  if (s.last_error && !s.connected) parts.push(s.last_error);
  return el("p.muted", { id: "sync-status" }, parts.join(" · "));
}

function machinesTable(byMachine) {
  const rows = Object.values(byMachine);
  return [el("h2", "Machines"), rows.length ? table(["Machine", "Id", { label: "Input", num: true }, { label: "Output", num: true },
    { label: "Cache write", num: true }, { label: "Cache read", num: true }, { label: "Cost", num: true }, { label: "Sessions", num: true }],
  rows.map((m) => el("tr", el("td", m.name), el("td.muted", m.machine_id.slice(0, 8)), el("td.num", num(m.tokens.input_tokens)),
    el("td.num", num(m.tokens.output_tokens)), el("td.num", num(m.tokens.cache_creation_input_tokens)),
    el("td.num", num(m.tokens.cache_read_input_tokens)), el("td.num", usd(m.cost.total_cost)), el("td.num", num(m.sessions)))))
    : el("div.empty", "No machine pushed usage in this period.")];
}

export async function render(root, params) {
  let period = params[0] || "today";
  let scope = params[1] === "all-machines" ? "all-machines" : "machine";
  let sync = await get("/api/sync/status").catch(() => ({ enabled: false }));
  let chart = null;
  const seg = el("div.seg", { role: "group", "aria-label": "Period" });
  const scopeSeg = el("div.seg", { role: "group", "aria-label": "Machines", id: "usage-scope" });
  const body = el("div", { id: "usage-body" });
  const progress = el("div.progress", el("div"));
  const progressText = el("span.muted", "");
  const AGENTS = [["all", "All agents"], ["claude", "Claude Code"], ["codex", "Codex CLI"], ["gemini", "Gemini CLI"],
    ["qwen", "Qwen Code"], ["opencode", "opencode"], ["droid", "Droid"], ["grok", "Grok"]];
  const agentSel = el("select", { id: "import-agent", "aria-label": "Agent to import" },
    ...AGENTS.map(([id, label]) => el("option", { value: id }, label)));
  const result = el("div.muted", { id: "import-result" });
  const importBtn = el("button", { type: "button", onclick: async () => {
    importBtn.disabled = true;
    progressText.textContent = "importing…";
    try {
      const summaries = await post(`/api/usage/import?agent=${agentSel.value}`);
      const lines = summaries.map((s) => s.summary);
      result.replaceChildren(...lines.map((l) => el("div", l)));
      toast(`Imported ${summaries.reduce((n, s) => n + s.events_added + s.events_replaced, 0)} usage events`);
      progressText.textContent = "done";
      progress.firstChild.style.width = "100%";
    } catch (e) {
      toast(e.message, "error");
      progressText.textContent = "failed";
    } finally {
      importBtn.disabled = false;
    }
  } }, "Import usage logs");

  const hash = () => `#/usage/${period}${scope === "all-machines" ? "/all-machines" : ""}`;
  function drawSeg() {
    seg.replaceChildren(...PERIODS.map(([id, label]) => el(`button${id === period ? ".on" : ""}`, {
      type: "button", dataset: { period: id }, onclick: () => { period = id; history.replaceState(null, "", hash()); drawSeg(); draw(); },
    }, label)));
    scopeSeg.replaceChildren(...(sync.enabled ? SCOPES : []).map(([id, label]) => el(`button${id === scope ? ".on" : ""}`, {
      type: "button", dataset: { scope: id }, onclick: () => { scope = id; history.replaceState(null, "", hash()); drawSeg(); draw(); },
    }, label)));
  }

  async function draw() {
    sync = await get("/api/sync/status").catch(() => sync);
    let u;
    try {
      u = await get(`/api/usage?period=${period}${scope === "all-machines" ? "&scope=all-machines" : ""}`);
    } catch (e) {
      if (scope !== "all-machines") throw e;
      body.replaceChildren(syncLine(sync) || el("span"), el("div.empty", { id: "usage-error" }, e.message));
      return;
    }
    if (chart) { chart.destroy(); chart = null; }
    const byProfile = Object.values(u.aggregates.by_profile);
    const byModel = Object.values(u.aggregates.by_model);
    const chartHost = el("div.chart", { id: "chart-days" });
    body.replaceChildren(...[
      el("div.grid",
        el("div.card.stat", el("div.label", u.period), el("div.value", { id: "total-tokens" }, num(sumTokens(u.total_tokens))), el("div.sub", "tokens")),
        el("div.card.stat", el("div.label", "Cost"), el("div.value", { id: "total-cost" }, usd(u.total_cost.total_cost)),
          el("div.sub", `in ${usd(u.total_cost.input_cost)} · out ${usd(u.total_cost.output_cost)}`)),
        el("div.card.stat", el("div.label", "Sessions"), el("div.value", num(u.total_sessions)), el("div.sub", duration(u.total_runtime_secs)))),
      u.unpriced_models.length ? el("p.muted", `No price known for ${u.unpriced_models.join(", ")} (counted as $0).`) : null,
      el("h2", "By day"), chartHost,
      el("div.two",
        el("div", el("h2", "By profile"), byProfile.length ? el("div.card", { id: "chart-profiles" }, bars(byProfile.map((p) =>
          ({ label: p.profile, value: sumTokens(p.tokens), text: usd(p.cost.total_cost) })))) : el("div.empty", "No usage in this period.")),
        el("div", el("h2", "By model"), byModel.length ? el("div.card", { id: "chart-models" }, bars(byModel.map((m) =>
          ({ label: m.model, value: sumTokens(m.tokens), text: m.priced ? usd(m.cost.total_cost) : "unpriced" })))) : el("div.empty", "No usage in this period."))),
      syncLine(sync),
      ...(u.aggregates.by_machine ? machinesTable(u.aggregates.by_machine) : []),
      el("h2", "Profiles"),
      byProfile.length ? table(["Profile", { label: "Input", num: true }, { label: "Output", num: true }, { label: "Cache write", num: true },
        { label: "Cache read", num: true }, { label: "Cost", num: true }, { label: "Sessions", num: true }, { label: "Runtime", num: true }, "Last used"],
      byProfile.map((p) => el("tr", el("td", p.profile), el("td.num", num(p.tokens.input_tokens)), el("td.num", num(p.tokens.output_tokens)),
        el("td.num", num(p.tokens.cache_creation_input_tokens)), el("td.num", num(p.tokens.cache_read_input_tokens)),
        el("td.num", usd(p.cost.total_cost)), el("td.num", num(p.sessions)), el("td.num", duration(p.runtime_secs)),
        el("td", p.last_used ? new Date(p.last_used).toLocaleString() : "-")))) : el("div.empty", "Nothing recorded in this period."),
    ].filter(Boolean));
    const hasData = u.aggregates.by_day.some((d) => sumTokens(d.tokens) > 0);
    if (hasData) {
      chart = dayChart(chartHost, u.aggregates.by_day, u.period_id);
    } else {
      chartHost.append(el("p.muted", "No usage in this period."));
    }
  }

  const metrics = el("a", { href: "/metrics", target: "_blank", rel: "noopener", id: "metrics-link" }, "Prometheus metrics");
  const liveHost = el("section", { id: "usage-live" });
  const budgetsHost = el("section", { id: "budgets" });
  root.replaceChildren(el("h1", "Usage"), el("div.toolbar", seg, scopeSeg, el("span.spacer"), metrics, agentSel, importBtn, progress, progressText), result,
    liveHost, el("h2", "Totals"), body, budgetsHost);
  drawSeg();
  const [stopLive, stopBudgets] = await Promise.all([renderLive(liveHost), renderBudgets(budgetsHost), draw()]);
  let pending = null;
  const offs = [
    on("usage_recorded", () => { clearTimeout(pending); pending = setTimeout(() => draw().catch(() => {}), 250); }),
    on("usage_import_progress", (p) => {
      const pct = p.bytes_total ? (100 * p.bytes_done) / p.bytes_total : 100;
      progress.firstChild.style.width = `${pct}%`;
      progressText.textContent = `${p.agent ? p.agent + ": " : ""}${p.files_done}/${p.files_total} files`;
    }),
  ];
  const onResize = () => { if (chart) chart.setSize({ width: Math.max(280, chart.root.parentElement.clientWidth - 20), height: 240 }); };
  window.addEventListener("resize", onResize);
  return () => {
    offs.forEach((off) => off());
    stopLive();
    stopBudgets();
    window.removeEventListener("resize", onResize);
    if (chart) chart.destroy();
  };
}
