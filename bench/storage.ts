/**
 * `typevisor img convert` against `qemu-img convert` on the same 1 GiB
 * image: raw → qcow2, qcow2 → raw and qcow2 → compressed qcow2. The source
 * holds 512 MiB of random data in 1 MiB extents, every other MiB (the rest
 * zero); it is built once in a scratch directory. Prints wall times (median
 * of BENCH_REPS, default 3, page cache warm) of the `typevisor img convert`
 * command (including its start-up, printed separately) and of the same
 * conversion in this process (convertImage), and typevisor / qemu-img ratios.
 *
 *   node --import tsx bench/storage.ts
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { convertImage } from "../src/backends/block/tools/convert.ts";
import { median, printTable } from "./stats.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const reps = Number(process.env.BENCH_REPS ?? 3);
const typevisor = path.resolve(import.meta.dirname, "../bin/typevisor");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-bench-storage-"));

function time(cmd: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status})`);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function same(a: string, b: string): void {
  const r = spawnSync("qemu-img", ["compare", "-q", a, b]);
  if (r.status !== 0) throw new Error(`${a} and ${b} differ`);
}

try {
  const raw = path.join(dir, "src.raw");
  const fd = fs.openSync(raw, "w");
  const chunk = new Uint8Array(MiB);
  for (let at = 0; at < GiB; at += 2 * MiB) {
    crypto.randomFillSync(chunk);
    fs.writeSync(fd, chunk, 0, MiB, at);
  }
  fs.ftruncateSync(fd, GiB);
  fs.closeSync(fd);
  const qcow2 = path.join(dir, "src.qcow2");
  time("qemu-img", ["convert", "-O", "qcow2", raw, qcow2]);
  // Warm both tools (esbuild bundle cache, page cache) once.
  time(typevisor, ["img", "info", qcow2]);

  const cases: Array<[string, string, string[]]> = [
    ["raw → qcow2", raw, ["-O", "qcow2"]],
    ["qcow2 → raw", qcow2, ["-O", "raw"]],
    ["qcow2 → qcow2 -c", qcow2, ["-c", "-O", "qcow2"]],
  ];
  const rows = [["convert (1 GiB, 512 MiB data)", "qemu-img s", "typevisor s", "ratio", "in-process s", "ratio"]];
  for (const [name, src, opts] of cases) {
    const ours: number[] = [];
    const theirs: number[] = [];
    const inProcess: number[] = [];
    for (let i = 0; i < reps; i++) {
      const a = path.join(dir, "ours.out");
      const b = path.join(dir, "theirs.out");
      fs.rmSync(a, { force: true });
      fs.rmSync(b, { force: true });
      theirs.push(time("qemu-img", ["convert", "-f", src.endsWith(".raw") ? "raw" : "qcow2", ...opts, src, b]));
      ours.push(time(typevisor, ["img", "convert", "-f", src.endsWith(".raw") ? "raw" : "qcow2", ...opts, src, a]));
      if (i === 0) same(a, b);
      fs.rmSync(a, { force: true });
      const start = performance.now();
      await convertImage(src, a, {
        sourceFormat: src.endsWith(".raw") ? "raw" : "qcow2",
        outputFormat: opts.includes("raw") ? "raw" : "qcow2",
        compress: opts.includes("-c"),
      });
      inProcess.push((performance.now() - start) / 1000);
    }
    const q = median(theirs);
    const t = median(ours);
    const p = median(inProcess);
    rows.push([name, q.toFixed(2), t.toFixed(2), (t / q).toFixed(2), p.toFixed(2), (p / q).toFixed(2)]);
  }
  printTable(rows);
  const startup = median(Array.from({ length: reps }, () => time(typevisor, ["img", "info", qcow2])));
  console.log(`(typevisor times include its start-up: \`typevisor img info\` on the same image takes ${startup.toFixed(2)} s)`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
