// Doctor: the daemon's checks of the setup (GET /api/daemon/doctor), each wrong one with
// the command that fixes it, and where the daemon looks for agents. `clown doctor` shows
// the same plus what only the client can see (its binary, the service units, its PATH).

import { get } from "../api.js";
import { el, badge, table } from "../util.js";

const ORDER = { fail: 0, warn: 1, info: 2, ok: 3 };

export async function render(root) {
  async function draw() {
    const report = await get("/api/daemon/doctor");
    const checks = [...report.checks].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
    const bad = checks.filter((c) => c.status === "fail").length;
    root.replaceChildren(
      el("h1", "Doctor"),
      el("div.toolbar", el("span", { id: "doctor-summary" }, bad ? `${bad} problem(s) found` : "No problem found"),
        el("span.spacer"), el("button", { type: "button", onclick: () => draw() }, "Check again")),
      el("div.checks", table(["", "Check", "What the daemon sees"], checks.map((c) => el("tr", { dataset: { check: c.name, status: c.status } },
        el("td", badge(c.status)), el("td", c.name),
        el("td", c.detail, c.fix && c.status !== "ok" ? el("div.fix", `fix: ${c.fix}`) : null))))),
      el("h2", "Where the daemon looks for agents"),
      table(["Directory", "Why"], report.search_dirs.map((d) => el("tr", el("td", el("code", d.dir)), el("td", d.source.replace(/_/g, " "))))),
      el("p.muted", `Add directories with agents.extra_paths in ${report.config_file}; 'clown doctor' in a terminal also checks the binary, the service units and your PATH.`),
    );
  }
  await draw();
}
