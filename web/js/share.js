// The read-only view a share link opens: the session's screen at its own size, live,
// through /ws/share/<token> (the token in this page's path is the only credential).
// Nothing typed here is sent; the daemon refuses input from a share link anyway.

import { Terminal } from "../vendor/xterm-6.0.0/xterm.mjs";
import { touchScroll } from "./touch.js";

const token = decodeURIComponent(location.pathname.split("/").pop() || "");
const statusEl = document.getElementById("term-status");
const title = document.getElementById("share-title");
const term = new Terminal({ disableStdin: true, cursorBlink: false, fontSize: 13, scrollback: 5000,
  fontFamily: 'ui-monospace, "SF Mono", Menlo, Consolas, monospace' });
const host = document.getElementById("term");
term.open(host);
touchScroll(host, term);
const proto = location.protocol === "https:" ? "wss:" : "ws:";
let ended = false;
let retries = 0;

function open() {
  const ws = new WebSocket(`${proto}//${location.host}/ws/share/${encodeURIComponent(token)}`);
  ws.binaryType = "arraybuffer";
  let fresh = true;
  ws.onopen = () => { retries = 0; statusEl.textContent = "live"; };
  ws.onmessage = (m) => {
    if (typeof m.data !== "string") {
      if (fresh) { term.reset(); fresh = false; }
      term.write(new Uint8Array(m.data));
      return;
    }
    const msg = JSON.parse(m.data);
    if (msg.type === "connected") {
      fresh = true;
      if (msg.cols && msg.rows) term.resize(msg.cols, msg.rows);
      title.textContent = msg.profile_alias ? `${msg.profile_alias} · ${msg.session_id.slice(0, 8)}` : "";
    } else if (msg.type === "state_changed" && msg.state === "terminated") {
      ended = true;
      statusEl.textContent = `ended, exit code ${msg.exit_code}`;
      statusEl.dataset.exitCode = String(msg.exit_code);
    } else if (msg.type === "error") {
      statusEl.textContent = msg.message;
    }
  };
  ws.onclose = (ev) => {
    if (ended) return;
    if (ev.code === 4401) {
      statusEl.textContent = "This share link has expired or was revoked.";
      statusEl.dataset.ended = "link";
      return;
    }
    if ((ev.code === 1001 || ev.code === 1006) && retries < 20) {
      retries++;
      statusEl.textContent = "reconnecting…";
      setTimeout(open, 1000);
      return;
    }
    statusEl.textContent = ev.code === 1000 ? "The session was removed." : "disconnected";
  };
}
open();
