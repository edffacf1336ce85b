/**
 * Snapshot figures for the default guest booted in this process (256 MiB,
 * built-in SBI, data disk, null NIC, rng), as tests/vmm/linux-guest.ts builds it.
 *
 *   node --expose-gc --import tsx bench/snapshot.ts [--reps N]
 *
 * Boots once, runs a shell command, pauses, then measures N times (default 5):
 * - save: a full snapshot (time, file size, pages stored vs RAM in use),
 *   and a diff against it after one more shell command;
 * - restore-to-running: building a machine with boot: false (devices, a
 *   fresh 256 MiB memory), then the restoreSnapshot call on it (wall and
 *   CPU time), then until the guest echoes a key typed
 *   at its shell (an interrupt, the kernel's tty layer and the shell all
 *   ran), and until it answers `echo hi`;
 * - fork: captureImage (time, image size), and restoreImage to the echo;
 * - pages a restored guest reads by then.
 * With --expose-gc, garbage from the previous round (whole machines) is
 * collected before each timed step, so its collection is not charged to the
 * next restore. Prints medians (min–max).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { VirtMachine } from "../src/machine/virt-machine.ts";
import { PAGE_USED } from "../src/machine/ram-pages.ts";
import { captureImage, imagePageCount, restoreImage, restoreSnapshot, saveSnapshot } from "../src/vmm/snapshot.ts";
import { isZeroPage } from "../src/vmm/zero-page.ts";
import { guestFiles, LinuxGuest } from "../tests/vmm/linux-guest.ts";
import { median, printTable } from "./stats.ts";

const MiB = 1 << 20;

const collect = () => (globalThis as { gc?: () => void }).gc?.();

/** Types a key at the restored guest's shell; resolves with performance.now() once the guest echoes it. */
async function keyEchoed(guest: LinuxGuest): Promise<number> {
  const from = guest.out.length;
  guest.type("x");
  await guest.waitFor("x", from);
  const t = performance.now();
  guest.type("\b");
  return t;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

function ramInUse(machine: VirtMachine): number {
  const { flags, count } = machine.bus.pages;
  let n = 0;
  for (let p = 0; p < count; p++) if ((flags[p] & PAGE_USED) !== 0 && !isZeroPage(machine.bus.ram, p)) n++;
  return n;
}

const fmt = (xs: number[], digits = 1) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: "string", default: "5" } } });
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`);
  const dir = mkdtempSync(join(tmpdir(), "tv-bench-snap-"));
  try {
    const files = await guestFiles(dir);
    const source = new LinuxGuest(files).start();
    await source.booted(files.readyMarker);
    await source.run("ls /data > /dev/null; uname -a");
    const warmEcho: number[] = [], warmEchoCpu: number[] = [];
    for (let i = 0; i < reps; i++) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      warmEcho.push((await keyEchoed(source)) - w0);
      warmEchoCpu.push(cpuMs(c0));
    }
    await source.machine.pause();
    const inUse = ramInUse(source.machine);
    const file = join(dir, "guest.tvsnap");
    const diffFile = join(dir, "guest-diff.tvsnap");

    const build: number[] = [], buildCpu: number[] = [];
    const save: number[] = [], diffSave: number[] = [], restore: number[] = [], restoreCpu: number[] = [];
    const toEcho: number[] = [], toEchoCpu: number[] = [], forkToEchoCpu: number[] = [], toShell: number[] = [], pagesRead: number[] = [], capture: number[] = [];
    const forkRestore: number[] = [], forkToEcho: number[] = [];
    let size = 0, stored = 0, diffSize = 0, diffStored = 0, imageBytes = 0;
    for (let i = 0; i < reps; i++) {
      const info = saveSnapshot(source.machine, file, { config: null });
      save.push(info.ms);
      size = info.bytes;
      stored = info.ramPages;

      collect();
      const b0 = process.cpuUsage();
      const built = performance.now();
      const guest = new LinuxGuest(files, { boot: false });
      build.push(performance.now() - built);
      buildCpu.push(cpuMs(b0));
      collect();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      restoreSnapshot(file, guest.machine);
      restore.push(performance.now() - t0);
      restoreCpu.push(cpuMs(c0));
      guest.start();
      toEcho.push((await keyEchoed(guest)) - t0);
      toEchoCpu.push(cpuMs(c0));
      await guest.run("echo hi");
      toShell.push(performance.now() - t0);
      pagesRead.push(guest.machine.bus.pages.loaded);

      await guest.run("ls /data > /dev/null; uname -a");
      await guest.machine.pause();
      const diff = saveSnapshot(guest.machine, diffFile, { config: null, parent: file });
      diffSave.push(diff.ms);
      diffSize = diff.bytes;
      diffStored = diff.ramPages;
      await guest.stop();

      collect();
      const i0 = performance.now();
      const image = captureImage(source.machine, null);
      capture.push(performance.now() - i0);
      imageBytes = imagePageCount(image) * 4096;
      const copy = new LinuxGuest(files, { boot: false });
      collect();
      const fc0 = process.cpuUsage();
      const f0 = performance.now();
      restoreImage(image, copy.machine);
      forkRestore.push(performance.now() - f0);
      copy.start();
      forkToEcho.push((await keyEchoed(copy)) - f0);
      forkToEchoCpu.push(cpuMs(fc0));
      await copy.stop();
    }
    source.machine.resume();
    await source.stop();

    if (!("gc" in globalThis)) console.log("(no --expose-gc: collections of earlier rounds may land in the timings)");
    console.log(`snapshot figures, default guest booted in-process, 256 MiB RAM, ${reps} runs (median, min–max)`);
    console.log(`RAM in use (non-zero pages): ${inUse} pages = ${((inUse * 4096) / MiB).toFixed(1)} MiB of 256 MiB`);
    printTable([
      ["measure", "value"],
      ["save full snapshot, ms", fmt(save)],
      ["full snapshot size, MiB", `${(size / MiB).toFixed(1)} (${stored} pages stored)`],
      ["save diff (after one command), ms", fmt(diffSave)],
      ["diff size, MiB", `${(diffSize / MiB).toFixed(2)} (${diffStored} pages stored)`],
      ["building the machine to restore into (boot: false), ms", fmt(build, 1)],
      ["building the machine to restore into (boot: false), CPU ms", fmt(buildCpu, 1)],
      ["restoreSnapshot call, ms", fmt(restore, 2)],
      ["restoreSnapshot call, CPU ms", fmt(restoreCpu, 2)],
      ["restore to the shell echoing a key, ms", fmt(toEcho, 2)],
      ["restore to the shell echoing a key, CPU ms", fmt(toEchoCpu, 2)],
      ["restore to the shell answering `echo hi`, ms", fmt(toShell)],
      ["(a running guest echoing a key, ms)", fmt(warmEcho, 2)],
      ["(a running guest echoing a key, CPU ms)", fmt(warmEchoCpu, 2)],
      ["pages read from the file by then", fmt(pagesRead, 0)],
      ["captureImage, ms", fmt(capture)],
      ["fork image size, MiB", (imageBytes / MiB).toFixed(1)],
      ["restoreImage call, ms", fmt(forkRestore, 2)],
      ["restoreImage to the shell echoing a key, ms", fmt(forkToEcho, 2)],
      ["restoreImage to the shell echoing a key, CPU ms", fmt(forkToEchoCpu, 2)],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
