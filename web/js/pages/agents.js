// Agents: the catalogue's agents, whether they are installed, versions and paths; install
// or update one from the npm registry into clown's own prefix, with npm's output live.

import { get, post } from "../api.js";
import { on } from "../events.js";
import { el, badge, table, toast } from "../util.js";

export async function render(root) {
  const logBox = el("div.log.short", { id: "install-log" });
  const running = new Set();

  async function install(a) {
    running.add(a.id);
    logBox.replaceChildren(el("div.muted", `— ${a.npm_package} —`));
    await draw();
    try {
      const done = await post(`/api/agents/${encodeURIComponent(a.id)}/install`, {});
      toast(`${a.name} ${done.version} installed`);
    } catch (e) {
      toast(e.message, "error");
    } finally {
      running.delete(a.id);
      await draw();
    }
  }

  async function draw() {
    const agents = await get("/api/agents");
    root.querySelector("#agent-table").replaceChildren(
      table(["Agent", "Installed", "Version", "Path", { label: "Profiles", num: true }, ""], agents.map((a) => el("tr", { dataset: { agent: a.id } },
        el("td", el("strong", a.name), el("div.muted", a.id)),
        el("td", badge(a.installed ? "yes" : "no"), a.installed_by_clown ? el("div.muted", `by clown: ${a.installed_by_clown}`) : null),
        el("td", a.version || "-"),
        el("td", el("code", a.binary_path || "not found on PATH")),
        el("td.num", String(a.profile_count)),
        el("td", a.npm_package && a.npm_package !== "none"
          ? el("button.small", { type: "button", disabled: running.has(a.id), onclick: () => install(a) },
            running.has(a.id) ? "Installing…" : a.installed_by_clown ? "Update" : "Install")
          : null)))));
  }

  root.replaceChildren(
    el("h1", "Agents"),
    el("div", { id: "agent-table" }),
    el("p.muted", "Detection looks in clown's own prefix (agents installed here), on the login shell's PATH, the daemon's PATH, [agents] extra_paths and the usual per-user prefixes (~/.local/bin, npm's, nvm's, bun's, volta's, …); the Doctor page lists them. A newly installed agent shows up within seconds. Install and Update fetch the agent's npm package; a failed install leaves the installed version in use."),
    el("h2", "Install log"), logBox,
  );
  await draw();
  const offs = [
    on("registry_synced", () => draw().catch(() => {})),
    on("agent_install_progress", (d) => {
      logBox.append(el("div", `${d.agent}: ${d.line}`));
      logBox.scrollTop = logBox.scrollHeight;
    }),
    on("agent_install_finished", (d) => {
      logBox.append(el("div", { className: d.ok ? "" : "ERROR" }, d.ok ? `${d.agent}: installed ${d.version}` : `${d.agent}: ${d.error}`));
      draw().catch(() => {});
    }),
  ];
  return () => offs.forEach((off) => off());
}
