/**
 * The machine in a browser tab (issue 14) against the same guest in Node.
 *
 *   node --import tsx bench/tab.ts [--reps N] [--scale S]
 *
 * Serves the default guest from tests/browser/tab-server.ts (loopback HTTP
 * with Range) to Debian's Chromium (headless, playwright-core), and runs the
 * same kernel and initrd with -m 128M in `typevisor run` (a Node worker
 * thread). The two targets alternate sample by sample, so a change in the
 * host's load (a shared machine) hits both alike:
 *  - cold boot: TabVm.boot() (kernel and initrd fetched, data disk by Range,
 *    a NIC over a WebSocket) / spawning `typevisor run` (data disk
 *    read-only), to the guest's ready marker; N boots each;
 *  - restore: TabVm.restore() of a snapshot taken at the tab's shell, served
 *    by Range, to the shell answering `echo` (the first interactive reply),
 *    with the RAM pages fetched on demand and streamed by then; N times;
 *  - speed: in-guest workloads (as bench/guest-workloads.ts; --scale S,
 *    default 0.1, multiplies sizes) timed by busybox `time -p` in the guest
 *    and by the host from typing to the answer; medians of N, tab / Node.
 */
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { launchChromium } from "../tests/web/chromium.ts";
import { GuestConsole, QUIET_CONSOLE, typevisorCommand, type Command } from "../tests/support/guest-console.ts";
import { ensureDefaultGuest, readDefaultGuestManifest, type DefaultGuestManifest } from "../src/guest/default-guest.ts";
import { TabServer } from "../tests/browser/tab-server.ts";
import { TabDriver } from "../tests/browser/tab-driver.ts";
import type { Tabs } from "../tests/browser/tab-page.ts";
import type { TabBootSource } from "../src/browser/tab-vm.ts";
import { median, printTable } from "./stats.ts";
import { workloads, type Workload } from "./guest-workload-list.ts";

declare const tabs: Tabs;

const MEMORY_MIB = 128;
const HANG_GUARD_MS = 60 * 60 * 1000;

/** sha256 and the shell loop of bench/guest-workloads.ts (gzip adds time and tells nothing new here). */
const tabWorkloads = (scale: number) => workloads(scale).filter((w) => w.name !== "gzip");

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** A workload's time by the guest's clock and by the host's, seconds. */
interface Timed {
  guest: number;
  host: number;
}

function parseReal(out: string, what: string): number {
  const real = /^real (\d+(?:\.\d+)?)$/m.exec(out);
  if (!real) throw new Error(`no "real" line from time -p for ${what}:\n${out}`);
  return Number(real[1]);
}

/** One of the two places the guest runs. */
interface Target {
  name: string;
  /** Boots a guest; milliseconds to its ready marker. */
  boot(): Promise<number>;
  time(w: Workload): Promise<Timed>;
  stop(): Promise<void>;
}

class TabTarget implements Target {
  readonly name = "tab";
  vm = 0;
  private boots = 0;

  constructor(
    private readonly page: Page,
    private readonly driver: TabDriver,
    private readonly source: (key: string) => TabBootSource,
    private readonly marker: string,
  ) {}

  async boot(): Promise<number> {
    const t0 = performance.now();
    this.vm = await this.page.evaluate((s) => tabs.boot(s), this.source(`bench-${++this.boots}`));
    await this.driver.waitFor(this.vm, new RegExp(this.marker));
    const ms = performance.now() - t0;
    await this.driver.waitFor(this.vm, /typevisor:[^\n]*# /);
    await this.driver.run(this.vm, QUIET_CONSOLE);
    return ms;
  }

  async time(w: Workload): Promise<Timed> {
    const t = performance.now();
    const { output, status } = await this.driver.run(this.vm, `time -p sh -c ${quote(w.command)}`);
    if (status !== 0) throw new Error(`tab: ${w.name} exited with status ${status}:\n${output}`);
    return { guest: parseReal(output, w.name), host: (performance.now() - t) / 1000 };
  }

  async stop(): Promise<void> {
    if (this.vm !== 0) await this.page.evaluate((n) => tabs.stop(n), this.vm);
    this.vm = 0;
  }
}

class NodeTarget implements Target {
  readonly name = "node";
  private vm: GuestConsole | null = null;

  constructor(
    private readonly command: Command,
    private readonly marker: string,
  ) {}

  async boot(): Promise<number> {
    this.vm = GuestConsole.start(this.command, { label: "node", hangGuardMs: HANG_GUARD_MS });
    return this.vm.waitForShell(this.marker);
  }

  async time(w: Workload): Promise<Timed> {
    const r = await this.vm!.run(`time -p sh -c ${quote(w.command)}`);
    if (r.status !== 0) throw new Error(`node: ${w.name} exited with status ${r.status}:\n${r.output}`);
    return { guest: parseReal(r.output, w.name), host: r.hostMs / 1000 };
  }

  async stop(): Promise<void> {
    await this.vm?.kill();
    this.vm = null;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: "string", default: "3" }, scale: { type: "string", default: "0.1" } } });
  const reps = Number(values.reps);
  const scale = Number(values.scale);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`);
  if (!(scale > 0)) throw new Error(`--scale ${values.scale}: expected a number > 0`);
  const guest = await ensureDefaultGuest();
  const manifest: DefaultGuestManifest = readDefaultGuestManifest(guest.dir);
  const list = tabWorkloads(scale);
  console.log(`tab vs Node, ${reps} reps, workload scale ${scale}, -m ${MEMORY_MIB}M, ${new Date().toISOString()}`);

  const server = new TabServer(guest);
  await server.start();
  const browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(server.origin);
  await page.waitForFunction(() => typeof (window as unknown as { tabs?: unknown }).tabs === "object");
  const driver = new TabDriver(page);
  const source = (key: string): TabBootSource => ({
    memoryMiB: MEMORY_MIB, cpus: 1, kernelUrl: "/guest/kernel", initrdUrl: "/guest/initrd", append: manifest.append,
    drives: [{ url: "/guest/disk", sizeBytes: manifest.files["data.ext4"].bytes, readonly: false, overlayKey: key }],
    nics: [{ mac: "52:54:00:12:34:99", url: `${server.origin.replace("http", "ws")}/nic` }],
    request: { headers: {} },
  });
  const tab = new TabTarget(page, driver, source, manifest.readyMarker);
  const node = new NodeTarget(
    typevisorCommand({ kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, memory: `${MEMORY_MIB}M`, drives: [{ file: guest.disk, readOnly: true }] }),
    manifest.readyMarker,
  );
  const targets: Target[] = [tab, node];
  const boots = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const speed = new Map<string, Timed[]>();
  const restore = { ms: [] as number[], demand: [] as number[], streamed: [] as number[], stored: 0 };
  try {
    // Cold boots, alternating; the last boot of each stays up for the workloads.
    for (let i = 0; i < reps; i++) {
      for (const t of targets) {
        if (i > 0) await t.stop();
        const ms = await t.boot();
        boots.get(t.name)!.push(ms);
        console.log(`  ${t.name} boot ${i + 1}/${reps}: ready marker at ${(ms / 1000).toFixed(2)} s`);
      }
    }
    for (const w of list) {
      for (let r = 0; r < reps; r++) {
        for (const t of targets) {
          const s = await t.time(w);
          const key = `${t.name} ${w.name}`;
          speed.set(key, [...(speed.get(key) ?? []), s]);
          console.log(`  ${key} ${r + 1}/${reps}: ${s.guest.toFixed(2)} s guest, ${s.host.toFixed(2)} s host`);
        }
      }
    }
    await node.stop();
    // Restore: a snapshot of the tab's guest at its shell, into fresh TabVms.
    await page.evaluate((n) => tabs.pause(n), tab.vm);
    const snap = await page.evaluate((n) => tabs.snapshot(n, "bench"), tab.vm);
    restore.stored = Math.round(snap.bytes / 4096);
    const drives = source(`bench-${reps}`).drives;
    await tab.stop();
    for (let r = 0; r < reps; r++) {
      const t1 = performance.now();
      const back = await page.evaluate(
        (s) => tabs.restore(s),
        { snapshotUrl: "/snapshots/bench", snapshotSizeBytes: snap.bytes, snapshotId: snap.id, drives, nics: source("").nics, request: { headers: {} } },
      );
      await driver.run(back, "echo ok");
      restore.ms.push(performance.now() - t1);
      const stats = await page.evaluate((n) => tabs.stats(n), back);
      restore.demand.push(stats.demandPages);
      restore.streamed.push(stats.streamedPages);
      console.log(`  tab restore ${r + 1}/${reps}: ${(restore.ms[r] / 1000).toFixed(2)} s, ${stats.demandPages} pages on demand, ${stats.streamedPages} streamed, of ${restore.stored} stored (${stats.ramPages} in RAM)`);
      await page.evaluate((n) => tabs.stop(n), back);
    }
  } finally {
    await node.stop();
    await tab.stop().catch(() => {});
    await browser.close();
    await server.stop();
  }

  const sec = (x: number) => `${x.toFixed(2)} s`;
  const rows: string[][] = [["measure", "tab", "node", "tab / node"]];
  const tb = median(boots.get("tab")!) / 1000;
  const nb = median(boots.get("node")!) / 1000;
  rows.push(["cold boot to ready marker", sec(tb), sec(nb), (tb / nb).toFixed(2)]);
  rows.push(["snapshot restore to shell answer", sec(median(restore.ms) / 1000), "", ""]);
  rows.push([`  RAM pages on demand / streamed / stored`, `${median(restore.demand)} / ${median(restore.streamed)} / ${restore.stored}`, "", ""]);
  for (const w of list) {
    for (const clock of ["guest", "host"] as const) {
      const t = median(speed.get(`tab ${w.name}`)!.map((s) => s[clock]));
      const n = median(speed.get(`node ${w.name}`)!.map((s) => s[clock]));
      rows.push([`${w.name} (scale ${scale}), ${clock} clock`, sec(t), sec(n), (t / n).toFixed(2)]);
    }
  }
  console.log("");
  printTable(rows);
}

await main();
