// The terminal on a phone: Debian's chromium (headless, through playwright-core) with
// mobile emulation (390×844, touch) against a daemon the Rust harness started
// (tests/it/browser.rs). Asserts what a user sees, and the bytes that reach the session:
// its agent writes the hex of every byte it reads to $KEY_LOG.
//
// Env: BASE, TOKEN, ARTIFACTS, DEPS_DIR, CHROMIUM, KEYS_SESSION (a session of the key
// agent: 150 numbered lines, then each byte read), WAITING_SESSION (another session),
// KEY_LOG.

import path from "node:path";
import fs from "node:fs";
import { ART, BASE, TIMEOUT, TOKEN, api, assert, devices, finish, launch, step, until, whenFailed } from "./harness.mjs";

const KEYS = process.env.KEYS_SESSION;
const WAITING = process.env.WAITING_SESSION;
const KEY_LOG = process.env.KEY_LOG;

// The bytes the session's program has read so far, as hex.
const keyLog = () => (fs.existsSync(KEY_LOG) ? fs.readFileSync(KEY_LOG, "utf8").split(/\s+/).filter(Boolean) : []);
let expected = [];
async function expectKeys(what, bytes) {
  expected = expected.concat(bytes);
  const want = expected.join(" ");
  await until(`${what}: ${want}`, () => keyLog().join(" ") === want).catch((e) => {
    throw new Error(`${e.message}; the session read ${keyLog().join(" ")}`);
  });
}
const hex = (s) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, "0"));

const browser = await launch();
const phone = { ...devices["Pixel 7"], viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const context = await browser.newContext(phone);
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
const page = await context.newPage();
whenFailed((n) => page.screenshot({ path: path.join(ART, `phone-failed-${n}.png`) }));
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));
const shot = (p, name) => p.screenshot({ path: path.join(ART, `${name}.png`), fullPage: false });
const rows = (p) => p.evaluate(() => [...document.querySelectorAll("#term .xterm-rows > div")].map((d) => d.textContent));
// Real touch input (Chromium's), a finger dragged over the terminal of `p`.
async function swiper(p) {
  const box = await p.locator("#term").boundingBox();
  const cdp = await p.context().newCDPSession(p);
  const x = box.x + Math.min(box.width / 2, 150);
  const drag = async (from, to) => {
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x, y: from }] });
    for (let i = 1; i <= 10; i++) {
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x, y: from + ((to - from) * i) / 10 }] });
    }
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  };
  const top = box.y + 20;
  const bottom = box.y + Math.min(box.height, 700) - 20;
  return { down: () => drag(top, bottom), up: () => drag(bottom, top) };
}
const numbers = async (p) => (await rows(p)).map((r) => /line-(\d{3})/.exec(r)).filter(Boolean).map((m) => Number(m[1]));

await step("signed in on a phone, the terminal page puts the sessions that need you first", async () => {
  const r = await api("POST", `/api/terminal/sessions/${WAITING}/hook`, { agent: "claude", event: "PermissionRequest", tool_name: "Bash" });
  assert(r.status === 200 && r.json.data.attention === "needs_input", JSON.stringify(r.json));
  await page.goto(`${BASE}/login?token=${TOKEN}`);
  await page.waitForURL(BASE + "/");
  await page.goto(`${BASE}/#/terminals/${KEYS}`);
  const item = page.locator(`#needs-you .needs-you-item[data-session="${WAITING}"]`);
  await item.waitFor({ timeout: TIMEOUT });
  await page.locator("#term-status").getByText("connected").waitFor({ timeout: TIMEOUT });
  const need = await page.locator("#needs-you").boundingBox();
  const heading = await page.getByRole("heading", { name: "Terminals" }).boundingBox();
  const term = await page.locator("#term").boundingBox();
  assert(need.y + need.height <= 844, `the list is below the first screen: ${JSON.stringify(need)}`);
  assert(need.y < heading.y && need.y < term.y, `not first: list ${need.y}, heading ${heading.y}, terminal ${term.y}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 1, `the page overflows the phone by ${overflow}px`);
  await item.tap();
  await page.waitForURL(new RegExp(`#/terminals/${WAITING}$`), { timeout: TIMEOUT });
  await page.goto(`${BASE}/#/terminals/${KEYS}`);
  await page.locator("#term-status").getByText("connected").waitFor({ timeout: TIMEOUT });
});

await step("a swipe on the terminal scrolls through its scrollback and back", async () => {
  await until("the last numbered line on screen", async () => (await numbers(page)).includes(150));
  const before = Math.min(...(await numbers(page)));
  assert(before > 100, `the screen starts at line ${before}`);
  const swipe = await swiper(page);
  // A finger moving down shows older lines, many times over.
  for (let i = 0; i < 8 && Math.min(...(await numbers(page))) > 1; i++) await swipe.down();
  const scrolled = await numbers(page);
  assert(scrolled.includes(1), `swiping never reached line 1: ${scrolled}`);
  await shot(page, "phone-scrollback");
  for (let i = 0; i < 10 && !(await numbers(page)).includes(150); i++) await swipe.up();
  assert((await numbers(page)).includes(150), `back at the end: ${await numbers(page)}`);
});

await step("the key bar sends the keys a phone lacks, Ctrl as a latch, without taking the focus", async () => {
  const bar = page.locator("#keybar");
  await bar.waitFor({ state: "visible", timeout: TIMEOUT });
  const buttons = await bar.locator("button").evaluateAll((bs) => bs.map((b) => {
    const r = b.getBoundingClientRect();
    return { key: b.dataset.key, left: r.left, right: r.right, height: r.height };
  }));
  assert(buttons.map((b) => b.key).join(",") === "esc,tab,ctrl,left,up,down,right,ctrl-c,paste", JSON.stringify(buttons));
  assert(buttons.every((b) => b.left >= 0 && b.right <= 390 && b.height >= 36), `keys off screen or too small: ${JSON.stringify(buttons)}`);
  await page.locator("#term").tap();
  const focused = () => page.evaluate(() => document.activeElement && document.activeElement.classList.contains("xterm-helper-textarea"));
  await until("the terminal focused", focused);
  const key = (k) => bar.locator(`button[data-key="${k}"]`);
  await key("esc").tap();
  await expectKeys("Esc", ["1b"]);
  assert(await focused(), "a key took the focus from the terminal");
  await key("tab").tap();
  await expectKeys("Tab", ["09"]);
  await key("left").tap();
  await key("up").tap();
  await key("down").tap();
  await key("right").tap();
  await expectKeys("the arrows", ["1b", "5b", "44", "1b", "5b", "41", "1b", "5b", "42", "1b", "5b", "43"]);
  await key("ctrl").tap();
  assert((await key("ctrl").getAttribute("aria-pressed")) === "true", "Ctrl is latched");
  await page.keyboard.type("c");
  await expectKeys("Ctrl then c", ["03"]);
  assert((await key("ctrl").getAttribute("aria-pressed")) === "false", "the latch lasts one key");
  await page.keyboard.type("d");
  await expectKeys("d after the latch", ["64"]);
  await key("ctrl-c").tap();
  await expectKeys("Ctrl-C", ["03"]);
  assert(await focused(), "the terminal still has the focus");
  await page.locator("#term .xterm-rows").getByText("KEY:03").first().waitFor({ timeout: TIMEOUT });
  await shot(page, "phone-terminal");
});

await step("Paste sends the clipboard's text to the session, or what was pasted into its box", async () => {
  await page.evaluate(() => navigator.clipboard.writeText("pasted on a phone"));
  await page.locator('#keybar button[data-key="paste"]').tap();
  await expectKeys("the pasted text", hex("pasted on a phone"));
  // Where the page may not read the clipboard: a box to paste into by hand.
  await context.clearPermissions();
  await page.locator('#keybar button[data-key="paste"]').tap();
  const box = page.locator("dialog #paste-text");
  await box.waitFor({ timeout: TIMEOUT });
  await box.fill("by hand");
  await page.locator("dialog").getByRole("button", { name: "Send" }).tap();
  await expectKeys("the text pasted by hand", hex("by hand"));
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
});

await step("Share makes a read-only link: the phone's viewer sees the screen, types nothing, and is cut off when revoked", async () => {
  await page.locator("#share").tap();
  const url = await page.locator("#share-url").inputValue({ timeout: TIMEOUT });
  assert(url.startsWith(`${BASE}/share/clown-share-`) && !url.includes(TOKEN), url);
  // A link made elsewhere (here through the API, as the CLI does) shows up at once.
  const other1 = await api("POST", `/api/terminal/sessions/${KEYS}/share`, { ttl_secs: 600 });
  assert(other1.status === 200, JSON.stringify(other1.json));
  await until("two live links listed", async () => (await page.locator("#share-box li").count()) === 2);
  // Someone else, on another phone, without the daemon's cookie.
  const other = await browser.newContext(phone);
  const view = await other.newPage();
  view.on("pageerror", (e) => consoleErrors.push(String(e)));
  await view.goto(url);
  await view.locator("#term-status").getByText("live").waitFor({ timeout: TIMEOUT });
  await view.locator("#term .xterm-rows").getByText("KEY:03").first().waitFor({ timeout: TIMEOUT });
  assert(!(await view.locator("#keybar").count()), "no key bar on a read-only view");
  // The viewer scrolls back through the session's scrollback with a swipe too.
  const swipe = await swiper(view);
  for (let i = 0; i < 12 && !(await numbers(view)).includes(1); i++) await swipe.down();
  assert((await numbers(view)).includes(1), `the viewer never reached line 1: ${await numbers(view)}`);
  await view.locator("#term").tap();
  await view.keyboard.type("zz");
  // The owner types after the viewer did: only the owner's byte arrives.
  await page.locator("#term").tap();
  await page.keyboard.type("y");
  await expectKeys("the owner's y, and nothing of the viewer's", ["79"]);
  await shot(view, "phone-share");
  const cookies = await other.cookies();
  assert(!cookies.some((c) => c.value === TOKEN), "the viewer never holds the daemon's token");
  await page.locator(`#share-box li:not([data-share="${other1.json.data.id}"]) button`).tap();
  await view.locator("#term-status").getByText("expired or was revoked").waitFor({ timeout: TIMEOUT });
  const again = await view.goto(url);
  assert(again.status() === 401, `a revoked link's page answered ${again.status()}`);
  await until("only the other link listed", async () => (await page.locator("#share-box li").count()) === 1);
  assert(!(await page.locator("#share-url").count()), "a revoked link's address is no longer offered");
  await other.close();
});

await step("the dashboard on a phone shows what needs you within the first screen", async () => {
  await page.goto(`${BASE}/#/dashboard`);
  const item = page.locator(`#needs-you .needs-you-item[data-session="${WAITING}"]`);
  await item.waitFor({ timeout: TIMEOUT });
  const box = await item.boundingBox();
  assert(box.y + box.height <= 844, `below the first screen: ${JSON.stringify(box)}`);
  await shot(page, "phone-dashboard");
});

await step("no script errors in the console", async () => {
  const real = consoleErrors.filter((e) => !e.includes("401") && !e.includes("favicon"));
  assert(real.length === 0, real.join("\n"));
});

await finish(browser);
