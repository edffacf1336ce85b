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
import {
  decodeHeader, decodeSections, FLAG_DIFF, HEADER_SIZE, SECTION_META, SECTION_PAGES, sectionTableSize,
} from "../../src/vmm/snapshot-format.ts";
import { parseMeta } from "../../src/vmm/snapshot-parse.ts";
import { verifySnapshot } from "../../src/vmm/snapshot.ts";
import { NIC_REPLY, TabServer } from "./tab-server.ts";
import { HANG_GUARD_MS, PROMPT, TabDriver } from "./tab-driver.ts";
import type { TabBootSource, TabRestoreSource } from "../../src/browser/tab-vm.ts";
import type { Tabs } from "./tab-page.ts";

const MEMORY_MIB = 128;
const MAC = "52:54:00:12:34:77";
const FILE_TEXT = "written in a tab";

let server: TabServer;
let browser: Browser;
let page: Page;
let manifest: DefaultGuestManifest;
let booted = 0;
let restored = 0;
let driver: TabDriver;

declare const tabs: Tabs;

function drives(): TabBootSource["drives"] {
  return [{ url: "/guest/disk", sizeBytes: manifest.files["data.ext4"].bytes, readonly: false, overlayKey: "test-data", syncUrl: "/guest/disk" }];
}

function nics(): TabBootSource["nics"] {
  return [{ mac: MAC, url: `${server.origin.replace("http", "ws")}/nic` }];
}

function sectionsOf(file: Uint8Array) {
  const header = decodeHeader(file, "snapshot");
  return decodeSections(file.slice(HEADER_SIZE, HEADER_SIZE + sectionTableSize(header.sectionCount)), header.sectionCount, file.length, "snapshot");
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
  driver = new TabDriver(page);
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
  await driver.waitFor(booted, new RegExp(manifest.readyMarker));
  await driver.waitFor(booted, PROMPT);
  const quiet = await driver.run(booted, QUIET_CONSOLE);
  assert.equal(quiet.status, 0);
  const uname = await driver.run(booted, "uname -m; cat /data/hello.txt");
  assert.equal(uname.status, 0);
  assert.equal(uname.output, `riscv64\n${manifest.dataDiskFile.text}`);
});

test("the tab's NIC is a WebSocket: the guest's frames reach the server and the server's reach the guest", async () => {
  const mac = Uint8Array.from(MAC.split(":").map((h) => parseInt(h, 16)));
  // udhcpc at boot broadcasts from the NIC's MAC; each frame is answered with NIC_REPLY.
  assert.ok(server.counters.nicFrames.length > 0, "no frame from the guest reached the WebSocket");
  assert.ok(server.counters.nicFrames.some((f) => f.subarray(6, 12).every((b, i) => b === mac[i])), "no frame came from the NIC's MAC");
  const rx = await driver.run(booted, "cat /sys/class/net/eth0/statistics/rx_packets");
  assert.ok(Number(rx.output) > 0, `the guest received no frame (rx_packets ${rx.output}); the server sent ${NIC_REPLY.length}-byte replies`);
});

test("a file written to /data survives pause, snapshot and a lazy restore into a fresh TabVm", async (t) => {
  assert.equal((await driver.run(booted, `echo '${FILE_TEXT}' > /data/tab.txt && sync`)).status, 0);
  await page.evaluate((vm) => tabs.pause(vm), booted);
  assert.equal(await page.evaluate((vm) => tabs.state(vm).state, booted), "paused");
  const full = await page.evaluate((vm) => tabs.snapshot(vm, "full"), booted);
  await page.evaluate((vm) => tabs.stop(vm), booted);
  booted = 0;

  const src: TabRestoreSource = {
    snapshotUrl: "/snapshots/full",
    snapshotSizeBytes: full.bytes,
    snapshotId: full.id,
    drives: drives(),
    nics: nics(),
    request: { headers: {} },
  };
  restored = await page.evaluate((s) => tabs.restore(s), src);
  const answer = await driver.run(restored, "cat /data/tab.txt");
  const stats = await page.evaluate((vm) => tabs.stats(vm), restored);
  assert.equal(answer.output, `${FILE_TEXT}\n`);
  const stored = full.bytes / 4096;
  // Lazy: the pages the guest waited for (with their chunks) are a small part of RAM.
  assert.ok(stats.demandPages > 0, "no RAM page was fetched on demand");
  assert.ok(stats.demandPages < stats.ramPages / 8, `${stats.demandPages} pages fetched on demand of ${stats.ramPages} in RAM`);
  assert.equal(stats.diskError, null);
  const fetched = stats.demandPages + stats.streamedPages;
  assert.ok(fetched < stats.ramPages / 4, `${fetched} pages fetched (on demand and streamed) of ${stats.ramPages} in RAM`);
  t.diagnostic(`restore: ${stats.demandPages} pages on demand, ${stats.streamedPages} streamed, of ${stats.ramPages} RAM pages (${Math.round(stored)} stored)`);

  // Dropping the page cache makes the guest read the disk: the blocks come from the IndexedDB overlay.
  const reread = await driver.run(restored, "echo 3 > /proc/sys/vm/drop_caches; cat /data/tab.txt");
  assert.equal(reread.output, `${FILE_TEXT}\n`);
});

test("syncDrives() PUTs the written blocks to the drive's syncUrl, once", async () => {
  assert.ok(!server.disk().includes(FILE_TEXT), "the server's disk has the file before any sync");
  assert.equal((await driver.run(restored, "sync")).status, 0);
  await page.evaluate((vm) => tabs.pause(vm), restored);
  const first = await page.evaluate((vm) => tabs.syncDrives(vm), restored);
  assert.ok(first.bytes > 0 && first.bytes % 4096 === 0, `synced ${first.bytes} bytes`);
  assert.equal(server.counters.puts.reduce((sum, p) => sum + p.length, 0), first.bytes);
  assert.ok(server.disk().includes(FILE_TEXT), "the file's blocks did not reach the server's disk");
  const again = await page.evaluate((vm) => tabs.syncDrives(vm), restored);
  assert.equal(again.bytes, 0, "a second sync sent blocks again");
});

test("the restored VM's snapshot is a diff against the restored snapshot, and the host reads the chain", async () => {
  const diff = await page.evaluate((vm) => tabs.snapshot(vm, "diff"), restored);
  const parent = server.snapshots.get("full")!;
  const child = server.snapshots.get("diff")!;
  const header = decodeHeader(child, "diff");
  assert.equal(header.flags & FLAG_DIFF, FLAG_DIFF);
  assert.ok(diff.bytes < parent.length / 2, `the diff (${diff.bytes} bytes) is not much smaller than the full snapshot (${parent.length})`);
  const metaSection = sectionsOf(child).get(SECTION_META)!;
  const meta = parseMeta(child.subarray(metaSection.offset, metaSection.offset + metaSection.length), metaSection.crc, "diff", header);
  assert.deepEqual(meta.parent, { path: "lease", id: decodeHeader(parent, "full").id });
  // The host's reader follows the parent by name beside the diff and checks every page.
  const dir = await mkdtemp(join(tmpdir(), "tab-diff-"));
  try {
    await writeFile(join(dir, "lease"), parent);
    await writeFile(join(dir, "diff.snap"), child);
    verifySnapshot(join(dir, "diff.snap"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await page.evaluate((vm) => tabs.resume(vm), restored);
  assert.equal((await driver.run(restored, "cat /data/tab.txt")).output, `${FILE_TEXT}\n`);
});

test("a malformed snapshot, a failing fetch and failing RAM pages are one clear error each", async () => {
  server.snapshots.set("garbage", new Uint8Array(8192).fill(7));
  const restore = (url: string, bytes: number, id = "0".repeat(32)): TabRestoreSource =>
    ({ snapshotUrl: url, snapshotSizeBytes: bytes, snapshotId: id, drives: drives(), nics: [], request: { headers: {} } });
  assert.match(await page.evaluate((s) => tabs.failure("restore", s), restore("/snapshots/garbage", 8192)), /is not a Typevisor snapshot \(wrong magic\)/);
  assert.match(await page.evaluate((s) => tabs.failure("restore", s), restore("/snapshots/missing", 8192)), /cannot read snapshot .*HTTP 404/);
  const boot: TabBootSource = { memoryMiB: 64, cpus: 1, kernelUrl: "/guest/no-such-kernel", append: "", drives: [], nics: [], request: { headers: {} } };
  assert.match(await page.evaluate((s) => tabs.failure("boot", s), boot), /cannot fetch the kernel \/guest\/no-such-kernel: HTTP 404/);

  // Header, metadata and index load; every RAM page fails: the restore is refused (the devices' queues are
  // in RAM) or the VM crashes at its first touch, with the reason either way; nothing hangs.
  const full = server.snapshots.get("full")!;
  const id = decodeHeader(full, "full").id;
  const pagesAt = sectionsOf(full).get(SECTION_PAGES)!.offset;
  const src = { ...restore(`/snapshots/full?fail-from=${pagesAt}`, full.length, id), nics: nics() };
  const refused = await page.evaluate((s) => tabs.failure("restore", s), src);
  const pagesFailed = /cannot load RAM pages: GET \/snapshots\/full\S* bytes \d+-\d+: HTTP 500/;
  const started = /^no error \(VM (\d+)\)$/.exec(refused);
  if (started === null) {
    assert.match(refused, pagesFailed);
    return;
  }
  const vm = Number(started[1]);
  try {
    const crashed = await page.waitForFunction((n) => (tabs.state(n).state === "crashed" ? tabs.state(n).reason : false), vm, { timeout: HANG_GUARD_MS });
    assert.match(String(await crashed.jsonValue()), new RegExp(`guest RAM could not be loaded: ${pagesFailed.source}`));
  } finally {
    await page.evaluate((n) => tabs.stop(n), vm);
  }
});
