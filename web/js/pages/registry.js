// Registry: which catalogue is served, and syncing a newer one.

import { get, post } from "../api.js";
import { on } from "../events.js";
import { el, ago, toast } from "../util.js";

export async function render(root) {
  async function draw() {
    const r = await get("/api/registry");
    const force = el("input", { type: "checkbox", id: "force" });
    const sync = el("button.primary", { type: "button", onclick: async () => {
      sync.disabled = true;
      try {
        const res = await post(`/api/registry/sync?force=${force.checked}`);
        toast(res.updated ? `Registry synced to ${res.commit}` : "Registry is fresh (synced within 24 h); use force to fetch anyway");
        await draw();
      } catch (e) {
        toast(e.message, "error");
      } finally {
        sync.disabled = false;
      }
    } }, "Sync now");
    root.replaceChildren(
      el("h1", "Registry"),
      el("div.card", el("dl.kv",
        el("dt", "source"), el("dd", r.cached ? `synced copy, commit ${r.commit}` : "built-in catalogue"),
        el("dt", "repository"), el("dd", r.url ? el("code", r.url) : el("span.muted", "none configured (registry.url)")),
        el("dt", "channel"), el("dd", r.channel),
        el("dt", "last sync"), el("dd", r.last_sync ? `${ago(r.last_sync)} (${r.last_sync})` : "never"),
        el("dt", "catalogue"), el("dd", `${r.agents} agents, ${r.providers} providers, ${r.priced_models} priced models`))),
      el("div.toolbar", sync, el("label", force, " force")),
    );
  }
  await draw();
  return on("registry_synced", () => draw().catch(() => {}));
}
