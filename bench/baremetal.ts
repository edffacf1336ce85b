/**
 * Bare-metal workloads timed on QEMU 7.2 and on Typevisor in the same run.
 *
 *   node --import tsx bench/baremetal.ts [workload...]
 *
 * Each workload (bench/baremetal/*.c) is compiled now (cached in a temp
 * directory), then run BENCH_REPS times (default 5) on each target,
 * alternating targets. Prints the median wall time per target and the ratio
 * Typevisor / QEMU. Times include process start-up; the `empty` program
 * measures that start-up, which is printed separately (and subtracted in the
 * "net" columns). Both targets must print the same result line.
 * Typevisor runs twice per rep: interpreting (--jit off) and with the JIT
 * (--jit on, docs/jit.md); BENCH_JIT=off leaves the JIT column out.
 * BENCH_CLOCK=cpu times each process's user + system CPU time instead of
 * wall time (/usr/bin/time, Debian package `time`): on a shared machine
 * whose load swings, wall times of sub-second QEMU runs mean little.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { commandFor, describeRun, runElf, type RunOptions, type RunResult, type Target } from "../tests/support/run.ts";
import { buildElf } from "../tests/support/toolchain.ts";
import { median } from "./stats.ts";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "baremetal");
const REPS = Number(process.env.BENCH_REPS ?? 5);
const CPU_CLOCK = process.env.BENCH_CLOCK === "cpu";
const TIME = "/usr/bin/time";
type Column = "qemu" | "typevisor" | "jit";
const COLUMNS: Column[] = process.env.BENCH_JIT === "off" ? ["qemu", "typevisor"] : ["qemu", "typevisor", "jit"];
const RUNS: Record<Column, [Target, RunOptions]> = {
  qemu: ["qemu", {}],
  typevisor: ["typevisor", { jit: "off" }],
  jit: ["typevisor", { jit: "on" }],
};

async function build(name: string): Promise<string> {
  return buildElf({
    sources: [join(DIR, "crt0.S"), join(DIR, `${name}.c`)],
    includeDirs: [DIR],
    flags: ["-O2"],
  });
}

/** Runs `elf` REPS times per column; returns median ms per column. */
async function time(name: string, elf: string): Promise<Record<Column, number>> {
  const samples: Record<Column, number[]> = { qemu: [], typevisor: [], jit: [] };
  const results: Partial<Record<Column, string>> = {};
  for (let i = 0; i < REPS; i++) {
    for (const column of COLUMNS) {
      const [target, opts] = RUNS[column];
      const r = CPU_CLOCK ? runCpuTimed(target, elf, opts) : await runElf(target, elf, { ...opts, hangGuardMs: 30 * 60 * 1000 });
      const line = new RegExp(`^${name} [0-9a-f]{16}$`, "m").exec(r.stdout)?.[0];
      if (r.exitCode !== 0 || !line) throw new Error(`${name} failed on ${column}\n${describeRun(r)}`);
      if (results[column] !== undefined && results[column] !== line) throw new Error(`${name}: ${column} result changed between runs`);
      results[column] = line;
      samples[column].push(r.elapsedMs);
    }
  }
  for (const column of COLUMNS) {
    if (results[column] !== results.qemu) throw new Error(`${name}: results differ — qemu "${results.qemu}", ${column} "${results[column]}"`);
  }
  return { qemu: median(samples.qemu), typevisor: median(samples.typevisor), jit: COLUMNS.includes("jit") ? median(samples.jit) : NaN };
}

/** One run under /usr/bin/time: `elapsedMs` is the process's user + system CPU time. */
function runCpuTimed(target: Target, elf: string, opts: RunOptions): RunResult {
  const [cmd, args] = commandFor(target, elf, opts);
  const r = spawnSync(TIME, ["-f", "cpu %U %S", cmd, ...args], { encoding: "latin1", timeout: 30 * 60 * 1000 });
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return {
    target, exitCode: m ? r.status : null, signal: r.signal, stdout: r.stdout, stderr: r.stderr, hung: r.error !== undefined,
    elapsedMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN,
  };
}

async function main(): Promise<void> {
  if (CPU_CLOCK && !existsSync(TIME)) throw new Error(`${TIME} not found: install the Debian package time`);
  const available = readdirSync(DIR)
    .filter((f) => f.endsWith(".c") && f !== "empty.c")
    .map((f) => f.slice(0, -2))
    .sort();
  const chosen = process.argv.slice(2).length ? process.argv.slice(2) : available;
  for (const w of chosen) if (!available.includes(w)) throw new Error(`unknown workload ${w}; have ${available.join(", ")}`);

  console.log(`bare-metal benchmarks: ${REPS} runs per target, median ${CPU_CLOCK ? "CPU (user + system)" : "wall"} time`);
  const startup = await time("empty", await build("empty"));
  console.log(
    `start-up (empty program): qemu ${startup.qemu.toFixed(0)} ms, typevisor ${startup.typevisor.toFixed(0)} ms` +
      (COLUMNS.includes("jit") ? `, typevisor --jit on ${startup.jit.toFixed(0)} ms` : "") +
      " (included in the totals below; subtracted in the net columns)",
  );
  const head = ["workload", "qemu ms", "typevisor ms", "ratio", "net qemu", "net typevisor", "net ratio"];
  if (COLUMNS.includes("jit")) head.push("jit ms", "jit ratio", "net jit", "net jit ratio");
  const rows: string[][] = [head];
  for (const w of chosen) {
    const t = await time(w, await build(w));
    const netQ = Math.max(t.qemu - startup.qemu, 1);
    const netT = Math.max(t.typevisor - startup.typevisor, 1);
    const row = [
      w,
      t.qemu.toFixed(0),
      t.typevisor.toFixed(0),
      (t.typevisor / t.qemu).toFixed(2),
      netQ.toFixed(0),
      netT.toFixed(0),
      (netT / netQ).toFixed(2),
    ];
    if (COLUMNS.includes("jit")) {
      const netJ = Math.max(t.jit - startup.jit, 1);
      row.push(t.jit.toFixed(0), (t.jit / t.qemu).toFixed(2), netJ.toFixed(0), (netJ / netQ).toFixed(2));
    }
    rows.push(row);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
}

await main();
