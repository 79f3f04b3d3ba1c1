// Providers: endpoints, models and prices.

import { get } from "../api.js";
import { el } from "../util.js";

export async function render(root) {
  const list = await get("/api/providers");
  const details = await Promise.all(list.map((p) => get(`/api/providers/${encodeURIComponent(p.id)}`)));
  root.replaceChildren(
    el("h1", "Providers"),
    el("div.providers", details.map((p) => el("div.card",
      el("h2", p.name, " ", el("span.badge", p.type)),
      el("dl.kv",
        el("dt", "id"), el("dd", el("code", p.id)),
        el("dt", "key variable"), el("dd", el("code", p.key_env)),
        ...Object.entries(p.endpoints).flatMap(([name, url]) => [
          el("dt", name === p.default_endpoint ? `${name} (default)` : name), el("dd", el("code", url))]),
        el("dt", "models"), el("dd", p.any_model ? `any (e.g. ${p.models.join(", ")})` : p.models.join(", ")),
        el("dt", "prices / M tok"), el("dd", Object.entries(p.prices_per_million_tokens).map(([m, pr]) =>
          el("div", el("code", m), ` in $${pr.input} · out $${pr.output} · cache w $${pr.cache_write} · cache r $${pr.cache_read}`))),
      )))),
  );
}
