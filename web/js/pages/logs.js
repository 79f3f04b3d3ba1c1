// Logs: the daemon's recent log lines, then new ones live.

import { get } from "../api.js";
import { on } from "../events.js";
import { el } from "../util.js";

const MAX = 2000;

export async function render(root) {
  const box = el("div.log", { id: "log" });
  const follow = el("input", { type: "checkbox", checked: true });
  root.replaceChildren(el("h1", "Logs"), el("div.toolbar", el("label", follow, " follow")), box);
  const add = (line) => {
    const level = (line.match(/\b(ERROR|WARN|INFO|DEBUG|TRACE)\b/) || [])[1] || "";
    box.append(el(`div${level ? "." + level : ""}`, line));
    while (box.childElementCount > MAX) box.firstChild.remove();
    if (follow.checked) box.scrollTop = box.scrollHeight;
  };
  (await get("/api/daemon/logs?lines=500")).forEach(add);
  return on("log", (line) => add(String(line)));
}
