// The live part of the Usage page: per profile the active five-hour billing block as a
// gauge (tokens, cost, burn rate, projection to the block's end, time left), and the
// provider's limits with the time until each window starts over. Redrawn on
// `usage_recorded` and `limits_updated`; the clocks tick between events.

import { get } from "./api.js";
import { on } from "./events.js";
import { el, num, usd, compact } from "./util.js";

const BLOCK_SECS = 5 * 3600;
const WINDOW_NAMES = { five_hour: "5h", seven_day: "7d", seven_day_opus: "7d Opus", seven_day_sonnet: "7d Sonnet", overage: "overage" };

/// "3h 12m left", "45m left", "under a minute left".
export function timeLeft(secs) {
  if (secs <= 0) return "ended";
  if (secs < 60) return "under a minute";
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  return h ? `${h}h ${m}m` : `${m}m`;
}

function pct(x) {
  return `${Math.max(0, Math.min(100, x)).toFixed(1)}%`;
}

/// The gauge of one profile's active block. `data-*` attributes carry the raw figures.
function gauge(profile, b) {
  const start = Date.parse(b.start_time) / 1000;
  const end = Date.parse(b.end_time) / 1000;
  const now = Date.now() / 1000;
  const elapsed = Math.max(0, Math.min(1, (now - start) / (end - start || BLOCK_SECS)));
  const proj = b.projection;
  const rate = b.burn_rate;
  // The cost bar: spent so far against the projection (the rest of the bar is the
  // projected spending until the block ends).
  const share = proj && proj.total_cost > 0 ? Math.min(1, b.cost_usd / proj.total_cost) : 0;
  const left = el("span.left", { dataset: { end: String(end) } }, `${timeLeft(end - now)} left`);
  return el("div.card.block", { dataset: { profile, tokens: String(b.total_tokens), cost: String(b.cost_usd) } },
    el("div.block-head", el("strong", profile), el("span.muted", `since ${new Date(start * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`), left),
    el("div.gauge", { role: "meter", "aria-label": `${profile}: block time elapsed`, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(elapsed * 100) },
      el("div.fill.time", { style: `width:${pct(elapsed * 100)}` })),
    el("div.block-figures",
      el("div", el("div.label", "Tokens"), el("div.value.tokens", num(b.total_tokens))),
      el("div", el("div.label", "Cost"), el("div.value.cost", usd(b.cost_usd))),
      el("div", el("div.label", "Burn rate"), el("div.value.rate", rate ? `${usd(rate.cost_per_hour)}/h` : "-"),
        el("div.sub", rate ? `${compact(Math.round(rate.tokens_per_minute))} tokens/min` : "one moment so far")),
      el("div", el("div.label", "Projected"), el("div.value.projection", proj ? usd(proj.total_cost) : "-"),
        el("div.sub", proj ? `${compact(proj.total_tokens)} tokens by the end` : ""))),
    proj ? el("div.gauge.spend", { title: "Cost so far of the projected cost" }, el("div.fill", { style: `width:${pct(share * 100)}` })) : null,
    el("div.sub.muted", b.models.join(", ")));
}

function windowText(w) {
  const name = WINDOW_NAMES[w.window] || w.window;
  const used = w.used_percentage == null ? "?" : `${Math.round(w.used_percentage * 10) / 10}%`;
  const reset = w.resets_in_secs == null ? "" : w.resets_in_secs > 0 ? ` · resets in ${timeLeft(w.resets_in_secs)}` : " · started over";
  return `${name} ${used}${reset}`;
}

function limitsTable(rows) {
  if (!rows.length) return el("div.empty", "No provider limits seen yet: a proxied request or Claude Code's status line reports them.");
  return el("div.table-wrap", el("table",
    el("thead", el("tr", el("th", "Profile"), el("th", "Provider"), el("th", "Status"), el("th", "Windows"), el("th", "Seen"))),
    el("tbody", rows.map((l) => el("tr", { dataset: { profile: l.profile } },
      el("td", l.profile), el("td", l.provider), el("td", l.status == null ? "-" : String(l.status)),
      el("td.windows", l.windows.length ? l.windows.map((w) => el("div.window", { dataset: { window: w.window } },
        el("div.gauge.small", el("div.fill", { style: `width:${pct(w.used_percentage || 0)}` })), windowText(w))) : "-"),
      el("td.muted", `${l.source}${l.observed_at ? ", " + new Date(l.observed_at).toLocaleTimeString() : ""}`))))));
}

/// Draws the blocks and limits into `host`; returns the cleanup.
export async function renderLive(host) {
  const blocksBox = el("div.blocks", { id: "blocks" });
  const limitsBox = el("div", { id: "limits" });
  host.replaceChildren(el("h2", "Active billing blocks"), blocksBox, el("h2", "Provider limits"), limitsBox);

  async function drawBlocks() {
    // Every profile with usage in the last days may have an active block (one started at
    // most five hours ago); each is asked for its own.
    const [profiles, recent] = await Promise.all([get("/api/profiles"), get("/api/usage?period=7d")]);
    const names = [...new Set([...profiles.map((p) => p.alias), ...Object.keys(recent.aggregates.by_profile)])].sort();
    const found = await Promise.all(names.map(async (p) => {
      const r = await get(`/api/usage/blocks?active=true&profile=${encodeURIComponent(p)}`).catch(() => null);
      return r && r.blocks.length ? [p, r.blocks[r.blocks.length - 1]] : null;
    }));
    const active = found.filter(Boolean);
    blocksBox.replaceChildren(...(active.length ? active.map(([p, b]) => gauge(p, b))
      : [el("div.empty", "No active block: none of the profiles used tokens in the last five hours.")]));
  }
  async function drawLimits() {
    limitsBox.replaceChildren(limitsTable(await get("/api/usage/limits")));
  }
  await Promise.all([drawBlocks(), drawLimits()]);

  // At most one redraw per 250 ms however fast usage arrives (a steady stream never
  // postpones it).
  let pending = null;
  const later = (fn) => () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; fn().catch(() => {}); }, 250);
  };
  const offs = [
    on("usage_recorded", later(drawBlocks)),
    on("limits_updated", () => drawLimits().catch(() => {})),
    on("connected", () => { drawBlocks().catch(() => {}); drawLimits().catch(() => {}); }),
  ];
  // Time left moves without events; the limits' reset times are redrawn each minute.
  const tick = setInterval(() => {
    for (const s of blocksBox.querySelectorAll(".left[data-end]")) {
      s.textContent = `${timeLeft(Number(s.dataset.end) - Date.now() / 1000)} left`;
    }
  }, 15000);
  const minute = setInterval(() => drawLimits().catch(() => {}), 60000);
  return () => { offs.forEach((off) => off()); clearInterval(tick); clearInterval(minute); clearTimeout(pending); };
}
