/**
 * This checkout's Typevisor against another checkout's on the bare-metal
 * workloads, by CPU time (user + system of the whole `typevisor run`), for
 * a shared machine where wall times swing with other people's load.
 *
 *   node --import tsx bench/baremetal-ab.ts OTHER_CHECKOUT [workload...]
 *
 * OTHER_CHECKOUT is a tree with its own bin/typevisor, e.g.
 * `git worktree add --detach /tmp/before <commit>` plus a `node_modules`
 * link. The two run alternately (order flipped every repetition),
 * BENCH_REPS times each (default 5); prints the medians and this/other.
 * Needs /usr/bin/time (Debian package `time`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildElf } from "../tests/support/toolchain.ts";
import { median, printTable } from "./stats.ts";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "baremetal");
const REPS = Number(process.env.BENCH_REPS ?? 5);
const TIME = "/usr/bin/time";

/** CPU milliseconds of one run; throws unless the guest passed. */
function cpuMs(bin: string, elf: string): number {
  const r = spawnSync(TIME, ["-f", "cpu %U %S", process.execPath, bin, "run", "--bios", "none", "--kernel", elf], { encoding: "utf8" });
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${bin} ${elf}: exit ${r.status}\n${r.stderr}`);
  return (Number(m[1]) + Number(m[2])) * 1000;
}

async function main(): Promise<void> {
  const [other, ...chosen] = process.argv.slice(2);
  if (!other) throw new Error("usage: bench/baremetal-ab.ts OTHER_CHECKOUT [workload...]");
  if (!existsSync(TIME)) throw new Error(`${TIME} not found: install the Debian package time`);
  const bins = { this: resolve(dirname(fileURLToPath(import.meta.url)), "../bin/typevisor"), other: resolve(other, "bin/typevisor") };
  if (!existsSync(bins.other)) throw new Error(`${bins.other} not found: OTHER_CHECKOUT must be a Typevisor tree`);
  const available = readdirSync(DIR).filter((f) => f.endsWith(".c") && f !== "empty.c").map((f) => f.slice(0, -2)).sort();
  const workloads = chosen.length > 0 ? chosen : available;
  console.log(`CPU time of typevisor run, ${REPS} runs each, alternating; other = ${other}`);
  const rows = [["workload", "this ms", "other ms", "this/other", "this runs", "other runs"]];
  for (const w of workloads) {
    const elf = await buildElf({ sources: [join(DIR, "crt0.S"), join(DIR, `${w}.c`)], includeDirs: [DIR], flags: ["-O2"] });
    const t = { this: [] as number[], other: [] as number[] };
    for (let i = 0; i < REPS; i++) {
      for (const k of i % 2 === 0 ? (["this", "other"] as const) : (["other", "this"] as const)) t[k].push(cpuMs(bins[k], elf));
    }
    const [a, b] = [median(t.this), median(t.other)];
    rows.push([w, a.toFixed(0), b.toFixed(0), (a / b).toFixed(3), t.this.map((x) => x.toFixed(0)).join(" "), t.other.map((x) => x.toFixed(0)).join(" ")]);
  }
  printTable(rows);
}

await main();
