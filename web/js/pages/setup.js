// Setup: the one shared setup projected into every profile home — its MCP servers (add,
// remove), the rest as JSON (permissions, hooks, status line, env, settings, instructions,
// per-profile scopes), import from the user's own agents, apply, and each home's drift
// with adoption. Secret values show as hints; saving them back unchanged keeps them.
// The switch for clown's own status line (`clown statusline`) in every profile.

import { api, get, post, put, del } from "../api.js";
import { on } from "../events.js";
import { el, table, toast } from "../util.js";

export async function render(root) {
  const serverBox = el("div", { id: "mcp-list" });
  const driftBox = el("div", { id: "drift-list" });
  const folderBox = el("div.muted", { id: "setup-folders" });
  const json = el("textarea", { id: "setup-json", rows: 14, spellcheck: false, "aria-label": "The shared setup as JSON" });

  const name = el("input", { name: "name", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}", placeholder: "files" });
  const type = el("select", { name: "type" }, ["stdio", "http", "sse"].map((t) => el("option", { value: t }, t)));
  const command = el("input", { name: "command", placeholder: "npx -y @modelcontextprotocol/server-filesystem /home/me" });
  const url = el("input", { name: "url", type: "url", placeholder: "https://example.com/mcp" });
  const env = el("textarea", { name: "env", rows: 2, placeholder: "NAME=value (one per line)" });
  function fillType() {
    const remote = type.value !== "stdio";
    command.disabled = remote;
    url.disabled = !remote;
  }
  type.addEventListener("change", fillType);
  fillType();

  async function act(what, fn) {
    try {
      const r = await fn();
      const n = (r && r.profiles ? r.profiles : r && r.applied ? r.applied : [])
        .reduce((sum, p) => sum + (p.changes || []).filter((c) => c.action === "written" || c.action === "removed").length, 0);
      toast(`${what}: ${n} change(s) in profile homes`);
    } catch (e) {
      toast(e.message, "error");
    }
  }

  const form = el("form.stack.card", { id: "add-mcp", onsubmit: async (ev) => {
    ev.preventDefault();
    const pairs = Object.fromEntries(env.value.split("\n").map((l) => l.trim()).filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    const body = type.value === "stdio"
      ? { type: "stdio", command: command.value.trim().split(/\s+/)[0], args: command.value.trim().split(/\s+/).slice(1), env: pairs }
      : { type: type.value, url: url.value.trim(), headers: pairs };
    await act(`MCP server ${name.value} added`, () => api("PUT", `/api/setup/mcp/${encodeURIComponent(name.value.trim())}`, body));
    form.reset();
    fillType();
  } },
    el("label", "Name", name), el("label", "Type", type), el("label", "Command and arguments", command),
    el("label", "URL", url), el("label", "Environment or headers", env),
    el("div.actions", el("button.primary", { type: "submit" }, "Add MCP server")));

  // clown's status line: on when the shared setup's status line is `<clown> statusline`.
  const statusLine = el("input", { type: "checkbox", id: "status-line", onchange: async () => {
    const enabled = statusLine.checked;
    statusLine.disabled = true;
    try {
      await put("/api/setup/status-line", { enabled });
      toast(enabled ? "clown's status line is on in every Claude Code profile" : "clown's status line is off");
    } catch (e) {
      statusLine.checked = !enabled;
      toast(e.message, "error");
    } finally {
      statusLine.disabled = false;
    }
  } });
  const statusLineNote = el("span.muted", { id: "status-line-note" });

  async function draw() {
    const [view, drift] = await Promise.all([get("/api/setup"), get("/api/setup/drift")]);
    const line = view.setup.status_line;
    const ours = !!(line && typeof line.command === "string" && / statusline$/.test(line.command));
    if (!statusLine.disabled) statusLine.checked = ours;
    statusLineNote.textContent = ours ? `runs ${line.command}`
      : line ? `the setup has another status line (${line.command || "not a command"}); switching on replaces it` : "no status line in the shared setup";
    const servers = Object.entries(view.setup.mcp_servers || {});
    serverBox.replaceChildren(servers.length
      ? table(["MCP server", "Type", "Command or URL", ""], servers.map(([n, s]) => el("tr", { dataset: { server: n } },
          el("td", el("strong", n)), el("td", s.type || "stdio"),
          el("td", el("code", s.url || [s.command, ...(s.args || [])].join(" "))),
          el("td", el("button.small.danger", { type: "button", onclick: () => act(`MCP server ${n} removed`, () => del(`/api/setup/mcp/${encodeURIComponent(n)}`)) }, "Remove")))))
      : el("div.empty", "No MCP servers in the shared setup yet."));
    if (document.activeElement !== json) json.value = JSON.stringify(view.setup, null, 2);
    folderBox.replaceChildren(`Folders in ${view.folders_dir}: ` + Object.entries(view.folders)
      .map(([f, files]) => `${f}/ ${files.length} file(s)`).join(", "));
    const rows = [];
    for (const p of drift) {
      for (const d of p.drift) {
        rows.push(el("tr", { dataset: { id: d.id, profile: p.profile } },
          el("td", p.profile), el("td", d.kind), el("td", d.item), el("td", el("code", d.id)),
          el("td", el("button.small", { type: "button", onclick: () => act(`Adopted ${d.item} from ${p.profile}`, () => post("/api/setup/adopt", { profile: p.profile, ids: [d.id] })) }, "Adopt"))));
      }
      if (p.error) rows.push(el("tr", el("td", p.profile), el("td", { colSpan: 4 }, `error: ${p.error}`)));
    }
    driftBox.replaceChildren(rows.length
      ? table(["Profile", "Change", "Item", "Where", ""], rows)
      : el("div.empty", "No drift: every home is as the last projection left it."));
  }

  root.replaceChildren(
    el("h1", "Setup"),
    el("p.muted", "One setup for every profile: clown writes it into each profile home in that agent's own format, merging with what the agent keeps there."),
    el("div.toolbar",
      el("button", { type: "button", onclick: () => act("Imported your setup", () => post("/api/setup/import", {})) }, "Import my setup"),
      el("button", { type: "button", onclick: () => act("Applied", () => post("/api/setup/apply", {})) }, "Apply to all profiles")),
    el("h2", "Status line"),
    el("div.card.setting",
      el("label.check", statusLine, "Show clown's status line in Claude Code (profile, model, session and today's cost, billing block, limits, budget)"),
      statusLineNote),
    el("h2", "MCP servers"), serverBox, form,
    el("h2", "Drift"), driftBox,
    el("h2", "Everything else (JSON)"), folderBox, json,
    el("div.toolbar", el("button.primary", { type: "button", onclick: async () => {
      let body;
      try {
        body = JSON.parse(json.value);
      } catch (e) {
        toast(`Not JSON: ${e.message}`, "error");
        return;
      }
      await act("Setup saved", () => api("PUT", "/api/setup", body));
    } }, "Save")));
  await draw();
  const offs = ["setup_changed", "setup_applied", "profile_created", "profile_deleted"].map((t) => on(t, () => draw().catch(() => {})));
  return () => offs.forEach((off) => off());
}
