// The live event stream (/ws/events): one WebSocket for the whole page, reconnecting with
// backoff. Pages subscribe by event type and never poll.

const handlers = new Map();
let socket = null;
let delay = 500;

export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type).delete(fn);
}

function emit(type, data) {
  for (const key of [type, "*"]) {
    for (const fn of handlers.get(key) || []) {
      try {
        fn(data, type);
      } catch (e) {
        console.error(e);
      }
    }
  }
}

export function connect(statusEl) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${proto}//${location.host}/ws/events`);
  socket.onopen = () => {
    delay = 500;
    statusEl.textContent = "live";
    statusEl.className = "conn live";
    emit("connected", {});
  };
  socket.onmessage = (m) => {
    try {
      const ev = JSON.parse(m.data);
      emit(ev.type, ev.data);
    } catch (e) {
      console.error("bad event", e);
    }
  };
  socket.onclose = () => {
    statusEl.textContent = "reconnecting…";
    statusEl.className = "conn down";
    setTimeout(() => connect(statusEl), delay);
    delay = Math.min(delay * 2, 10000);
  };
}
