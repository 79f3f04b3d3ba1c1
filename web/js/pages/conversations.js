// Conversations: the agents' own conversations in every profile home, newest first,
// searchable by text; each resumes in a new terminal session, under its profile or another
// profile of the same agent.

import { get, post } from "../api.js";
import { el, num, usd, ago, toast, table } from "../util.js";

export async function render(root, params) {
  const profiles = await get("/api/profiles");
  const search = el("input", { type: "search", placeholder: "Search prompts, directories, ids…", "aria-label": "Search conversations", value: params[0] || "" });
  const which = el("select", { "aria-label": "Profile" }, el("option", { value: "" }, "every profile"),
    profiles.map((p) => el("option", { value: p.alias }, p.alias)));
  const list = el("div", { id: "conversations" });

  async function draw() {
    const q = new URLSearchParams({ limit: "200" });
    if (search.value.trim()) q.set("q", search.value.trim());
    if (which.value) q.set("profile", which.value);
    const rows = await get(`/api/conversations?${q}`);
    if (!rows.length) {
      list.replaceChildren(el("div.empty", search.value ? "No conversation matches." : "No conversations yet: an agent writes them once it is used in a profile."));
      return;
    }
    list.replaceChildren(table(["Profile", "Last activity", "Directory", "First prompt", { label: "Tokens", num: true }, { label: "Cost", num: true }, ""],
      rows.map((c) => {
        const agent = profiles.find((p) => p.alias === c.profile_alias)?.agent_id;
        const target = el("select.small", { "aria-label": "Resume under" },
          profiles.filter((p) => p.agent_id === agent).map((p) => el("option", { value: p.alias, selected: p.alias === c.profile_alias }, p.alias)));
        const tokens = c.tokens ? Object.values(c.tokens).reduce((a, b) => a + b, 0) : null;
        return el("tr", { dataset: { conversation: c.id } },
          el("td", c.profile_alias), el("td", ago(c.last_activity)), el("td", el("code", c.cwd || "?")),
          el("td", c.first_prompt || el("span.muted", "—")),
          el("td.num", tokens === null ? "—" : num(tokens)), el("td.num", c.cost_usd == null ? "—" : usd(c.cost_usd)),
          el("td", target, " ", el("button.small.primary", { type: "button", disabled: !c.resume_args, onclick: async () => {
            try {
              const r = await post("/api/conversations/resume", { profile_alias: c.profile_alias, conversation_id: c.id, target_profile: target.value });
              location.hash = `#/terminals/${r.session_id}`;
            } catch (e) { toast(e.message, "error"); }
          } }, "Resume")));
      })));
  }

  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => draw().catch((e) => toast(e.message, "error")), 250); });
  which.addEventListener("change", () => draw().catch((e) => toast(e.message, "error")));
  root.replaceChildren(el("h1", "Conversations"), el("div.toolbar", search, which), list);
  await draw();
  return () => clearTimeout(timer);
}
