// Agents: the catalogue's agents, whether they are installed, versions and paths.

import { get } from "../api.js";
import { on } from "../events.js";
import { el, badge, table } from "../util.js";

export async function render(root) {
  async function draw() {
    const agents = await get("/api/agents");
    root.replaceChildren(
      el("h1", "Agents"),
      table(["Agent", "Installed", "Version", "Path", { label: "Profiles", num: true }], agents.map((a) => el("tr",
        el("td", el("strong", a.name), el("div.muted", a.id)),
        el("td", badge(a.installed ? "yes" : "no")),
        el("td", a.version || "-"),
        el("td", el("code", a.binary_path || "not found on PATH")),
        el("td.num", String(a.profile_count))))),
      el("p.muted", "Detection looks on the login shell's PATH, the daemon's PATH, [agents] extra_paths and the usual per-user prefixes (~/.local/bin, npm's, nvm's, bun's, volta's, …); the Doctor page lists them. A newly installed agent shows up within seconds."),
    );
  }
  await draw();
  const off = on("registry_synced", () => draw().catch(() => {}));
  return off;
}
