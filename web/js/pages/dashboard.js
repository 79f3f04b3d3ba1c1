// Dashboard: daemon status, counts, today's tokens and cost, running sessions and proxies;
// with no profile yet, the first-run walk-through (./first-run.js) on top.

import { get, getOr } from "../api.js";
import { firstRun } from "./first-run.js";
import { on } from "../events.js";
import { el, num, usd, duration, sumTokens, badge, table } from "../util.js";
import { attentionBadge, needsYou } from "../attention.js";

function stat(label, value, sub) {
  return el("div.card.stat", el("div.label", label), el("div.value", value), sub ? el("div.sub", sub) : null);
}

export async function render(root) {
  // The walk-through keeps its node (and what was typed) across redraws.
  const welcome = el("div", { id: "welcome" });
  let stopWelcome = null;
  async function draw() {
    const [status, usage, sessions, proxies] = await Promise.all([
      get("/api/daemon/status"),
      get("/api/usage?period=today"),
      getOr("/api/terminal/sessions", []),
      getOr("/api/proxy/status", []),
    ]);
    const running = sessions.filter((s) => s.state === "running");
    const live = proxies.filter((p) => p.status === "running");
    if (status.profiles_count === 0 && !stopWelcome) {
      stopWelcome = await firstRun(welcome);
    } else if (status.profiles_count > 0 && stopWelcome) {
      stopWelcome();
      stopWelcome = null;
      welcome.replaceChildren();
    }
    root.replaceChildren(
      el("h1", "Dashboard"),
      welcome,
      needsYou(sessions),
      el("div.grid",
        stat("Daemon", status.status, `v${status.version} · pid ${status.pid} · up ${duration(status.uptime_secs)}`),
        stat("Profiles", num(status.profiles_count), `${status.activation} on ${status.listen.join(", ")}`),
        stat("Tokens today", num(sumTokens(usage.total_tokens)), `${num(usage.total_tokens.input_tokens)} in · ${num(usage.total_tokens.output_tokens)} out`),
        stat("Cost today", usd(usage.total_cost.total_cost), `${usage.total_sessions} sessions`),
        stat("Terminals", num(running.length), "running"),
        stat("Proxies", num(live.length), "running")),
      el("h2", "Running sessions"),
      running.length
        ? table(["Profile", "Session", "State", "Size", "Clients", ""], running.map((s) => el("tr",
            el("td", s.profile_alias), el("td", el("code", s.id.slice(0, 8))), el("td", attentionBadge(s.attention)), el("td", `${s.cols}×${s.rows}`),
            el("td", String(s.client_count)), el("td", el("a", { href: `#/terminals/${s.id}` }, "Open")))))
        : el("div.empty", "No terminal session is running. Start one from a profile."),
      el("h2", "Proxies"),
      proxies.length
        ? table(["Profile", "Status", "Port", "Restarts"], proxies.map((p) => el("tr",
            el("td", p.profile), el("td", badge(p.status)), el("td", String(p.port ?? "-")), el("td", String(p.restarts ?? 0)))))
        : el("div.empty", "No proxy configured."),
    );
  }
  await draw();
  const offs = ["usage_recorded", "profile_created", "profile_deleted", "proxy_state_changed",
    "terminal_session_created", "terminal_state_changed", "terminal_attention_changed"].map((t) => on(t, () => draw().catch(() => {})));
  return () => { offs.forEach((off) => off()); if (stopWelcome) stopWelcome(); };
}
