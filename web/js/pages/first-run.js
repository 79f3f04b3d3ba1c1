// The first run: with no profile yet, the dashboard walks the user from an installed
// agent (or the command that installs one) through a provider, a name and a key to a
// running terminal session. Everything it does goes through the same API as the rest.

import { get, post } from "../api.js";
import { el, toast } from "../util.js";

const POLL_MS = 2500;

/// Renders the walk-through into `host`; returns a cleanup function.
export async function firstRun(host) {
  const providers = await get("/api/providers");
  let agents = [];
  let chosen = null;
  let poll = null;

  const agentBox = el("div", { id: "first-run-agents" });
  const form = el("form.stack", { id: "first-run-form" });

  async function loadAgents() {
    agents = await get("/api/agents");
    const installed = agents.filter((a) => a.installed);
    if (!installed.some((a) => a.id === chosen)) chosen = installed.length ? installed[0].id : null;
    drawAgents();
    drawForm();
    // Until an agent shows up, look again now and then: installing one needs no reload.
    clearTimeout(poll);
    if (!installed.length) poll = setTimeout(() => loadAgents().catch(() => {}), POLL_MS);
  }

  function drawAgents() {
    const installed = agents.filter((a) => a.installed);
    const missing = agents.filter((a) => !a.installed && a.npm_package && a.npm_package !== "none");
    agentBox.replaceChildren(
      el("h3", "1. An agent"),
      installed.length
        ? el("div.choices", installed.map((a) => el("label.choice",
            el("input", { type: "radio", name: "agent", value: a.id, checked: a.id === chosen,
              onchange: () => { chosen = a.id; drawForm(); } }),
            ` ${a.name}`, el("span.muted", ` ${a.version || ""} · ${a.binary_path || ""}`))))
        : el("p", { id: "no-agent" }, "No agent is installed where the daemon looks yet. Install one (Node.js 20 or newer), and it appears here within seconds:"),
      missing.length
        ? el("details", { open: !installed.length },
            el("summary", installed.length ? "Install another agent" : "Install commands"),
            el("ul.install", missing.map((a) => el("li", `${a.name}: `, el("code", `npm install -g ${a.npm_package}`)))),
            el("p.muted", "Installed somewhere else? Add that directory to agents.extra_paths in the config file (clown doctor shows where), or start the session with 'clown terminal new', which passes your PATH."),
            el("button.small", { type: "button", onclick: () => loadAgents().catch((e) => toast(e.message, "error")) }, "Check again"))
        : null,
    );
  }

  function drawForm() {
    const agent = agents.find((a) => a.id === chosen);
    if (!agent) {
      form.replaceChildren();
      return;
    }
    const fits = providers.filter((p) => (agent.protocol === "anthropic") === p.type.startsWith("anthropic"));
    const providerSel = el("select", { name: "provider_id", required: true },
      fits.map((p) => el("option", { value: p.id }, p.name)));
    const endpointSel = el("select", { name: "endpoint_id" });
    const modelInput = el("input", { name: "model", autocomplete: "off" });
    const keyInput = el("input", { name: "api_key", type: "password", autocomplete: "new-password", spellcheck: false, placeholder: "sk-…" });
    const aliasInput = el("input", { name: "alias", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}", value: agent.id });
    function fillProvider() {
      const p = fits.find((x) => x.id === providerSel.value);
      if (!p) return;
      endpointSel.replaceChildren(...Object.entries(p.endpoints).map(([name, url]) =>
        el("option", { value: name, selected: name === p.default_endpoint, title: url }, `${name} — ${url}`)));
      modelInput.placeholder = `${p.default_model} (default)`;
      keyInput.required = !!p.requires_key;
    }
    providerSel.addEventListener("change", fillProvider);
    fillProvider();
    const submit = el("button.primary", { type: "submit" }, "Create the profile and start a terminal");
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const body = { agent_id: agent.id, alias: aliasInput.value.trim(), provider_id: providerSel.value, endpoint_id: endpointSel.value };
      if (modelInput.value.trim()) body.model = modelInput.value.trim();
      if (keyInput.value) body.api_key = keyInput.value;
      submit.disabled = true;
      try {
        await post("/api/profiles", body);
        keyInput.value = "";
        const s = await post("/api/terminal/sessions", { profile_alias: body.alias });
        toast(`Profile ${body.alias} created; its agent runs`);
        location.hash = `#/terminals/${s.session_id}`;
      } catch (e) {
        toast(e.message, "error");
      } finally {
        keyInput.value = "";
        submit.disabled = false;
      }
    };
    form.replaceChildren(
      el("h3", "2. Where it talks to, and with which key"),
      el("label", "Provider", providerSel),
      el("label", "Endpoint", endpointSel),
      el("label", "Model", modelInput),
      el("label", "Profile name", aliasInput),
      el("label", "API key", keyInput),
      el("div.actions", submit),
    );
  }

  host.replaceChildren(el("section.card.first-run", { id: "first-run" },
    el("h2", "Get started"),
    el("p", "No profile yet. A profile binds an agent to a provider, a model and a key, with a home of its own; then the agent runs here in a terminal."),
    agentBox, form));
  await loadAgents();
  return () => clearTimeout(poll);
}
