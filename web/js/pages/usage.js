// Usage: period selector, totals, charts by day, profile and model, the aggregate table,
// and the import of the agents' own usage logs (one agent or all) with live progress.

import { get, post } from "../api.js";
import { on } from "../events.js";
import { el, num, usd, compact, duration, sumTokens, bars, table, toast } from "../util.js";
import uPlot from "../../vendor/uplot-1.6.32/uPlot.esm.js";

const PERIODS = [["today", "Today"], ["yesterday", "Yesterday"], ["week", "Week"], ["month", "Month"], ["7d", "7 days"], ["30d", "30 days"], ["all", "All"]];

function dayChart(host, days) {
  const xs = days.map((d) => Date.parse(`${d.date}T12:00:00`) / 1000);
  const series = [
    ["input", (d) => d.tokens.input_tokens, "#5b5bd6"],
    ["output", (d) => d.tokens.output_tokens, "#e5484d"],
    ["cache write", (d) => d.tokens.cache_creation_input_tokens, "#d9822b"],
    ["cache read", (d) => d.tokens.cache_read_input_tokens, "#2f9e6a"],
  ];
  const cost = days.map((d) => d.cost.total_cost);
  const width = Math.max(280, host.clientWidth - 20);
  return new uPlot({
    width, height: 240,
    scales: { x: { time: true }, cost: { auto: true } },
    axes: [{}, { values: (_, v) => v.map(compact) }, { side: 1, scale: "cost", values: (_, v) => v.map((x) => `$${x.toFixed(2)}`), grid: { show: false } }],
    series: [{}, ...series.map(([label, , color]) => ({ label, stroke: color, width: 2, fill: color + "22", points: { show: days.length < 40 } })),
      { label: "cost", scale: "cost", stroke: "#888", dash: [6, 4], width: 1.5, value: (_, v) => (v == null ? "-" : usd(v)) }],
  }, [xs, ...series.map(([, f]) => days.map(f)), cost], host);
}

export async function render(root, params) {
  let period = params[0] || "today";
  let chart = null;
  const seg = el("div.seg", { role: "group", "aria-label": "Period" });
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

  function drawSeg() {
    seg.replaceChildren(...PERIODS.map(([id, label]) => el(`button${id === period ? ".on" : ""}`, {
      type: "button", dataset: { period: id }, onclick: () => { period = id; history.replaceState(null, "", `#/usage/${id}`); drawSeg(); draw(); },
    }, label)));
  }

  async function draw() {
    const u = await get(`/api/usage?period=${period}`);
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
      chart = dayChart(chartHost, u.aggregates.by_day);
    } else {
      chartHost.append(el("p.muted", "No usage in this period."));
    }
  }

  root.replaceChildren(el("h1", "Usage"), el("div.toolbar", seg, el("span.spacer"), agentSel, importBtn, progress, progressText), result, body);
  drawSeg();
  await draw();
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
  return () => { offs.forEach((off) => off()); window.removeEventListener("resize", onResize); if (chart) chart.destroy(); };
}
