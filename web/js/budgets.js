// Budgets: the list with each budget's state (spent, share of its window, level, hard
// stop), the form that sets one, removal; and, on every page, a toast for each
// threshold a budget reaches (80 %, 95 %, 100 %: the daemon's `budget_alert` events).

import { api, get, del } from "./api.js";
import { on } from "./events.js";
import { el, usd, toast } from "./util.js";

const LEVELS = { ok: "ok", warning: "80 %", critical: "95 %", exceeded: "exceeded" };

let alerting = false;

/// Toasts for the budgets' thresholds, whatever page is shown (started once by the app).
export function startBudgetAlerts() {
  if (alerting) return;
  alerting = true;
  on("budget_alert", (d) => {
    const b = d.budget || {};
    const stop = d.threshold >= 100 && b.hard_stop ? " — requests are refused until it resets" : "";
    const text = `Budget: ${d.message}${stop}`;
    toast(text, d.threshold >= 100 ? "error" : "warning", { threshold: String(d.threshold), scope: b.scope || "", period: b.period || "" });
  });
}

function limitText(s) {
  const parts = [];
  if (s.limit_usd != null) parts.push(`${usd(s.spent_usd)} of ${usd(s.limit_usd)}`);
  if (s.window) {
    const used = s.window_used_percent == null ? "no use seen" : `${s.window_used_percent.toFixed(1)}% used`;
    parts.push(`${s.window_percent}% of the ${s.window === "five_hour" ? "5h" : "7d"} window (${used})`);
  }
  return parts.join(" · ");
}

function row(s, onRemove) {
  return el("tr", { dataset: { scope: s.scope, period: s.period, level: s.level } },
    el("td", s.scope === "@all" ? "all profiles" : s.scope), el("td", s.period),
    el("td", limitText(s)),
    el("td", el(`div.gauge.small.level-${s.level}`, el("div.fill", { style: `width:${Math.min(100, s.used_percent).toFixed(1)}%` })),
      `${s.used_percent.toFixed(1)}%`),
    el("td", el(`span.badge.level-${s.level}`, LEVELS[s.level] || s.level), s.stopped ? el("span.badge.level-exceeded", "stopped") : null,
      s.hard_stop && !s.stopped ? el("span.muted", " hard stop at 100 %") : null),
    el("td.muted", `resets ${new Date(s.resets_at).toLocaleString()}`),
    el("td", el("button.small.danger", { type: "button", onclick: onRemove }, "Remove")));
}

/// The budgets section of the Usage page; returns the cleanup.
export async function renderBudgets(host) {
  const list = el("div", { id: "budget-list" });
  const [profiles, agents] = await Promise.all([get("/api/profiles"), get("/api/agents").catch(() => [])]);
  const scope = el("select", { name: "scope", "aria-label": "Budget scope" },
    el("option", { value: "@all" }, "All profiles"),
    profiles.map((p) => el("option", { value: p.alias }, p.alias)),
    agents.map((a) => el("option", { value: `@${a.id}` }, `@${a.id} (${a.name} outside profiles)`)));
  const period = el("select", { name: "period", "aria-label": "Budget period" },
    el("option", { value: "daily" }, "Daily"), el("option", { value: "monthly" }, "Monthly"));
  const limit = el("input", { name: "limit_usd", type: "number", min: "0", step: "any", placeholder: "e.g. 20" });
  const windowSel = el("select", { name: "window" }, el("option", { value: "" }, "none"),
    el("option", { value: "five_hour" }, "5-hour window"), el("option", { value: "seven_day" }, "7-day window"));
  const share = el("input", { name: "window_percent", type: "number", min: "0", max: "100", step: "any", placeholder: "e.g. 80" });
  const hard = el("input", { name: "hard_stop", type: "checkbox" });

  async function draw() {
    const states = await get("/api/budgets");
    list.replaceChildren(states.length
      ? el("div.table-wrap", el("table",
        el("thead", el("tr", ["Scope", "Period", "Limit", "Used", "State", "Period ends", ""].map((h) => el("th", h)))),
        el("tbody", states.map((s) => row(s, async () => {
          try {
            await del(`/api/budgets/${encodeURIComponent(s.scope)}/${s.period}`);
            toast(`Budget removed: ${s.period} of ${s.scope}`);
          } catch (e) {
            toast(e.message, "error");
          }
          await draw();
        })))))
      : el("div.empty", "No budgets. Set one below: a daily or monthly amount, or a share of a provider window."));
  }

  const form = el("form.stack.card", { id: "budget-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = { hard_stop: hard.checked };
    if (limit.value !== "") body.limit_usd = Number(limit.value);
    if (windowSel.value) body.window = windowSel.value;
    if (share.value !== "") body.window_percent = Number(share.value);
    try {
      const s = await api("PUT", `/api/budgets/${encodeURIComponent(scope.value)}/${period.value}`, body);
      toast(`Budget set: ${s.period} for ${s.scope === "@all" ? "all profiles" : s.scope}, ${s.used_percent.toFixed(1)}% used`);
      form.reset();
    } catch (e) {
      toast(e.message, "error");
    }
    await draw();
  } },
    el("label", "Scope", scope), el("label", "Period", period), el("label", "Limit (USD)", limit),
    el("label", "Provider window", windowSel), el("label", "Share of the window (%)", share),
    el("label.check", hard, "Hard stop at 100 %"),
    el("div.actions", el("button.primary", { type: "submit" }, "Set budget")));

  host.replaceChildren(el("h2", "Budgets"), list, form);
  await draw();
  const offs = [on("budgets_updated", () => draw().catch(() => {})), on("budget_alert", () => draw().catch(() => {}))];
  return () => offs.forEach((off) => off());
}
