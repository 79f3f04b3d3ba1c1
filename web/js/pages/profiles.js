// Profiles: list with filters, the create form (choices from the API, key never echoed),
// delete with confirmation, and one click to open a terminal session.

import { get, post, del } from "../api.js";
import { on } from "../events.js";
import { el, ago, toast, confirmDialog, table, badge } from "../util.js";

export async function render(root) {
  const [agents, providers] = await Promise.all([get("/api/agents"), get("/api/providers")]);
  const agentSel = el("select", { name: "agent_id", required: true },
    agents.map((a) => el("option", { value: a.id }, `${a.name}${a.installed ? "" : " (not installed)"}`)));
  const providerSel = el("select", { name: "provider_id", required: true });
  const endpointSel = el("select", { name: "endpoint_id" });
  const modelInput = el("input", { name: "model", list: "models", autocomplete: "off", placeholder: "provider default" });
  const modelList = el("datalist", { id: "models" });
  const keyInput = el("input", { name: "api_key", type: "password", autocomplete: "new-password", placeholder: "sk-…", spellcheck: false });
  const aliasInput = el("input", { name: "alias", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}", placeholder: "work" });
  const baseInput = el("input", { name: "base_url", type: "url", placeholder: "optional: your own gateway URL" });
  const proxyBox = el("input", { type: "checkbox", name: "proxy" });

  const agentOf = (agentId) => agents.find((a) => a.id === agentId) || {};
  const protocolOfProvider = (p) => (p.type.startsWith("anthropic") ? "anthropic" : "openai");
  // A provider in another API than the agent's own is reached through the proxy, which
  // translates (Claude Code on OpenAI-compatible providers): the proxy is then required.
  const translated = (p) => !!p && protocolOfProvider(p) !== agentOf(agentSel.value).protocol;
  function fillProviders() {
    const a = agentOf(agentSel.value);
    const usable = a.provider_protocols || (a.protocol ? [a.protocol] : null);
    const fits = providers.filter((p) => !usable || usable.includes(protocolOfProvider(p)));
    providerSel.replaceChildren(...fits.map((p) =>
      el("option", { value: p.id }, translated(p) ? `${p.name} — translated by the proxy` : p.name)));
    fillProvider();
  }
  function fillProvider() {
    const p = providers.find((x) => x.id === providerSel.value);
    const forced = translated(p);
    if (forced) proxyBox.checked = true;
    else if (proxyBox.disabled) proxyBox.checked = false;
    proxyBox.disabled = forced;
    if (!p) return;
    endpointSel.replaceChildren(...Object.entries(p.endpoints).map(([name, url]) =>
      el("option", { value: name, selected: name === p.default_endpoint, title: url }, `${name} — ${url}`)));
    modelList.replaceChildren(...p.models.map((m) => el("option", { value: m })));
    modelInput.placeholder = `${p.default_model} (default)`;
    keyInput.required = !!p.requires_key;
  }
  agentSel.addEventListener("change", fillProviders);
  providerSel.addEventListener("change", fillProvider);
  fillProviders();

  const form = el("form.stack.card", { id: "create-profile", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = { agent_id: agentSel.value, alias: aliasInput.value.trim(), provider_id: providerSel.value, endpoint_id: endpointSel.value };
    if (modelInput.value.trim()) body.model = modelInput.value.trim();
    if (keyInput.value) body.api_key = keyInput.value;
    if (baseInput.value.trim()) body.base_url = baseInput.value.trim();
    if (proxyBox.checked) body.proxy = { enabled: true };
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await post("/api/profiles", body);
      toast(`Profile ${body.alias} created`);
      form.reset();
      keyInput.value = "";
      fillProviders();
    } catch (e) {
      toast(e.message, "error");
    } finally {
      keyInput.value = "";
      submit.disabled = false;
    }
  } },
    el("label", "Alias", aliasInput),
    el("label", "Agent", agentSel),
    el("label", "Provider", providerSel),
    el("label", "Endpoint", endpointSel),
    el("label", "Model", modelInput, modelList),
    el("label", "API key", keyInput),
    el("label", "Base URL", baseInput),
    el("label", el("span", proxyBox, " run through the key-isolating proxy")),
    el("div.actions", el("button.primary", { type: "submit" }, "Create profile")));

  const filterAgent = el("select", { "aria-label": "Filter by agent" }, el("option", { value: "" }, "All agents"),
    agents.map((a) => el("option", { value: a.id }, a.name)));
  const filterText = el("input", { type: "search", placeholder: "Filter…", "aria-label": "Filter profiles" });
  const listBox = el("div", { id: "profile-list" });

  async function openTerminal(alias) {
    try {
      const s = await post("/api/terminal/sessions", { profile_alias: alias });
      location.hash = `#/terminals/${s.session_id}`;
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function remove(alias) {
    if (!(await confirmDialog(`Delete ${alias}?`, "The profile and its key are removed. Its home directory stays.", "Delete"))) return;
    try {
      await del(`/api/profiles/${encodeURIComponent(alias)}`);
      toast(`Profile ${alias} deleted`);
    } catch (e) {
      if (e.status === 409 && (await confirmDialog(`${alias} is in use`, e.message, "Stop and delete"))) {
        await del(`/api/profiles/${encodeURIComponent(alias)}?force=true`).catch((x) => toast(x.message, "error"));
      } else if (e.status !== 409) {
        toast(e.message, "error");
      }
    }
  }

  async function drawList() {
    const q = filterAgent.value ? `?agent=${encodeURIComponent(filterAgent.value)}` : "";
    const text = filterText.value.toLowerCase();
    const profiles = (await get(`/api/profiles${q}`)).filter((p) =>
      !text || [p.alias, p.provider_id, p.model, p.agent_id].some((v) => (v || "").toLowerCase().includes(text)));
    listBox.replaceChildren(profiles.length
      ? table(["Alias", "Agent", "Provider", "Model", "Last used", ""], profiles.map((p) => el("tr", { dataset: { alias: p.alias } },
          el("td", el("strong", p.alias), p.proxy_enabled ? el("span", " ", badge("proxy", "running")) : null),
          el("td", p.agent_id), el("td", `${p.provider_id} / ${p.endpoint_id}`), el("td", el("code", p.model)),
          el("td", ago(p.last_used)),
          el("td", el("div.toolbar",
            el("button.small", { type: "button", onclick: () => openTerminal(p.alias) }, "Open terminal"),
            el("button.small.danger", { type: "button", onclick: () => remove(p.alias) }, "Delete"))))))
      : el("div.empty", "No profiles match. Create one below."));
  }
  filterAgent.addEventListener("change", () => drawList());
  filterText.addEventListener("input", () => drawList());

  root.replaceChildren(el("h1", "Profiles"), el("div.toolbar", filterAgent, filterText), listBox, el("h2", "New profile"), form);
  await drawList();
  const offs = ["profile_created", "profile_deleted", "usage_recorded"].map((t) => on(t, () => drawList().catch(() => {})));
  return () => offs.forEach((off) => off());
}
