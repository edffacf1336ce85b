/**
 * The machine in a browser tab (issue 14) against the same guest in Node.
 *
 *   node --import tsx bench/tab.ts [--reps N] [--scale S]
 *
 * Serves the default guest from tests/browser/tab-server.ts (loopback HTTP
 * with Range) to Debian's Chromium (headless, playwright-core) and measures:
 *  - cold: TabVm.boot() to the guest's ready marker and to its first shell
 *    prompt (kernel and initrd fetched, data disk by Range, one NIC over a
 *    WebSocket), N boots;
 *  - snapshot: TabVm.restore() of a snapshot taken at the shell, served by
 *    Range, to the shell answering `echo` — the guest's first interactive
 *    reply — with the RAM pages fetched on demand and streamed by then, N times;
 *  - speed: in-guest workloads timed by busybox `time -p` (as
 *    bench/guest-workloads.ts; --scale S, default 0.1, multiplies sizes) in
 *    the tab and in `typevisor run` (a Node worker thread), same kernel,
 *    initrd and -m 128M, medians of N runs, ratio tab / Node.
 */
import { parseArgs } from "node:util";
import { launchChromium } from "../tests/web/chromium.ts";
import { GuestConsole, QUIET_CONSOLE, typevisorCommand } from "../tests/support/guest-console.ts";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../src/guest/default-guest.ts";
import { TabServer } from "../tests/browser/tab-server.ts";
import { PROMPT, TabDriver } from "../tests/browser/tab-driver.ts";
import type { Tabs } from "../tests/browser/tab-page.ts";
import type { TabBootSource } from "../src/browser/tab-vm.ts";
import { median, printTable } from "./stats.ts";

declare const tabs: Tabs;

const MEMORY_MIB = 128;
const HANG_GUARD_MS = 60 * 60 * 1000;

function workloads(scale: number): { name: string; command: string }[] {
  const n = (full: number) => Math.max(1, Math.round(full * scale));
  return [
    { name: "sha256", command: `dd if=/dev/zero bs=1M count=${n(64)} 2>/dev/null | sha256sum` },
    { name: "loop", command: `i=0; while [ $i -lt ${n(200000)} ]; do i=$((i+1)); done; echo $i` },
  ];
}

function realSeconds(out: string, what: string): number {
  const real = /^real (\d+(?:\.\d+)?)$/m.exec(out);
  if (!real) throw new Error(`no "real" line from time -p for ${what}:\n${out}`);
  return Number(real[1]);
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: "string", default: "3" }, scale: { type: "string", default: "0.1" } } });
  const reps = Number(values.reps);
  const scale = Number(values.scale);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`);
  if (!(scale > 0)) throw new Error(`--scale ${values.scale}: expected a number > 0`);
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const list = workloads(scale);
  console.log(`tab vs Node, ${reps} reps, workload scale ${scale}, -m ${MEMORY_MIB}M, ${new Date().toISOString()}`);

  const server = new TabServer(guest);
  await server.start();
  const browser = await launchChromium();
  const rows: string[][] = [["measure", "tab", "node", "tab / node"]];
  const tabSpeed = new Map<string, number[]>();
  /** Host wall time of each workload command (typed to answered): a check on the guest clock. */
  const tabHost = new Map<string, number[]>();
  const cold: { marker: number[]; prompt: number[] } = { marker: [], prompt: [] };
  const restore: { ms: number[]; demand: number[]; streamed: number[] } = { ms: [], demand: [], streamed: [] };
  try {
    const page = await browser.newPage();
    await page.goto(server.origin);
    await page.waitForFunction(() => typeof (window as unknown as { tabs?: unknown }).tabs === "object");
    const driver = new TabDriver(page);
    const src = (i: number): TabBootSource => ({
      memoryMiB: MEMORY_MIB, cpus: 1, kernelUrl: "/guest/kernel", initrdUrl: "/guest/initrd", append: manifest.append,
      drives: [{ url: "/guest/disk", sizeBytes: manifest.files["data.ext4"].bytes, readonly: false, overlayKey: `bench-${i}` }],
      nics: [{ mac: "52:54:00:12:34:99", url: `${server.origin.replace("http", "ws")}/nic` }],
      request: { headers: {} },
    });
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const vm = await page.evaluate((s) => tabs.boot(s), src(i));
      await driver.waitFor(vm, new RegExp(manifest.readyMarker));
      cold.marker.push(performance.now() - t0);
      await driver.waitFor(vm, PROMPT);
      cold.prompt.push(performance.now() - t0);
      console.log(`  tab cold boot ${i + 1}/${reps}: marker ${(cold.marker[i] / 1000).toFixed(2)} s, prompt ${(cold.prompt[i] / 1000).toFixed(2)} s`);
      await driver.run(vm, QUIET_CONSOLE);
      if (i === 0) {
        for (const w of list) {
          const samples: number[] = [];
          const host: number[] = [];
          for (let r = 0; r < reps; r++) {
            const t = performance.now();
            const { output } = await driver.run(vm, `time -p sh -c ${quote(w.command)}`);
            host.push((performance.now() - t) / 1000);
            samples.push(realSeconds(output, w.name));
            console.log(`  tab ${w.name} ${r + 1}/${reps}: ${samples[r].toFixed(2)} s (host ${host[r].toFixed(2)} s)`);
          }
          tabSpeed.set(w.name, samples);
          tabHost.set(w.name, host);
        }
        await page.evaluate((n) => tabs.pause(n), vm);
        const snap = await page.evaluate((n) => tabs.snapshot(n, "bench"), vm);
        console.log(`  snapshot: ${(snap.bytes / 2 ** 20).toFixed(1)} MiB`);
        for (let r = 0; r < reps; r++) {
          const t1 = performance.now();
          const back = await page.evaluate(
            (s) => tabs.restore(s),
            { snapshotUrl: "/snapshots/bench", snapshotSizeBytes: snap.bytes, snapshotId: snap.id, drives: src(0).drives, nics: src(0).nics, request: { headers: {} } },
          );
          await driver.run(back, "echo ok");
          restore.ms.push(performance.now() - t1);
          const stats = await page.evaluate((n) => tabs.stats(n), back);
          restore.demand.push(stats.demandPages);
          restore.streamed.push(stats.streamedPages);
          console.log(`  tab restore ${r + 1}/${reps}: ${(restore.ms[r] / 1000).toFixed(2)} s, ${stats.demandPages} pages on demand, ${stats.streamedPages} streamed, of ${Math.round(snap.bytes / 4096)} stored`);
          await page.evaluate((n) => tabs.stop(n), back);
        }
      }
      await page.evaluate((n) => tabs.stop(n), vm);
    }
  } finally {
    await browser.close();
    await server.stop();
  }

  // The same guest in Node: typevisor run (a worker thread), same memory, the data disk read-only.
  const command = typevisorCommand({ kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, memory: `${MEMORY_MIB}M`, drives: [{ file: guest.disk, readOnly: true }] });
  const node = new Map<string, number[]>();
  const nodeHost = new Map<string, number[]>();
  const nodeBoot: number[] = [];
  for (let i = 0; i < reps; i++) {
    const vm = GuestConsole.start(command, { label: "node", hangGuardMs: HANG_GUARD_MS });
    try {
      nodeBoot.push(await vm.waitForShell(manifest.readyMarker));
      console.log(`  node boot ${i + 1}/${reps}: marker ${(nodeBoot[i] / 1000).toFixed(2)} s (from process start)`);
      if (i === 0) {
        for (const w of list) {
          const samples: number[] = [];
          const host: number[] = [];
          for (let r = 0; r < reps; r++) {
            const result = await vm.run(`time -p sh -c ${quote(w.command)}`);
            if (result.status !== 0) throw new Error(`node: ${w.name} exited with status ${result.status}:\n${result.output}`);
            host.push(result.hostMs / 1000);
            samples.push(realSeconds(result.output, w.name));
            console.log(`  node ${w.name} ${r + 1}/${reps}: ${samples[r].toFixed(2)} s (host ${host[r].toFixed(2)} s)`);
          }
          node.set(w.name, samples);
          nodeHost.set(w.name, host);
        }
      }
    } finally {
      await vm.kill();
    }
  }

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  rows.push(["boot to ready marker", s(median(cold.marker)), s(median(nodeBoot)), (median(cold.marker) / median(nodeBoot)).toFixed(2)]);
  rows.push(["boot to shell prompt (tab)", s(median(cold.prompt)), "", ""]);
  rows.push(["restore to shell answer (tab)", s(median(restore.ms)), "", ""]);
  rows.push(["  pages on demand / streamed", `${median(restore.demand)} / ${median(restore.streamed)}`, "", ""]);
  for (const w of list) {
    const t = median(tabSpeed.get(w.name)!);
    const n = median(node.get(w.name)!);
    rows.push([`${w.name} (scale ${scale}), guest time`, `${t.toFixed(2)} s`, `${n.toFixed(2)} s`, (t / n).toFixed(2)]);
    const th = median(tabHost.get(w.name)!);
    const nh = median(nodeHost.get(w.name)!);
    rows.push([`${w.name} (scale ${scale}), host time`, `${th.toFixed(2)} s`, `${nh.toFixed(2)} s`, (th / nh).toFixed(2)]);
  }
  console.log("");
  printTable(rows);
}

await main();
