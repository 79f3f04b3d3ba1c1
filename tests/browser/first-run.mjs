// A new user's first visit to the web UI (tests/it/browser.rs, the_first_run_in_chromium):
// no profile and no agent installed. The dashboard says how to install an agent, finds it
// once it is installed (no reload), creates a profile for it and ends in a running
// terminal session that shows the agent's output.
//
// Env: BASE, TOKEN, ARTIFACTS, DEPS_DIR, CHROMIUM, STAGED_AGENT (the agent program, not
// yet installed), INSTALL_AGENT_TO (where "installing" puts it: a directory the daemon
// searches).

import path from "node:path";
import fs from "node:fs";
import { ART, BASE, TIMEOUT, assert, finish, launch, step } from "./harness.mjs";

const browser = await launch();
const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
const shot = (name) => page.screenshot({ path: path.join(ART, `${name}.png`), fullPage: true });

await step("with no agent installed, the dashboard says how to install one", async () => {
  await page.goto(`${BASE}/login?token=${process.env.TOKEN}`);
  await page.getByRole("heading", { name: "Get started" }).waitFor({ timeout: TIMEOUT });
  await page.locator("#no-agent").waitFor({ timeout: TIMEOUT });
  await page.getByText("npm install -g @anthropic-ai/claude-code").waitFor();
  assert(await page.locator("#first-run-form select").count() === 0, "no form before an agent is there");
  await shot("first-run-no-agent");
});

await step("an agent installed meanwhile appears without a reload", async () => {
  await page.evaluate(() => { window.__noReload = true; });
  fs.copyFileSync(process.env.STAGED_AGENT, process.env.INSTALL_AGENT_TO);
  fs.chmodSync(process.env.INSTALL_AGENT_TO, 0o755);
  await page.locator('input[name=agent][value="echoer"]').waitFor({ timeout: TIMEOUT });
  assert(await page.evaluate(() => window.__noReload === true), "the page was reloaded");
});

await step("the walk-through creates a profile and ends in a running terminal", async () => {
  const form = page.locator("#first-run-form");
  await form.locator("select[name=provider_id]").selectOption("anthropic");
  await form.locator("input[name=alias]").fill("first");
  await form.locator("input[name=api_key]").fill("sk-first-run-0123456789");
  await shot("first-run-form");
  await form.getByRole("button", { name: "Create the profile and start a terminal" }).click();
  await page.waitForURL(/#\/terminals\/[0-9a-f-]+/, { timeout: TIMEOUT });
  await page.locator("#term .xterm-rows").getByText("echo agent ready").waitFor({ timeout: TIMEOUT });
  await page.locator("#term").click();
  await page.keyboard.type("hello-first-run");
  await page.keyboard.press("Enter");
  await page.locator("#term .xterm-rows").getByText("ECHO:hello-first-run").waitFor({ timeout: TIMEOUT });
  assert(!(await page.content()).includes("sk-first-run-0123456789"), "the key is never shown");
  await shot("first-run-terminal");
});

await step("with a profile, the dashboard no longer walks through", async () => {
  await page.goto(`${BASE}/#/dashboard`);
  await page.getByText("Tokens today").waitFor({ timeout: TIMEOUT });
  assert(await page.locator("#first-run").count() === 0, "the walk-through is gone");
});

await step("no script errors", async () => {
  assert(errors.length === 0, errors.join("\n"));
});

await finish(browser);
