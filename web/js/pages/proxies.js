// Proxies: status, port, restarts, start and stop, the log tail, and the selected
// proxy's requests, key pool, routing rules and keys (`proxy-detail.js`) — all live.

import { get, getOr, post } from "../api.js";
import { on } from "../events.js";
import { el, badge, table, toast, ago } from "../util.js";
import { detail } from "./proxy-detail.js";

export async function render(root) {
  const logBox = el("div.log.short", { id: "proxy-log" });
  const detailBox = el("div", { id: "proxy-detail-host" });
  let selected = null;
  let shown = null;

  async function showLog(alias) {
    if (shown?.alias !== alias) {
      shown?.view.close();
      shown = { alias, view: detail(alias) };
      detailBox.replaceChildren(shown.view.node);
    }
    selected = alias;
    const lines = await getOr(`/api/proxy/${encodeURIComponent(alias)}/logs?lines=200`, []);
    logBox.replaceChildren(el("div.muted", `— ${alias} —`), ...lines.map((l) => el("div", String(l))));
    logBox.scrollTop = logBox.scrollHeight;
  }

  async function act(alias, verb) {
    try {
      await post(`/api/proxy/${encodeURIComponent(alias)}/${verb}`);
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function draw() {
    const [statuses, profiles] = await Promise.all([getOr("/api/proxy/status", []), get("/api/profiles")]);
    const byAlias = new Map(statuses.map((s) => [s.profile, s]));
    const rows = profiles.map((p) => {
      const s = byAlias.get(p.alias) || { status: "stopped", restarts: 0 };
      const running = s.status === "running" || s.status === "starting" || s.status === "backoff";
      return el("tr", { dataset: { alias: p.alias, status: s.status } },
        el("td", el("strong", p.alias), el("div.muted", p.provider_id)),
        el("td", badge(s.status)),
        el("td", s.port ? String(s.port) : "-"),
        el("td", s.pid ? String(s.pid) : "-"),
        el("td", String(s.restarts ?? 0)),
        el("td", s.started_at ? ago(s.started_at) : "-"),
        el("td", el("div.toolbar",
          running
            ? el("button.small", { type: "button", onclick: () => act(p.alias, "stop") }, "Stop")
            : el("button.small.primary", { type: "button", onclick: () => act(p.alias, "start") }, "Start"),
          el("button.small", { type: "button", onclick: () => showLog(p.alias) }, "Details"))));
    });
    root.querySelector("#proxy-table").replaceChildren(rows.length
      ? table(["Profile", "Status", "Port", "PID", "Restarts", "Started", ""], rows)
      : el("div.empty", "No profiles yet."));
    // Follow a proxy's log without a click: the first one that runs.
    if (!selected) {
      const first = statuses.find((s) => s.status === "running") || statuses[0];
      if (first) await showLog(first.profile);
    }
  }

  root.replaceChildren(
    el("h1", "Proxies"),
    el("p.muted", "A profile's proxy keeps the real key away from the agent and records every request's tokens."),
    el("div", { id: "proxy-table" }),
    detailBox,
    el("h2", "Log"), logBox);
  await draw();
  let pending = null;
  const offs = [
    on("proxy_state_changed", () => { draw().catch(() => {}); if (selected) showLog(selected).catch(() => {}); }),
    // Each request through a proxy is recorded as usage: refresh the tail then.
    on("usage_recorded", () => { clearTimeout(pending); pending = setTimeout(() => { if (selected) showLog(selected).catch(() => {}); }, 200); }),
    on("profile_created", () => draw().catch(() => {})),
    on("profile_deleted", () => draw().catch(() => {})),
  ];
  return () => { offs.forEach((off) => off()); shown?.view.close(); };
}
