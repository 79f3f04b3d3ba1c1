// One profile's proxy in detail: its recent requests (a live table: each batch a proxy
// reports arrives as a `proxy_requests` event), its key pool's state (live on
// `proxy_pool_changed`), its routing rules and its pool keys (added and removed here;
// a key is typed into a password field and only its last four characters come back).

import { api, get, post, del } from "../api.js";
import { on } from "../events.js";
import { el, badge, table, toast } from "../util.js";

const SCENARIOS = ["background", "thinking", "long_context", "web_search", "subagent"];
const KEEP_ROWS = 200;

const ms = (x) => (x === null || x === undefined ? "-" : `${Math.round(x)} ms`);
const time = (t) => new Date(t).toLocaleTimeString();

function requestRow(r) {
  const failed = (r.attempts || []).map((a) => `${a.key || a.target} ${a.status}`).join(", ");
  return el("tr", { dataset: { id: String(r.id), status: String(r.status), route: r.route } },
    el("td", time(r.at_ms)),
    el("td", r.route, r.sticky ? el("span.muted", " sticky") : null),
    el("td", r.key ? `${r.key} ${r.key_hint || ""}` : "-"),
    el("td", r.target),
    el("td", r.model || "-"),
    el("td", badge(String(r.status), r.status < 400 ? "yes" : "no")),
    el("td.num", ms(r.ttfb_ms)),
    el("td.num", ms(r.duration_ms)),
    el("td.num", `${r.input_tokens || 0} / ${r.output_tokens || 0}`),
    el("td.num", r.tokens_per_sec ? r.tokens_per_sec.toFixed(1) : "-"),
    el("td", failed ? el("div.muted", `tried: ${failed}`) : null,
      r.error ? el("code", r.error.slice(0, 240)) : null));
}

function poolRows(pool) {
  return (pool?.members || []).map((m) => el("tr", { dataset: { key: m.key, state: m.state } },
    el("td", el("strong", m.key), el("span.muted", ` ${m.key_hint || ""}`)),
    el("td", m.target, m.model ? el("div.muted", m.model) : null),
    el("td", badge(m.state, m.state === "ready" ? "yes" : m.state === "cooling" ? "no" : "backoff")),
    el("td", m.until ? new Date(m.until).toLocaleString() : "-", m.reason ? el("div.muted", m.reason) : null),
    el("td.num", m.utilization === null || m.utilization === undefined ? "-" : `${Math.round(m.utilization * 100)}%`),
    el("td.num", `${m.requests} / ${m.failures}`),
    el("td.num", `${m.input_tokens} / ${m.output_tokens}`)));
}

export function detail(alias) {
  const path = encodeURIComponent(alias);
  const box = el("section", { id: "proxy-detail", dataset: { alias } });
  const reqBody = el("tbody");
  const reqTable = el("div.table-wrap", el("table", { id: "proxy-requests" },
    el("thead", el("tr", ["Time", "Route", "Key", "Target", "Model", "Status",
      { label: "TTFB", num: true }, { label: "Duration", num: true }, { label: "Tokens in/out", num: true },
      { label: "Tok/s", num: true }, "Error"].map((h) => el(h.num ? "th.num" : "th", h.label || h)))),
    reqBody));
  const poolBox = el("div", { id: "proxy-pool" });
  const rulesBox = el("div", { id: "proxy-routes" });
  const keysBox = el("div", { id: "proxy-keys" });
  const inspectorBox = el("div", { id: "proxy-inspector" });
  let last = 0;
  let settings = {};

  function addRequests(list) {
    for (const r of list) {
      if (r.id <= last) continue;
      last = r.id;
      reqBody.prepend(requestRow(r));
    }
    while (reqBody.children.length > KEEP_ROWS) reqBody.lastElementChild.remove();
  }

  function drawPool(pool) {
    poolBox.replaceChildren(pool && pool.members
      ? table(["Key", "Target", "State", "Until", { label: "Window", num: true },
        { label: "Requests / failures", num: true }, { label: "Tokens in/out", num: true }], poolRows(pool))
      : el("div.empty", "One key: no pool. Add keys below to take turns."));
  }

  // Read, changed, written back: the settings as they are now, not as this view last saw
  // them (the CLI or another page may have changed them since).
  async function changeRules(change) {
    try {
      const now = (await get(`/api/profiles/${path}`)).proxy || {};
      const next = { ...now, routes: change(now.routes || []) };
      await api("PUT", `/api/profiles/${path}/proxy`, next);
      settings = next;
      drawRules();
    } catch (e) {
      toast(e.message, "error");
    }
  }

  function drawRules() {
    const rules = settings.routes || [];
    const rows = rules.map((r, i) => el("tr", { dataset: { when: r.when } },
      el("td", String(i + 1)), el("td", r.when),
      el("td", r.threshold_tokens ? `> ${r.threshold_tokens} tokens` : r.tag ? `tag ${r.tag}` : "-"),
      el("td", r.provider_id || "(own)"), el("td", r.model || "-"),
      el("td", el("button.small.danger", { type: "button", onclick: () =>
        changeRules((now) => now.filter((x) => JSON.stringify(x) !== JSON.stringify(r))) }, "Remove"))));
    const when = el("select", { name: "when" }, SCENARIOS.map((s) => el("option", { value: s }, s)));
    const provider = el("input", { name: "provider_id", placeholder: "own provider" });
    const model = el("input", { name: "model", placeholder: "model" });
    const extra = el("input", { name: "extra", placeholder: "threshold tokens / tag" });
    const form = el("form.stack.card", { id: "add-route", onsubmit: (ev) => {
      ev.preventDefault();
      const rule = { when: when.value };
      if (provider.value.trim()) rule.provider_id = provider.value.trim();
      if (model.value.trim()) rule.model = model.value.trim();
      if (extra.value.trim() && when.value === "long_context") rule.threshold_tokens = Number(extra.value);
      else if (extra.value.trim() && when.value === "subagent") rule.tag = extra.value.trim();
      changeRules((now) => [...now, rule]);
    } },
      el("label", "When", when), el("label", "Provider", provider), el("label", "Model", model),
      el("label", "Threshold or tag", extra),
      el("div.actions", el("button.primary", { type: "submit" }, "Add rule")));
    rulesBox.replaceChildren(rows.length
      ? table(["#", "When", "Detail", "Provider", "Model", ""], rows)
      : el("div.empty", "No rules: every request takes the default route."), form);
  }

  // How many requests the daemon keeps and whether bodies are captured (redacted, cut).
  function drawInspector() {
    const cur = { keep: 100, capture_bodies: false, body_limit: 16384, ...(settings.inspector || {}) };
    const keep = el("input", { name: "keep", type: "number", min: "0", max: "10000", value: String(cur.keep) });
    const capture = el("input", { name: "capture_bodies", type: "checkbox", checked: cur.capture_bodies });
    const limit = el("input", { name: "body_limit", type: "number", min: "256", value: String(cur.body_limit) });
    inspectorBox.replaceChildren(el("form.stack.card", { id: "inspector-settings", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const now = (await get(`/api/profiles/${path}`)).proxy || {};
        const next = { ...now, inspector: { keep: Number(keep.value), capture_bodies: capture.checked, body_limit: Number(limit.value) } };
        await api("PUT", `/api/profiles/${path}/proxy`, next);
        settings = next;
        toast("Inspector settings saved");
      } catch (e) {
        toast(e.message, "error");
      }
    } },
      el("label", "Requests kept", keep), el("label", el("span", "Capture bodies (redacted)"), capture),
      el("label", "Bytes kept per body", limit),
      el("div.actions", el("button.primary", { type: "submit" }, "Save"))));
  }

  async function drawKeys() {
    const keys = await get(`/api/profiles/${path}/keys`);
    const rows = keys.map((k) => el("tr", { dataset: { label: k.label } },
      el("td", el("strong", k.label)), el("td", k.kind), el("td", String(k.priority)), el("td", el("code", k.hint)),
      el("td", k.provider_id || "(own)"), el("td", k.model || "-"), el("td", k.base_url || "-"),
      el("td", el("button.small.danger", { type: "button", onclick: async () => {
        try {
          await del(`/api/profiles/${path}/keys/${encodeURIComponent(k.label)}`);
          await drawKeys();
        } catch (e) {
          toast(e.message, "error");
        }
      } }, "Remove"))));
    const f = {
      label: el("input", { name: "label", required: true, placeholder: "second" }),
      secret: el("input", { name: "secret", type: "password", autocomplete: "new-password", required: true, spellcheck: false }),
      provider_id: el("input", { name: "provider_id", placeholder: "own provider" }),
      base_url: el("input", { name: "base_url", type: "url", placeholder: "optional" }),
      model: el("input", { name: "model", placeholder: "optional" }),
      priority: el("input", { name: "priority", type: "number", value: "0" }),
    };
    const form = el("form.stack.card", { id: "add-key", onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { label: f.label.value.trim(), secret: f.secret.value, priority: Number(f.priority.value || 0) };
      for (const k of ["provider_id", "base_url", "model"]) if (f[k].value.trim()) body[k] = f[k].value.trim();
      try {
        await post(`/api/profiles/${path}/keys`, body);
        f.secret.value = "";
        await drawKeys();
      } catch (e) {
        toast(e.message, "error");
      }
    } },
      el("label", "Label", f.label), el("label", "Key", f.secret), el("label", "Provider", f.provider_id),
      el("label", "Base URL", f.base_url), el("label", "Model", f.model), el("label", "Priority", f.priority),
      el("div.actions", el("button.primary", { type: "submit" }, "Add key")));
    keysBox.replaceChildren(rows.length
      ? table(["Label", "Kind", "Priority", "Key", "Provider", "Model", "Base URL", ""], rows)
      : el("div.empty", "No pool keys: the profile's own key only."), form);
  }

  async function load() {
    const [reqs, status, profile] = await Promise.all([
      get(`/api/proxy/${path}/requests?limit=${KEEP_ROWS}`),
      get(`/api/proxy/status/${path}`),
      get(`/api/profiles/${path}`),
    ]);
    addRequests(reqs.requests);
    drawPool(status.pool);
    settings = profile.proxy || {};
    drawRules();
    drawInspector();
    await drawKeys();
  }

  box.append(
    el("h2", `Requests — ${alias}`), reqTable, inspectorBox,
    el("h2", "Key pool"), poolBox,
    el("h2", "Routing rules"), rulesBox,
    el("h2", "Pool keys"), keysBox);
  const offs = [
    on("proxy_requests", (d) => { if (d.profile === alias) addRequests(d.requests); }),
    on("proxy_pool_changed", (d) => { if (d.profile === alias) drawPool(d.pool); }),
  ];
  const ready = load().catch((e) => toast(e.message, "error"));
  return { node: box, ready, close: () => offs.forEach((off) => off()) };
}
