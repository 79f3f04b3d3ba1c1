// Small DOM and formatting helpers shared by the pages.

/// el("div.card", {onclick}, child, "text", …)
export function el(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node && k !== "list") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const num = (n) => (n || 0).toLocaleString("en-US");

export function usd(x) {
  if (!x) return "$0";
  if (x < 0.01) return `$${x.toFixed(4)}`;
  return `$${x.toFixed(2)}`;
}

export function compact(n) {
  n = n || 0;
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function ago(iso) {
  if (!iso) return "never";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function duration(secs) {
  secs = secs || 0;
  if (secs >= 3600) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  if (secs >= 60) return `${Math.floor(secs / 60)}m ${secs % 60}s`;
  return `${secs}s`;
}

export const sumTokens = (t) =>
  (t.input_tokens || 0) + (t.output_tokens || 0) + (t.cache_creation_input_tokens || 0) + (t.cache_read_input_tokens || 0);

export function badge(text, kind) {
  return el(`span.badge.${kind || text}`, String(text));
}

/// A passing message; kind "error" or "warning" (kept longer), `dataset` marks it.
export function toast(message, kind, dataset) {
  const cls = kind === "error" ? ".error" : kind === "warning" ? ".warning" : "";
  const t = el(`div.toast${cls}`, { role: "status", dataset }, message);
  document.getElementById("toasts").append(t);
  setTimeout(() => t.remove(), kind === "error" ? 7000 : kind === "warning" ? 10000 : 3500);
}

/// A confirmation dialog; resolves true when confirmed.
export function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const dlg = el("dialog", null,
      el("h2", title), el("p", text),
      el("div.actions",
        el("button", { type: "button", onclick: () => { dlg.close(); resolve(false); } }, "Cancel"),
        el("button.primary.danger", { type: "button", onclick: () => { dlg.close(); resolve(true); } }, action)));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(false); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/// Horizontal bar chart rows: [{label, value, text}].
export function bars(rows) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return el("div.bars", rows.map((r) =>
    el("div.bar-row", el("span", r.label),
      el("div.track", el("div.fill", { style: `width:${(100 * r.value) / max}%` })),
      el("span.v", r.text))));
}

export function table(headers, rows) {
  return el("div.table-wrap", el("table", el("thead", el("tr", headers.map((h) =>
    el(h.num ? "th.num" : "th", h.label || h)))), el("tbody", rows)));
}
