// The machine in a browser tab (issue 14): Debian's Chromium (playwright-core)
// opens a page from this directory's own server (tab-server.ts) and drives
// TabVm: the default guest boots in a Web Worker to its shell and answers; its
// NIC is a WebSocket; a file written to /data survives pause, snapshot and a
// lazy restore into a fresh TabVm (few RAM pages fetched before the shell
// answers), its overlay blocks reach the server by syncDrives(), and the
// restored VM's snapshot is a diff the host reads; a malformed snapshot, a
// failing fetch and failing RAM pages are one clear error each, no hang.
// One boot is shared by the file's tests; waits have a hang guard only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../web/chromium.ts";
import { QUIET_CONSOLE } from "../support/guest-console.ts";
import { ensureDefaultGuest, readDefaultGuestManifest, type DefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { decodeHeader, FLAG_DIFF } from "../../src/vmm/snapshot-format.ts";
import { verifySnapshot } from "../../src/vmm/snapshot.ts";
import { NIC_REPLY, TabServer } from "./tab-server.ts";
import type { TabBootSource, TabRestoreSource } from "../../src/browser/tab-vm.ts";
import type { Tabs } from "./tab-page.ts";

const HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;
const MEMORY_MIB = 128;
const MAC = "52:54:00:12:34:77";
const FILE_TEXT = "written in a tab";

let server: TabServer;
let browser: Browser;
let page: Page;
let manifest: DefaultGuestManifest;
let booted = 0;
let restored = 0;
let marker = 0;

declare const tabs: Tabs;

function drives(): TabBootSource["drives"] {
  return [{ url: "/guest/disk", sizeBytes: manifest.files["data.ext4"].bytes, readonly: false, overlayKey: "test-data", syncUrl: "/guest/disk" }];
}

function nics(): TabBootSource["nics"] {
  return [{ mac: MAC, url: `${server.origin.replace("http", "ws")}/nic` }];
}

/** Waits until VM `id`'s console (from character `from`) matches `pattern`; returns the console. */
async function waitForConsole(id: number, pattern: RegExp, from = 0): Promise<string> {
  try {
    const handle = await page.waitForFunction(
      ([vm, source, flags, start]) => {
        const text = tabs.console(vm as number).slice(start as number);
        return new RegExp(source as string, flags as string).test(text) ? tabs.console(vm as number) : false;
      },
      [id, pattern.source, pattern.flags, from] as const,
      { timeout: HANG_GUARD_MS, polling: 100 },
    );
    return (await handle.jsonValue()) as string;
  } catch (e) {
    const state = await page.evaluate((vm) => tabs.state(vm), id).catch(() => null);
    const text = await page.evaluate((vm) => tabs.console(vm), id).catch(() => "(no console)");
    throw new Error(`VM ${id} never printed ${pattern} (state ${JSON.stringify(state)}); console:\n${text.slice(-3000)}`, { cause: e });
  }
}

/** Types `command` at VM `id`'s shell; its output and exit status (markers split as typed, as guest-console.ts does). */
async function run(id: number, command: string): Promise<{ output: string; status: number }> {
  const n = ++marker;
  const from = (await page.evaluate((vm) => tabs.console(vm), id)).length;
  await page.evaluate(([vm, text]) => tabs.type(vm as number, text as string), [id, `echo TV-B""EGIN-${n}; ${command}; echo TV-E""ND-${n} $?\n`] as const);
  const text = (await waitForConsole(id, new RegExp(`TV-END-${n} (\\d+)`), from)).slice(from);
  const m = new RegExp(`TV-BEGIN-${n}\\r?\\n([\\s\\S]*?)TV-END-${n} (\\d+)`).exec(text);
  assert.ok(m, `no bracketed output for ${command} in:\n${text}`);
  return { output: m[1].replace(/\r/g, ""), status: Number(m[2]) };
}

before(async () => {
  const guest = await ensureDefaultGuest({ quiet: true });
  manifest = readDefaultGuestManifest(guest.dir);
  server = new TabServer(guest);
  await server.start();
  browser = await launchChromium();
  page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(server.origin);
  await page.waitForFunction(() => typeof (window as unknown as { tabs?: unknown }).tabs === "object");
});

after(async () => {
  for (const id of [booted, restored]) if (id !== 0) await page?.evaluate((vm) => tabs.stop(vm), id).catch(() => {});
  await browser?.close();
  await server?.stop();
});

test("the default guest boots in a tab's worker to its shell and answers a command", async () => {
  const src: TabBootSource = {
    memoryMiB: MEMORY_MIB,
    cpus: 1,
    kernelUrl: "/guest/kernel",
    initrdUrl: "/guest/initrd",
    append: manifest.append,
    drives: drives(),
    nics: nics(),
    request: { headers: { "X-Test": "tab" } },
  };
  booted = await page.evaluate((s) => tabs.boot(s), src);
  await waitForConsole(booted, new RegExp(manifest.readyMarker));
  await waitForConsole(booted, /typevisor:[^\n]*# /);
  const quiet = await run(booted, QUIET_CONSOLE);
  assert.equal(quiet.status, 0);
  const uname = await run(booted, "uname -m; cat /data/hello.txt");
  assert.equal(uname.status, 0);
  assert.equal(uname.output, `riscv64\n${manifest.dataDiskFile.text}`);
});
