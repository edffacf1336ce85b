/**
 * The VMM's figures (issue 9), measured on the library as it ships (dist/,
 * built first unless --no-build; the bundled worker, not tsx):
 *
 *   node --import tsx bench/vmm.ts [--reps N] [--idle-vms N] [--no-build] [--idle-only] [--young-mb N]
 *
 * 1. A booted 256 MiB default guest: boot, save (size, time), then N times
 *    restore-to-running (from the Vm.restore call until it resolves with a
 *    running VM, and until its harts have retired instructions past the
 *    snapshot's count) and fork (vm.fork of the running guest, and of the
 *    paused guest whose image exists already), each also until the guest's
 *    shell answers a command; cold (a worker thread started on demand) and
 *    with Vm.prewarm(1).
 * 2. Host memory per VM beyond the guest RAM it touched: RSS growth over
 *    the idle VMs below, per VM, minus each one's touched guest RAM.
 * 3. N idle booted 64 MiB VMs in this process (forks of one booted guest,
 *    default 50): host CPU over 10 s (% of one core) and RSS.
 * Prints every figure; docs/benchmarks.md records them.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { median, printTable } from "./stats.ts";

type Library = typeof import("../src/index.ts");
type Vm = import("../src/index.ts").Vm;

const { values } = parseArgs({
  options: {
    reps: { type: "string", default: "10" },
    "idle-vms": { type: "string", default: "50" },
    "no-build": { type: "boolean", default: false },
    /** Only the idle-VM figures (skips part 1). */
    "idle-only": { type: "boolean", default: false },
    /** The workers' maxYoungGenerationSizeMb (default: the library's). */
    "young-mb": { type: "string" },
  },
});
const reps = Number(values.reps);
const idleCount = Number(values["idle-vms"]);
const root = join(import.meta.dirname, "..");
if (!values["no-build"]) execFileSync(process.execPath, [join(root, "scripts", "build-dist.mjs")], { stdio: "inherit" });
const lib = (await import(pathToFileURL(join(root, "dist", "index.js")).href)) as Library;
const { Vm, GuestShell, defaultGuestConfig, DEFAULT_GUEST_READY_MARKER } = lib;
const MiB = 2 ** 20;
const tmp = mkdtempSync(join(tmpdir(), "typevisor-bench-vmm-"));
const ms = (x: number) => `${x.toFixed(1)} ms`;

const resourceLimits =
  values["young-mb"] === undefined ? undefined : { ...lib.DEFAULT_RESOURCE_LIMITS, maxYoungGenerationSizeMb: Number(values["young-mb"]) };

async function bootDefault(memory: number): Promise<{ vm: Vm; bootMs: number }> {
  const started = performance.now();
  const vm = await Vm.create(await defaultGuestConfig({ memory, quiet: true }), { resourceLimits });
  const shell = new GuestShell(vm);
  await vm.start();
  await shell.ready(DEFAULT_GUEST_READY_MARKER);
  await shell.run("true");
  return { vm, bootMs: performance.now() - started };
}

/**
 * Time until `make` resolves with a running VM, until its harts have retired
 * instructions past `instret` (asked of the worker, so one slice at most
 * later), and until its shell answers.
 */
async function timeToRunning(make: () => Promise<Vm>, instret: number): Promise<{ running: number; executing: number; answering: number; vm: Vm }> {
  const t0 = performance.now();
  const vm = await make();
  const running = performance.now() - t0;
  while ((await vm.stats()).instret <= instret);
  const executing = performance.now() - t0;
  await new GuestShell(vm).run("true");
  return { running, executing, answering: performance.now() - t0, vm };
}

try {
  // ---- 1. restore and fork of a booted 256 MiB guest -------------------------
  if (!values["idle-only"]) await restoreAndFork();

  // ---- 2 + 3. idle VMs: CPU, RSS, memory per VM ------------------------------
  if (idleCount > 0) await idleVms();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

async function restoreAndFork(): Promise<void> {
  const { vm: big, bootMs } = await bootDefault(256 * MiB);
  const file = join(tmp, "booted-256M.snap");
  await big.pause();
  const saved = await big.save(file);
  const used = await big.stats(); // paused: its instret is the snapshot's
  await big.resume();
  console.log(
    `booted 256 MiB guest in ${(bootMs / 1000).toFixed(1)} s; guest RAM used ${(used.ramUsedBytes / MiB).toFixed(1)} MiB; ` +
      `snapshot ${(saved.bytes / MiB).toFixed(1)} MiB (${saved.ramPages} pages) saved in ${ms(saved.ms)}`,
  );
  type Sample = { running: number; executing: number; answering: number };
  const samples: Record<string, Sample[]> = {};
  const sample = async (name: string, make: () => Promise<Vm>, instret: number) => {
    const r = await timeToRunning(make, instret);
    (samples[name] ??= []).push(r);
    await r.vm.stop();
  };
  for (const warm of [false, true]) {
    Vm.prewarm(warm ? 1 : 0);
    const how = warm ? "prewarmed" : "cold";
    for (let i = 0; i < reps; i++) {
      if (warm) await sleep(2500); // the spare taken by the last sample is replaced
      await sample(`restore, ${how}`, () => Vm.restore(file), used.instret);
      if (warm) await sleep(2500);
      await sample(`fork of the running guest, ${how}`, () => big.fork(), 0);
    }
    // Forks of a paused guest share one image: the first captures it, the rest only restore it.
    await big.pause();
    const pausedAt = (await big.stats()).instret;
    for (let i = 0; i < reps; i++) {
      if (warm) await sleep(2500);
      await sample(`fork of the paused guest, ${how}`, () => big.fork(), pausedAt);
    }
    await big.resume();
  }
  Vm.prewarm(0);
  await big.stop();
  const row = (name: string, goal: string) => {
    const xs = samples[name];
    const col = (f: (x: Sample) => number) => ms(median(xs.map(f)));
    return [name, col((x) => x.running), ms(Math.min(...xs.map((x) => x.running))), col((x) => x.executing), col((x) => x.answering), goal];
  };
  printTable([
    ["booted 256 MiB guest", "to running (median)", "(best)", "to instret advancing", "to shell answering", "goal (to running)"],
    row("restore, cold", "10 ms"),
    row("restore, prewarmed", "10 ms"),
    row("fork of the running guest, cold", "5 ms"),
    row("fork of the running guest, prewarmed", "5 ms"),
    row("fork of the paused guest, cold", "5 ms"),
    row("fork of the paused guest, prewarmed", "5 ms"),
  ]);

}

async function idleVms(): Promise<void> {
  const { vm: small } = await bootDefault(64 * MiB);
  await small.pause(); // every fork shares one image of the paused guest
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const copies: Vm[] = [];
  const forkStarted = performance.now();
  for (let i = 0; i < idleCount; i++) copies.push(await small.fork());
  const forkAllMs = performance.now() - forkStarted;
  await Promise.all(copies.map((vm) => new GuestShell(vm).run("true")));
  await sleep(5000); // let them settle into idle
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(10_000);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  const rss = process.memoryUsage().rss;
  const stats = await Promise.all(copies.map((vm) => vm.stats()));
  const touched = stats.reduce((sum, s) => sum + s.ramUsedBytes, 0) / idleCount;
  const heap = stats.reduce((sum, s) => sum + s.heapUsedBytes, 0) / idleCount;
  const perVm = (rss - rssBefore) / idleCount;
  printTable([
    [`${idleCount} idle booted 64 MiB VMs (forks)`, "value", "goal"],
    ["forked all (sequentially)", `${(forkAllMs / 1000).toFixed(2)} s`, ""],
    ["host CPU, all VMs, % of one core", `${cpuPercent.toFixed(2)} %`, "< 5 %"],
    ["process RSS", `${(rss / MiB).toFixed(0)} MiB`, ""],
    ["RSS growth per VM", `${(perVm / MiB).toFixed(1)} MiB`, ""],
    ["guest RAM touched per VM", `${(touched / MiB).toFixed(1)} MiB`, ""],
    ["host memory per VM beyond guest RAM touched", `${((perVm - touched) / MiB).toFixed(1)} MiB`, "16 MiB"],
    ["worker JS heap in use per VM", `${(heap / MiB).toFixed(1)} MiB`, ""],
  ]);
  await Promise.all([...copies, small].map((vm) => vm.stop()));
}
