// The web console in a real browser (Debian's Chromium via playwright-core)
// against a real `typevisor serve` running the default guest: an admin signs
// in, creates and starts a VM, types `uname -a` and reads the answer off the
// page; a viewer watches the same console but cannot type or press Start;
// pause/resume show up live in both pages; a snapshot is taken and restored
// (a file made after it is gone); a page reload and a daemon restart bring
// the scrollback back. Waits have a hang guard only (no speed is asserted).
// TYPEVISOR_WEB_SCREENSHOTS=docs/images keeps screenshots of the pages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./chromium.ts";
import { DaemonProcess } from "./daemon-process.ts";
import { QUIET_CONSOLE } from "../support/guest-console.ts";
import { HANG_GUARD_MS, PROMPT, run, screen, tearDown, waitForScreen } from "./console-page.ts";

const VM = "webtest";
const SHOTS = process.env.TYPEVISOR_WEB_SCREENSHOTS;

let dir: string;
let daemon: DaemonProcess;
let browser: Browser;
let admin: Page;
let viewer: Page;
let adminToken: string;
let viewerToken: string;

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(daemon.origin);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Virtual machines" }).waitFor();
}

/** Signs in with the keyboard alone: the token field has focus when the page opens; Enter submits. */
async function signInByKeyboard(page: Page, token: string): Promise<void> {
  await page.goto(daemon.origin);
  await page.locator("#token:focus").waitFor();
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Virtual machines" }).waitFor();
}

/**
 * Text on the page (terminal and graphs aside) whose colour falls under
 * WCAG's 4.5:1 contrast against its background. A source string: tsx would
 * wrap named functions in a helper the page does not have.
 */
const LOW_CONTRAST = `(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (!/rgba\\(.*, 0\\)$/.test(c) && c !== "transparent") return rgb(c);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of Array.from(document.querySelectorAll("body *:not(.xterm *):not(.uplot *)"))) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== "");
    if (!own || el.offsetParent === null || el.disabled) continue;
    const fg = lum(rgb(getComputedStyle(el).color));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) bad.push(el.tagName.toLowerCase() + "." + el.className + " " + JSON.stringify(el.textContent.trim().slice(0, 30)) + " " + ratio.toFixed(2));
  }
  return bad;
})()`;

function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(LOW_CONTRAST);
}

async function stateOf(page: Page): Promise<string> {
  return page.locator("#vm-title .badge").innerText();
}

async function waitForState(page: Page, state: string): Promise<void> {
  await page.locator("#vm-title .badge", { hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: HANG_GUARD_MS });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tv-webui-"));
  daemon = await DaemonProcess.start(join(dir, "data"));
  adminToken = await daemon.token("alice", "admin");
  viewerToken = await daemon.token("victor", "viewer");
  browser = await launchChromium();
  // Two browser contexts: two users with their own cookies.
  const newPage = async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: daemon.origin });
    return context.newPage();
  };
  admin = await newPage();
  viewer = await newPage();
});

after(() => tearDown(daemon, browser, dir, VM));

test("sign-in refuses a wrong token with the API's message, then accepts the admin's", async () => {
  await admin.goto(daemon.origin);
  await shot(admin, "web-console-sign-in");
  await admin.getByLabel("API token").fill("tvk_0000000000000000_wrong");
  await admin.getByRole("button", { name: "Sign in" }).click();
  await admin.locator("#sign-in-error", { hasText: "not valid" }).waitFor();
  assert.ok(!admin.url().includes("tvk_"), "the token is never in the URL");
  await signIn(admin, adminToken);
  assert.equal(admin.url(), `${daemon.origin}/`);
  assert.match(await admin.locator(".who").innerText(), /alice.*admin/s);
});

test("the create form shows the API's validation message, then creates the VM", async () => {
  await admin.getByRole("button", { name: "New VM" }).click();
  await admin.getByLabel("Name").fill("not a name!");
  await admin.getByRole("button", { name: "Create VM" }).click();
  const error = admin.locator("#create-error");
  await error.filter({ hasText: /\S/ }).waitFor();
  assert.match(await error.innerText(), /name/i);
  assert.equal(await admin.getByLabel("Name").getAttribute("aria-invalid"), "true");
  const unlabelled = await admin.locator("dialog input, dialog select").evaluateAll((els) => els.filter((e) => (e as HTMLInputElement).labels?.length === 0).length);
  assert.equal(unlabelled, 0, "every field of the form has a label");
  assert.deepEqual(await lowContrast(admin), []);
  await shot(admin, "web-console-create");
  await admin.getByLabel("Name").fill(VM);
  await admin.getByLabel("Memory (MiB)").fill("128");
  await admin.getByLabel("Network").selectOption({ label: "No network" });
  await admin.getByRole("button", { name: "Create VM" }).click();
  await admin.locator(`tr[data-vm-row="${VM}"]`).waitFor();
  await admin.locator("#vm-title", { hasText: VM }).waitFor();
  assert.match(await stateOf(admin), /created|stopped/);
});

test("start boots the default guest; `uname -a` typed in the terminal answers on the page", async () => {
  await admin.locator('[data-action="start"]').click();
  await waitForState(admin, "running");
  await waitForScreen(admin, PROMPT);
  // As the shell helpers do: eth0's "link becomes ready" would otherwise land inside the echo of `uname -a`.
  await run(admin, `${QUIET_CONSOLE}; echo quiet-$((6*7))`, /quiet-42/);
  const text = await run(admin, "uname -a", /Linux \S+ 6\.1\.\d+[^\n]*riscv64/);
  assert.match(text, /uname -a\s*\n\s*Linux/);
  await shot(admin, "web-console-main");
  assert.deepEqual(await lowContrast(admin), [], "readable contrast on the main page");
});

test("bulk output reaches the page whole; paste types into the guest, Ctrl+Shift+C copies a selection", async () => {
  const text = await run(admin, "seq 1 20000; echo seq-done-$((9*9))", /seq-done-81/);
  assert.match(text, /^19999\n20000\n/m);
  // A paste event as the browser fires it on Ctrl+Shift+V (headless Chromium has no system clipboard to paste from).
  await admin.locator(".xterm-helper-textarea").evaluate((area) => {
    const data = new DataTransfer();
    data.setData("text/plain", "echo pasted-$((8*8))\n");
    area.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await waitForScreen(admin, /^pasted-64$/m);
  // A double click on the word selects it (xterm takes the mouse on the screen above its rows).
  const row = await admin.locator(".xterm-rows > div", { hasText: /^pasted-64\s*$/ }).last().boundingBox();
  assert.ok(row);
  await admin.mouse.dblclick(row.x + 12, row.y + row.height / 2);
  await admin.keyboard.press("Control+Shift+C");
  assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), "pasted-64");
});

test("a viewer sees the same console live but cannot type, start or create", async () => {
  await signInByKeyboard(viewer, viewerToken);
  await viewer.locator(`button[data-vm="${VM}"]`).focus();
  await viewer.keyboard.press("Enter");
  await waitForScreen(viewer, /^pasted-64$/m); // the daemon's scrollback, replayed to a second viewer
  assert.equal(await viewer.getByRole("button", { name: "New VM" }).count(), 0);
  assert.equal(await viewer.locator("[data-action]").count(), 0, "no power, clone or delete buttons");
  assert.equal(await viewer.getByRole("button", { name: "Take snapshot" }).count(), 0);
  await viewer.locator(".toolbar", { hasText: "Read-only" }).waitFor();
  await viewer.locator(".term-screen").click();
  await viewer.keyboard.type("echo viewer-typed-this");
  await viewer.keyboard.press("Enter");
  // The admin's next command is answered; the viewer's keys never reached the guest.
  const adminText = await run(admin, "echo admin-$((6*7))", /admin-42/);
  assert.doesNotMatch(adminText, /viewer-typed-this/);
  await waitForScreen(viewer, /admin-42/); // several viewers: the viewer sees it too
  assert.doesNotMatch(await screen(viewer), /viewer-typed-this/);
  await shot(viewer, "web-console-viewer");
});

test("pause and resume, seen live by both pages", async () => {
  await admin.locator('[data-action="pause"]').click();
  await waitForState(admin, "paused");
  await waitForState(viewer, "paused"); // the viewer's page follows the event stream
  assert.ok(await admin.locator('[data-action="resume"]').isEnabled());
  assert.ok(await admin.locator('[data-action="pause"]').isDisabled());
  await admin.locator('[data-action="resume"]').click();
  await waitForState(admin, "running");
  await waitForState(viewer, "running");
  await run(admin, "echo alive-$((2+3))", /alive-5/);
});

test("a snapshot taken and restored: a file made after it is gone", async () => {
  await run(admin, "touch /tmp/before-snap && echo made-$((1+1))", /made-2/);
  await admin.getByRole("button", { name: "Take snapshot" }).click();
  await admin.getByLabel("Snapshot name").fill("snap1");
  await admin.locator("dialog").getByRole("button", { name: "Take snapshot" }).click();
  await admin.locator('tr[data-snapshot="snap1"]').waitFor({ timeout: HANG_GUARD_MS });
  await waitForState(admin, "running");
  await run(admin, "touch /tmp/after-snap && echo made-$((2+2))", /made-4/);
  await admin.locator('tr[data-snapshot="snap1"]').getByRole("button", { name: "Restore" }).click();
  await admin.locator("dialog").getByRole("button", { name: "Restore" }).click();
  await admin.locator(".toast", { hasText: "restored from snap1" }).waitFor({ timeout: HANG_GUARD_MS });
  await waitForState(admin, "running");
  const text = await run(admin, "ls /tmp; echo listed-$((3+3))", /listed-6/);
  const answer = text.slice(text.lastIndexOf("ls /tmp"));
  assert.match(answer, /before-snap/);
  assert.doesNotMatch(answer, /after-snap/);
  await shot(admin, "web-console-snapshot");
});

test("a reload brings the daemon's scrollback back", async () => {
  await run(admin, "echo kept-$((5*5))", /kept-25/);
  await admin.reload();
  await waitForScreen(admin, /kept-25/);
});

test("after a daemon restart the page is still signed in, the console reconnects by itself, and the saved VM resumes", async () => {
  await daemon.restart(); // --on-shutdown save: the VM was saved
  await admin.locator(".term-status", { hasText: "reconnecting" }).waitFor({ timeout: HANG_GUARD_MS }).catch(() => {});
  await admin.locator(".term-status", { hasText: /^connected$/ }).waitFor({ timeout: HANG_GUARD_MS });
  assert.equal(await admin.locator("#token").count(), 0, "no sign-in form: the cookie still works");
  await waitForState(admin, "stopped");
  await admin.locator('[data-action="start"]').click();
  await waitForState(admin, "running");
  await run(admin, "echo back-$((7*7))", /back-49/);
});

test("power off and delete ask first, then the VM is gone from both pages", async () => {
  const state = await stateOf(admin);
  if (state === "running" || state === "paused") {
    await admin.locator('[data-action="stop"]').click();
    await admin.locator("dialog button:focus", { hasText: "Cancel" }).waitFor(); // a destructive question starts on Cancel
    await admin.keyboard.press("Escape");
    await admin.locator("dialog").waitFor({ state: "detached" });
    assert.match(await stateOf(admin), /running|paused/, "Escape keeps it running");
    await admin.locator('[data-action="stop"]').click();
    await admin.locator("dialog").getByRole("button", { name: "Power off" }).click();
    await waitForState(admin, "stopped");
  }
  await admin.locator('[data-action="delete"]').click();
  await admin.locator("dialog").getByRole("button", { name: "Delete VM" }).click();
  await admin.locator(`tr[data-vm-row="${VM}"]`).waitFor({ state: "detached" });
  await viewer.locator(`tr[data-vm-row="${VM}"]`).waitFor({ state: "detached" });
});
