// Profiles: list with filters, the create form (choices from the API; a key, a
// subscription token or the agent's own login; secrets never echoed), delete with
// confirmation, one click to open a terminal session or the agent's login, each
// profile's login state and the provider's limits (live), and the bound directories.

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
  const authSel = el("select", { name: "auth" },
    el("option", { value: "key" }, "API key"),
    el("option", { value: "token" }, "Subscription token (claude setup-token)"),
    el("option", { value: "login" }, "The agent's own login"));
  const keyLabel = el("span", "API key");
  function fillAuth() {
    const auth = authSel.value;
    keyLabel.textContent = auth === "token" ? "Subscription token" : "API key";
    keyInput.disabled = auth === "login";
    keyInput.placeholder = auth === "token" ? "sk-ant-oat01-…" : auth === "login" ? "none: log in after creating" : "sk-…";
    keyInput.required = auth === "token" || (auth === "key" && keyInput.dataset.providerNeedsKey === "1");
    // The agent's own login goes without the proxy; a translated provider needs it.
    const forced = translated(providers.find((x) => x.id === providerSel.value));
    proxyBox.disabled = auth === "login" || forced;
    if (auth === "login") proxyBox.checked = false;
    else if (forced) proxyBox.checked = true;
  }
  authSel.addEventListener("change", fillAuth);

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
    keyInput.dataset.providerNeedsKey = p.requires_key ? "1" : "0";
    fillAuth();
  }
  agentSel.addEventListener("change", fillProviders);
  providerSel.addEventListener("change", fillProvider);
  fillProviders();

  const form = el("form.stack.card", { id: "create-profile", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = { agent_id: agentSel.value, alias: aliasInput.value.trim(), provider_id: providerSel.value, endpoint_id: endpointSel.value };
    if (modelInput.value.trim()) body.model = modelInput.value.trim();
    body.auth = authSel.value;
    if (keyInput.value && authSel.value === "token") body.oauth_token = keyInput.value;
    else if (keyInput.value && authSel.value === "key") body.api_key = keyInput.value;
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
    el("label", "Authentication", authSel),
    el("label", keyLabel, keyInput),
    el("label", "Base URL", baseInput),
    el("label", el("span", proxyBox, " run through the key-isolating proxy")),
    el("div.actions", el("button.primary", { type: "submit" }, "Create profile")));

  const filterAgent = el("select", { "aria-label": "Filter by agent" }, el("option", { value: "" }, "All agents"),
    agents.map((a) => el("option", { value: a.id }, a.name)));
  const filterText = el("input", { type: "search", placeholder: "Filter…", "aria-label": "Filter profiles" });
  const listBox = el("div", { id: "profile-list" });

  async function openTerminal(alias, login) {
    try {
      const s = await post("/api/terminal/sessions", login ? { profile_alias: alias, login: true } : { profile_alias: alias });
      location.hash = `#/terminals/${s.session_id}`;
    } catch (e) {
      toast(e.message, "error");
    }
  }

  // The login state and the provider's limits of one profile, filled in after the list.
  function loginText(l) {
    if (!l) return "";
    if (!l.logged_in) return "not logged in";
    const parts = ["logged in"];
    if (l.account) parts.push(l.account);
    if (l.plan) parts.push(l.plan);
    if (l.until) parts.push(`until ${new Date(l.until).toLocaleDateString()}`);
    return parts.join(" · ");
  }
  function limitsText(lim) {
    if (!lim) return "";
    const w = (lim.unified && lim.unified.windows) || {};
    const parts = Object.entries(w).filter(([, v]) => v.used_percentage !== undefined)
      .map(([k, v]) => `${k.replace("five_hour", "5h").replace("seven_day", "7d")} ${v.used_percentage}%`);
    if (lim.unified && lim.unified.status && lim.unified.status !== "allowed") parts.unshift(lim.unified.status);
    if (lim.retry_after_secs) parts.push(`retry in ${lim.retry_after_secs}s`);
    return parts.join(" · ");
  }
  async function fillState(alias) {
    const cell = listBox.querySelector(`tr[data-alias="${CSS.escape(alias)}"] .state`);
    if (!cell) return;
    try {
      const p = await get(`/api/profiles/${encodeURIComponent(alias)}`);
      cell.replaceChildren(...[
        p.login ? el("div.login-state", loginText(p.login)) : null,
        p.limits ? el("div.limits", { title: `seen ${p.limits.observed_at}` }, limitsText(p.limits)) : null,
      ].filter(Boolean));
    } catch {
      /* the row is redrawn on the next event */
    }
  }

  async function remove(alias) {
    if (!(await confirmDialog(`Delete ${alias}?`, "The profile and its key are removed. Its home directory stays.", "Delete"))) return;
    try {
      const r = await del(`/api/profiles/${encodeURIComponent(alias)}`);
      toast(`Profile ${alias} deleted; its home ${r.profile_home} is kept`);
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
      ? table(["Alias", "Agent", "Provider", "Model", "Login / limits", "Last used", ""], profiles.map((p) => el("tr", { dataset: { alias: p.alias, auth: p.auth } },
          el("td", el("strong", p.alias), p.proxy_enabled ? el("span", " ", badge("proxy", "running")) : null,
            p.auth && p.auth !== "key" ? el("span", " ", badge(p.auth === "token" ? "token" : "login")) : null),
          el("td", p.agent_id), el("td", `${p.provider_id} / ${p.endpoint_id}`), el("td", el("code", p.model)),
          el("td.state"),
          el("td", ago(p.last_used)),
          el("td", el("div.toolbar",
            el("button.small", { type: "button", onclick: () => openTerminal(p.alias) }, "Open terminal"),
            p.auth === "login" ? el("button.small", { type: "button", onclick: () => openTerminal(p.alias, true) }, "Log in") : null,
            el("button.small.danger", { type: "button", onclick: () => remove(p.alias) }, "Delete"))))))
      : el("div.empty", "No profiles match. Create one below."));
    for (const p of profiles) fillState(p.alias);
  }

  const bindBox = el("div", { id: "binding-list" });
  async function drawBindings() {
    const bindings = await get("/api/bindings");
    bindBox.replaceChildren(bindings.length
      ? table(["Directory", "Profile", ""], bindings.map((b) => el("tr", { dataset: { dir: b.dir } },
          el("td", el("code", b.dir), b.file_profile === b.profile ? null : el("div.muted", b.file_profile ? `its file now says ${b.file_profile}` : "its .clown-profile is gone")),
          el("td", b.profile, b.profile_exists ? null : el("div.muted", "no such profile")),
          el("td", el("button.small", { type: "button", onclick: async () => {
            try {
              await del(`/api/bindings?dir=${encodeURIComponent(b.dir)}`);
            } catch (e) {
              toast(e.message, "error");
            }
          } }, "Unbind")))))
      : el("div.empty", "No directory is bound. In a project: clown bind ALIAS, then clown run there."));
  }
  filterAgent.addEventListener("change", () => drawList());
  filterText.addEventListener("input", () => drawList());

  root.replaceChildren(el("h1", "Profiles"), el("div.toolbar", filterAgent, filterText), listBox, el("h2", "New profile"), form,
    el("h2", "Bound directories"), bindBox);
  await Promise.all([drawList(), drawBindings()]);
  const offs = ["profile_created", "profile_deleted", "usage_recorded"].map((t) => on(t, () => drawList().catch(() => {})));
  offs.push(on("limits_updated", (d) => fillState(d.profile)));
  offs.push(on("binding_changed", () => drawBindings().catch(() => {})));
  offs.push(on("terminal_state_changed", () => drawList().catch(() => {})));
  return () => offs.forEach((off) => off());
}
