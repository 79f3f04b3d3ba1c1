// The single-page app: hash routes to page modules, the live event connection, the nav.
// Each page module exports `render(root, params)` and may return a cleanup function.

import { connect } from "./events.js";
import { startNotifications } from "./attention.js";
import { startBudgetAlerts } from "./budgets.js";
import { el, toast } from "./util.js";

const pages = {
  dashboard: () => import("./pages/dashboard.js"),
  profiles: () => import("./pages/profiles.js"),
  setup: () => import("./pages/setup.js"),
  terminals: () => import("./pages/terminals.js"),
  conversations: () => import("./pages/conversations.js"),
  usage: () => import("./pages/usage.js"),
  proxies: () => import("./pages/proxies.js"),
  agents: () => import("./pages/agents.js"),
  providers: () => import("./pages/providers.js"),
  registry: () => import("./pages/registry.js"),
  logs: () => import("./pages/logs.js"),
  doctor: () => import("./pages/doctor.js"),
};

let cleanup = null;

async function route() {
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/");
  const page = pages[name] ? name : "dashboard";
  for (const a of document.querySelectorAll(".sidebar a")) {
    a.classList.toggle("active", a.dataset.page === page);
  }
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  const root = document.getElementById("page");
  root.replaceChildren(el("p.muted", "Loading…"));
  try {
    const mod = await pages[page]();
    const fresh = el("div", { dataset: { page } });
    root.replaceChildren(fresh);
    cleanup = (await mod.render(fresh, params.map(decodeURIComponent))) || null;
  } catch (e) {
    root.replaceChildren(el("div.empty", `Could not load this page: ${e.message}`));
    toast(e.message, "error");
  }
}

window.addEventListener("hashchange", route);
connect(document.getElementById("conn"));
startNotifications();
startBudgetAlerts();
route();
