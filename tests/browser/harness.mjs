// What every browser test here shares: the environment the Rust harness passes
// (tests/it/browser.rs: BASE, TOKEN, ARTIFACTS, DEPS_DIR, CHROMIUM), Debian's chromium
// started headless through playwright-core, numbered steps that report and go on, and the
// exit status. Each test file imports this and holds only its own steps.

import { createRequire } from "node:module";
import path from "node:path";
import fs from "node:fs";

const require = createRequire(path.join(process.env.DEPS_DIR, "package.json"));
export const { chromium, devices } = require("playwright-core");

export const BASE = process.env.BASE;
export const TOKEN = process.env.TOKEN;
export const ART = process.env.ARTIFACTS;
export const TIMEOUT = 15000;
fs.mkdirSync(ART, { recursive: true });

let passed = 0;
let failed = 0;
let onFailure = async () => {};

/// What to do after a step failed (e.g. a screenshot), given the failure's number.
export function whenFailed(fn) {
  onFailure = fn;
}

/// Runs one step: prints `ok` or `not ok` with the reason, and goes on either way.
export async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e.stack || e}`);
    await onFailure(failed).catch(() => {});
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/// The daemon's API with the token: status and parsed body.
export async function api(method, p, body) {
  const r = await fetch(BASE + p, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json() };
}

/// Polls `fn` until it returns something truthy (which it returns), or fails after TIMEOUT.
export async function until(what, fn) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Debian's chromium, headless, without anything that reaches out of the machine.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

/// Prints the tally and exits: non-zero when a step failed.
export async function finish(browser) {
  await browser.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
