// Attention states of terminal sessions: the badge, the "needs you" list (the longest
// waiting first), and the browser's notifications when this tab is not in front.

import { on } from "./events.js";
import { el, toast } from "./util.js";

const LABELS = {
  idle: "idle", working: "working", needs_input: "needs input", turn_finished: "turn finished",
  rate_limited: "rate limited", errored: "errored", exited: "exited",
};
export const WAITING = ["needs_input", "turn_finished", "rate_limited", "errored"];

export function attentionBadge(state) {
  return el(`span.badge.att-${state || "idle"}`, { dataset: { attention: state || "" } }, LABELS[state] || state || "?");
}

function waited(secs) {
  secs = secs || 0;
  if (secs >= 3600) return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
  if (secs >= 60) return `${Math.floor(secs / 60)} min`;
  return `${secs} s`;
}

/// The sessions waiting for their user, the longest waiting first, each a link to it.
export function needsYou(sessions, current) {
  const waiting = sessions.filter((s) => WAITING.includes(s.attention))
    .sort((a, b) => (b.waiting_secs || 0) - (a.waiting_secs || 0));
  if (!waiting.length) return el("div.needs-you.none", { id: "needs-you" }, "Nothing needs you.");
  return el("div.needs-you", { id: "needs-you", role: "list", "aria-label": "Needs you" },
    el("div.needs-you-title", `Needs you (${waiting.length})`),
    waiting.map((s) => el(`a.needs-you-item${s.id === current ? ".on" : ""}`, {
      role: "listitem", href: `#/terminals/${s.id}`, dataset: { session: s.id },
    }, attentionBadge(s.attention), el("b", s.profile_alias), el("span.muted", ` ${s.id.slice(0, 4)} · waiting ${waited(s.waiting_secs)}`),
    s.attention_message ? el("span.msg", s.attention_message) : null)));
}

/// Asks for permission to notify (needs a click); null when already decided or unsupported.
export function notificationButton() {
  if (!("Notification" in window) || Notification.permission !== "default") return null;
  const b = el("button.small", { type: "button", onclick: async () => {
    const answer = await Notification.requestPermission();
    if (answer === "granted") toast("You will be notified when a session needs you and this tab is not in front.");
    b.remove();
  } }, "Notify me");
  return b;
}

let started = false;

/// Browser notifications for sessions that start waiting while this tab is hidden or
/// not focused (never for a session a client shows right now).
export function startNotifications() {
  if (started || !("Notification" in window)) return;
  started = true;
  on("terminal_attention_changed", (d) => {
    if (!WAITING.includes(d.attention) || d.looked_at) return;
    if (Notification.permission !== "granted") return;
    if (!document.hidden && document.hasFocus()) return;
    const n = new Notification(`clown: ${d.profile_alias} ${LABELS[d.attention]}`, {
      body: d.message || `Session ${d.id.slice(0, 8)}`, tag: `clown-${d.id}`,
    });
    n.onclick = () => { window.focus(); location.hash = `#/terminals/${d.id}`; n.close(); };
  });
}
