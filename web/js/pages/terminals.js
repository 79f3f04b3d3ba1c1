// Terminals: the sessions that need you first, then the session list as tabs (each with
// its attention state); xterm.js attached over /ws/terminal/{id}, fitted to the window and
// resized with it; a terminated session shows its exit code. The attached terminal tells
// the daemon whether this window shows it (focused and visible), so no notification is
// sent about a session someone is looking at.
//
// On a phone (a narrow or touch window) the sessions that need you come first, then the
// terminal with a bar of the keys a phone keyboard lacks (Esc, Tab, a Ctrl latch that
// applies to the next key, arrows, Ctrl-C) and Paste; a swipe on the terminal scrolls
// through its scrollback. Share makes a read-only link (/share/<token>) that expires.

import { get, getOr, post, del } from "../api.js";
import { on } from "../events.js";
import { el, badge, toast } from "../util.js";
import { attentionBadge, needsYou, notificationButton } from "../attention.js";
import { touchScroll } from "../touch.js";
import { Terminal } from "../../vendor/xterm-6.0.0/xterm.mjs";
import { FitAddon } from "../../vendor/addon-fit-0.11.0/addon-fit.mjs";

// What a key of the bar sends. Arrows follow the terminal's cursor-key mode.
function arrow(term, k) {
  return (term.modes && term.modes.applicationCursorKeysMode ? "\x1bO" : "\x1b[") + k;
}

/// The byte Ctrl gives with `c` (letters and @[\]^_ and space; ? is DEL).
function withCtrl(c) {
  if (c.length !== 1) return c;
  if (c === "?") return "\x7f";
  if (c === " ") return "\x00";
  const code = c.toUpperCase().charCodeAt(0);
  return code >= 64 && code <= 95 ? String.fromCharCode(code & 0x1f) : c;
}

// The keys a phone keyboard lacks, and Paste. Buttons never take the focus from the
// terminal (the phone's keyboard stays open).
function keyBar(term, send) {
  let ctrl = false;
  const ctrlBtn = el("button.key", { type: "button", dataset: { key: "ctrl" }, "aria-pressed": "false", title: "Ctrl: applies to the next key" }, "Ctrl");
  const setCtrl = (on) => { ctrl = on; ctrlBtn.setAttribute("aria-pressed", String(on)); ctrlBtn.classList.toggle("on", on); };
  const key = (label, name, bytes, title) => el("button.key", { type: "button", dataset: { key: name }, title: title || label, "aria-label": title || label,
    onclick: () => { send(typeof bytes === "function" ? bytes() : bytes); setCtrl(false); term.focus(); } }, label);
  ctrlBtn.addEventListener("click", () => { setCtrl(!ctrl); term.focus(); });
  async function paste() {
    let text = null;
    try {
      if (navigator.clipboard && navigator.clipboard.readText) text = await navigator.clipboard.readText();
    } catch { text = null; }
    if (text === null) text = await pasteDialog();
    if (text) term.paste(text);
    term.focus();
  }
  const bar = el("div.keybar", { id: "keybar", role: "toolbar", "aria-label": "Terminal keys" },
    key("Esc", "esc", "\x1b", "Escape"), key("Tab", "tab", "\t"), ctrlBtn,
    key("←", "left", () => arrow(term, "D"), "Left"), key("↑", "up", () => arrow(term, "A"), "Up"),
    key("↓", "down", () => arrow(term, "B"), "Down"), key("→", "right", () => arrow(term, "C"), "Right"),
    key("^C", "ctrl-c", "\x03", "Ctrl-C"),
    el("button.key", { type: "button", dataset: { key: "paste" }, onclick: paste }, "Paste"));
  // A tap on a key must not move the focus (and close the phone's keyboard).
  bar.addEventListener("mousedown", (e) => e.preventDefault());
  return { bar, takeCtrl: () => { const was = ctrl; setCtrl(false); return was; } };
}

// Where the clipboard cannot be read: a box to paste into by hand.
function pasteDialog() {
  return new Promise((resolve) => {
    const area = el("textarea", { rows: 5, id: "paste-text", "aria-label": "Text to paste" });
    const dlg = el("dialog", null, el("h2", "Paste into the terminal"), area,
      el("div.actions",
        el("button", { type: "button", onclick: () => { dlg.close(); resolve(null); } }, "Cancel"),
        el("button.primary", { type: "button", onclick: () => { const t = area.value; dlg.close(); resolve(t); } }, "Send")));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(null); });
    document.body.append(dlg);
    dlg.showModal();
    area.focus();
  });
}

function attach(host, statusEl, session, keys) {
  const term = new Terminal({ cursorBlink: true, fontSize: 13, convertEol: false, scrollback: 5000,
    fontFamily: 'ui-monospace, "SF Mono", Menlo, Consolas, monospace' });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let ws = null;
  let ended = false;
  let closed = false;
  let retries = 0;
  const sendResize = () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
  };
  const reportFocus = () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "focus", shown: !document.hidden && document.hasFocus() }));
  };
  const focusTimer = setInterval(reportFocus, 30000);
  window.addEventListener("focus", reportFocus);
  window.addEventListener("blur", reportFocus);
  document.addEventListener("visibilitychange", reportFocus);
  // A daemon restart keeps the session: the connection comes back, and the scrollback it
  // replays redraws the same screen.
  function open() {
    ws = new WebSocket(`${proto}//${location.host}/ws/terminal/${encodeURIComponent(session.id)}`);
    ws.binaryType = "arraybuffer";
    let fresh = true;
    ws.onopen = () => { retries = 0; statusEl.textContent = "connected"; sendResize(); term.focus(); reportFocus(); };
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") {
        if (fresh) { term.reset(); fresh = false; }
        term.write(new Uint8Array(m.data));
        return;
      }
      const msg = JSON.parse(m.data);
      if (msg.type === "connected") {
        fresh = true;
      } else if (msg.type === "state_changed" && msg.state === "terminated") {
        ended = true;
        statusEl.replaceChildren(badge("terminated"), ` exit code ${msg.exit_code}`);
        statusEl.dataset.exitCode = String(msg.exit_code);
      } else if (msg.type === "error") {
        statusEl.textContent = msg.message;
      }
    };
    ws.onclose = (ev) => {
      if (closed || ended || statusEl.dataset.exitCode) return;
      // 1001: the daemon is going away (a restart); 1006: the connection dropped.
      if ((ev.code === 1001 || ev.code === 1006) && retries < 120) {
        retries++;
        statusEl.textContent = "daemon restarting… reconnecting";
        setTimeout(() => { if (!closed) open(); }, 500);
        return;
      }
      statusEl.textContent = "disconnected";
    };
  }
  open();
  const enc = new TextEncoder();
  const send = (d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); };
  const bar = keyBar(term, send);
  keys.replaceChildren(bar.bar);
  term.onData((d) => send(bar.takeCtrl() ? withCtrl(d) : d));
  const untouch = touchScroll(host, term);
  term.onResize(sendResize);
  const onWinResize = () => fit.fit();
  window.addEventListener("resize", onWinResize);
  const ro = new ResizeObserver(() => fit.fit());
  ro.observe(host);
  return () => {
    clearInterval(focusTimer);
    window.removeEventListener("focus", reportFocus);
    window.removeEventListener("blur", reportFocus);
    document.removeEventListener("visibilitychange", reportFocus);
    closed = true;
    untouch(); keys.replaceChildren();
    ro.disconnect(); window.removeEventListener("resize", onWinResize); if (ws) ws.close(); term.dispose();
  };
}

export async function render(root, params) {
  let current = params[0] || null;
  let detach = null;
  const tabs = el("div.tabs", { role: "tablist" });
  const statusEl = el("div.term-status", { id: "term-status" });
  const host = el("div.term-host", { id: "term" });
  const keys = el("div", { id: "keys" });
  const profileSel = el("select", { "aria-label": "Profile" });
  const pane = el("div", { id: "term-pane" });
  const needs = el("div.needs-wrap");
  const stopped = el("div", { id: "interrupted" });

  // Sessions a stop, a reboot or a lost holder ended: one click resumes each.
  async function drawInterrupted() {
    const list = await getOr("/api/terminal/interrupted", []);
    if (!list.length) { stopped.replaceChildren(); return; }
    stopped.replaceChildren(el("h2", "Interrupted"), el("div.table-wrap", el("table", el("tbody",
      list.map((s) => el("tr", { dataset: { interrupted: s.id } },
        el("td", el("b", s.profile_alias)), el("td", el("code", s.working_dir)),
        el("td", s.conversation_id ? el("code", s.conversation_id.slice(0, 13)) : el("span.muted", "latest")),
        el("td", el("span.muted", s.ended_at ? `ended ${s.ended_at}` : "")),
        el("td",
          s.resume_args ? el("button.small.primary", { type: "button", onclick: async () => {
            try {
              const r = await post(`/api/terminal/interrupted/${encodeURIComponent(s.id)}/resume`, {});
              location.hash = `#/terminals/${r.session_id}`;
            } catch (e) { toast(e.message, "error"); }
          } }, "Resume") : null, " ",
          el("button.small", { type: "button", onclick: async () => {
            await del(`/api/terminal/interrupted/${encodeURIComponent(s.id)}`).catch((e) => toast(e.message, "error"));
            drawInterrupted().catch(() => {});
          } }, "Dismiss"))))))));
  }

  async function drawTabs() {
    const sessions = await getOr("/api/terminal/sessions", []);
    if (!current && sessions.length) current = (sessions.find((s) => s.state === "running") || sessions[0]).id;
    needs.replaceChildren(needsYou(sessions, current));
    tabs.replaceChildren(...sessions.map((s) => el(`button${s.id === current ? ".on" : ""}`, {
      type: "button", role: "tab", dataset: { session: s.id, attention: s.attention },
      onclick: () => { location.hash = `#/terminals/${s.id}`; },
    }, `${s.profile_alias} · ${s.id.slice(0, 4)}${s.state === "running" ? "" : ` (exit ${s.exit_code ?? "?"})`} `,
    s.state === "running" ? attentionBadge(s.attention) : null)));
    return sessions;
  }

  async function show() {
    if (detach) { detach(); detach = null; }
    const sessions = await drawTabs();
    const s = sessions.find((x) => x.id === current);
    if (!s) {
      pane.replaceChildren(el("div.empty", sessions.length ? "Pick a session above." : "No terminal sessions yet: start one for a profile."));
      return;
    }
    host.replaceChildren();
    statusEl.replaceChildren(s.state === "running" ? "connecting…" : el("span", badge("terminated"), ` exit code ${s.exit_code}`));
    if (s.state !== "running") statusEl.dataset.exitCode = String(s.exit_code);
    else delete statusEl.dataset.exitCode;
    const wt = el("div", { id: "worktree" });
    if (s.worktree) drawWorktree(wt, s).catch((e) => wt.replaceChildren(el("div.empty", e.message)));
    const kill = el("button.small.danger", { type: "button", onclick: async () => {
      await del(`/api/terminal/sessions/${encodeURIComponent(s.id)}`).catch((e) => toast(e.message, "error"));
    } }, "Terminate");
    shareBox = el("div", { id: "share-box" });
    const share = el("button.small", { type: "button", id: "share", onclick: () => drawShare(shareBox, s, true).catch((e) => toast(e.message, "error")) }, "Share");
    pane.replaceChildren(el("div.toolbar", statusEl, el("span.spacer"), share, s.state === "running" ? kill : null), shareBox, wt, host, keys);
    detach = attach(host, statusEl, s, keys);
    drawShare(shareBox, s, false).catch(() => {});
  }

  // Read-only share links: a new one (an hour) with its address to copy, and the live
  // ones, each revocable.
  // The link this page made last (its address is shown while it is alive).
  let made = null;
  let shareBox = null;
  async function drawShare(box, s, make) {
    const base = `/api/terminal/sessions/${encodeURIComponent(s.id)}/share`;
    if (make) made = await post(base, { ttl_secs: 3600 });
    const links = await get(base);
    if (!links.length) { box.replaceChildren(); return; }
    const mine = made && made.session_id === s.id && links.some((l) => l.id === made.id) ? made : null;
    const url = mine ? `${location.origin}${mine.url}` : null;
    box.replaceChildren(el("div.share.card",
      url ? el("div.share-new", el("b", "Read-only link "), el("input", { type: "text", readOnly: true, value: url, id: "share-url", "aria-label": "Share link", onfocus: (e) => e.target.select() }),
        el("button.small", { type: "button", onclick: async () => {
          try { await navigator.clipboard.writeText(url); toast("Link copied"); } catch { toast("Select the link and copy it"); }
        } }, "Copy"), el("div.muted", `Anyone with it can watch this session (not type into it) until ${mine.expires_at}.`)) : null,
      el("ul.share-list", links.map((l) => el("li", { dataset: { share: l.id } }, `link ${l.id.slice(0, 6)} · expires ${l.expires_at} `,
        el("button.small.danger", { type: "button", onclick: async () => {
          await del(`${base}/${encodeURIComponent(l.id)}`).catch((e) => toast(e.message, "error"));
          drawShare(box, s, false).catch(() => {});
        } }, "Revoke"))))));
  }

  // A session's worktree: what it changed; once it has ended, keep, merge or remove it.
  async function drawWorktree(box, s) {
    const w = await get(`/api/terminal/sessions/${encodeURIComponent(s.id)}/worktree`);
    const c = w.changes;
    const act = (action) => el("button.small", { type: "button", dataset: { action }, disabled: w.running || !!(w.outcome && w.outcome !== "kept"),
      onclick: async () => {
        try {
          await post(`/api/terminal/sessions/${encodeURIComponent(s.id)}/worktree`, { action });
          toast(`Worktree ${action === "keep" ? "kept" : action === "merge" ? "merged" : "removed"}`);
        } catch (e) { toast(e.message, "error"); }
        drawWorktree(box, s).catch(() => {});
      } }, action[0].toUpperCase() + action.slice(1));
    box.replaceChildren(el("div.worktree.card",
      el("div", el("b", "Worktree "), el("code", w.branch), " ", el("span.muted", w.path)),
      w.outcome ? el("div.muted", { dataset: { outcome: w.outcome } }, w.outcome) : null,
      w.exists ? el("div.summary", `${c.commits} commit(s), ${c.files_changed} file(s) changed, +${c.insertions} −${c.deletions}${c.uncommitted ? ", some not committed" : ""}`) : null,
      w.exists && c.files.length ? el("ul.files", c.files.slice(0, 50).map((f) => el("li", el("code", f.status), " ", f.path))) : null,
      w.running ? el("div.muted", "Keep, merge or remove it once the session has ended.") : el("div.actions", act("keep"), " ", act("merge"), " ", act("remove"))));
  }

  const profiles = await get("/api/profiles");
  profileSel.replaceChildren(...profiles.map((p) => el("option", { value: p.alias }, p.alias)));
  const inWorktree = el("input", { type: "checkbox", id: "in-worktree" });
  const dirInput = el("input", { type: "text", placeholder: "directory (default: the profile home)", "aria-label": "Working directory", id: "term-dir" });
  const start = el("button.primary", { type: "button", disabled: !profiles.length, onclick: async () => {
    try {
      const body = { profile_alias: profileSel.value };
      if (dirInput.value.trim()) body.working_dir = dirInput.value.trim();
      if (inWorktree.checked) body.worktree = true;
      const r = await post("/api/terminal/sessions", body);
      location.hash = `#/terminals/${r.session_id}`;
    } catch (e) {
      toast(e.message, "error");
    }
  } }, "New session");
  const cleanup = el("button", { type: "button", onclick: async () => { await post("/api/terminal/cleanup").catch((e) => toast(e.message, "error")); current = null; show(); } }, "Clean up ended");

  root.replaceChildren(el("div.terminals", el("h1", "Terminals"), needs, el("div.toolbar.new-session", profileSel, dirInput, el("label.check", inWorktree, " in a worktree"), start, el("span.spacer"), notificationButton(), cleanup), tabs, pane, stopped));
  await show();
  await drawInterrupted().catch(() => {});
  const offs = [
    on("terminal_session_created", () => drawTabs().catch(() => {})),
    on("terminal_state_changed", () => drawTabs().catch(() => {})),
    on("terminal_attention_changed", () => drawTabs().catch(() => {})),
    // Links made or revoked elsewhere (the CLI, another tab).
    on("terminal_share_changed", (d) => {
      if (shareBox && d.session_id === current) drawShare(shareBox, { id: current }, false).catch(() => {});
    }),
    // The event stream came back (after a daemon restart): the list may have changed.
    on("connected", () => { drawTabs().catch(() => {}); drawInterrupted().catch(() => {}); }),
  ];
  return () => { offs.forEach((off) => off()); if (detach) detach(); };
}
