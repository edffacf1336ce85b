// A VM moved between the daemon and a browser tab, in a real browser
// (Debian's Chromium via playwright-core) against a real `typevisor serve`
// running the default guest: "Run in browser" moves the running VM into the
// page (a TabVm in a Web Worker, the same terminal), a command runs there,
// "Move to host" gives it back and the same shell session continues (a
// process started before the moves still runs, a file written in the tab is
// there, the NIC keeps its MAC and address and reaches the gateway from the
// tab through the daemon's NAT), and it moves into the page again. A second page sees where the VM
// runs, live. The /tab page boots the default guest in the tab by itself.
// Waits have a hang guard only (no speed is asserted).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./chromium.ts";
import { DaemonProcess } from "./daemon-process.ts";
import { QUIET_CONSOLE } from "../support/guest-console.ts";
import { HANG_GUARD_MS, PROMPT, run, signIn as signInAs, tearDown, waitForScreen, waitUnlessError } from "./console-page.ts";

const VM = "tabweb";
let dir: string;
let daemon: DaemonProcess;
let browser: Browser;
let page: Page;
let observer: Page;
let token: string;

const signIn = (p: Page) => signInAs(p, daemon.origin, token);

/** eth0's MAC and IPv4 address as the guest sees them, once a ping of the NAT's gateway came back. */
async function networkIdentity(p: Page, tag: string): Promise<string> {
  const marker = `net-${tag}`;
  const text = await run(
    p,
    `ping -c 1 -W 10 10.0.2.2 >/dev/null && echo ${marker}-$(cat /sys/class/net/eth0/address)-$(ip -4 -o addr show eth0 | awk '{print $4}')-ok`,
    new RegExp(`${marker}-[0-9a-f:]+-[0-9./]+-ok`),
  );
  const m = new RegExp(`${marker}-([0-9a-f:]+-[0-9./]+)-ok`).exec(text)!;
  return m[1];
}

async function location(): Promise<string> {
  return (await daemon.owner("GET", `/v1/vms/${VM}`)).body.location;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tv-webtab-"));
  daemon = await DaemonProcess.start(join(dir, "data"));
  token = await daemon.token("alice", "admin");
  assert.equal((await daemon.owner("POST", "/v1/vms", { name: VM, memoryMiB: 128, nics: [{ user: "" }] })).status, 201);
  assert.equal((await daemon.owner("POST", `/v1/vms/${VM}/actions/start`)).status, 200);
  browser = await launchChromium();
  const newPage = async () => (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } })).newPage();
  page = await newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && console.error(`page console: ${m.text()}`));
  observer = await newPage();
});

after(() => tearDown(daemon, browser, dir, VM));

test("Run in browser moves the VM into the page; Move to host brings it back with the same shell session; and into the page again", async () => {
  await signIn(page);
  await page.locator(`button[data-vm="${VM}"]`).click();
  await waitForScreen(page, PROMPT);
  await run(page, `${QUIET_CONSOLE}; echo quiet-$((6*7))`, /quiet-42/);
  const started = await run(page, "(while :; do sleep 1; done) & echo pid-$((1))-$!", /pid-1-\d+/);
  const pid = /pid-1-(\d+)/.exec(started)![1];
  const identity = await networkIdentity(page, "host");
  await signIn(observer);
  await observer.locator(`button[data-vm="${VM}"]`).click();

  await page.locator('[data-action="run-in-browser"]').click();
  await waitUnlessError(page, page.locator('[data-location="browser"]', { hasText: "this browser tab" }));
  assert.equal(await location(), "browser");
  await observer.locator('[data-location="browser"]', { hasText: "another page" }).waitFor({ timeout: HANG_GUARD_MS });
  assert.equal(await observer.locator('[data-action="start"]').count(), 0, "no host power actions while it runs in a tab");
  await run(page, "echo in-tab-$((3*4)) > /root/t; cat /root/t; uname -m", /in-tab-12\s*\n\s*riscv64/);
  assert.equal(await networkIdentity(page, "tab"), identity, "the same MAC and address in the tab, and the gateway answers");

  await page.locator('[data-action="move-to-host"]').click();
  await waitUnlessError(page, page.locator('[data-action="run-in-browser"]'));
  assert.equal(await location(), "host");
  await observer.locator('[data-location="browser"]').waitFor({ state: "detached", timeout: HANG_GUARD_MS });
  const after = await run(page, `kill -0 ${pid} && echo alive-$((5+5)); cat /root/t`, /alive-10\s*\n\s*in-tab-12/);
  assert.match(after, /alive-10/, "a process started before the moves still runs on the host");
  assert.equal(await networkIdentity(page, "back"), identity, "the same MAC and address back on the host, and the gateway answers");

  await page.locator('[data-action="run-in-browser"]').click();
  await waitUnlessError(page, page.locator('[data-location="browser"]', { hasText: "this browser tab" }));
  await run(page, `kill -0 ${pid} && echo again-$((7*7))`, /again-49/);
  await page.locator('[data-action="move-to-host"]').click();
  await waitUnlessError(page, page.locator('[data-action="run-in-browser"]'));
  assert.equal(await location(), "host");
});

test("the /tab page boots the default guest in the tab from the daemon's images", async () => {
  const tab = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await signIn(tab);
  await tab.goto(`${daemon.origin}/tab`);
  await tab.locator("[data-tab-status]", { hasText: "Running in this tab" }).waitFor({ timeout: HANG_GUARD_MS });
  await waitForScreen(tab, PROMPT);
  await run(tab, `${QUIET_CONSOLE}; uname -m; cat /data/hello.txt`, /riscv64\s*\n\s*hello from the Typevisor data disk/);
  await tab.close();
});
