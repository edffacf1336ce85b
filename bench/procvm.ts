/**
 * The process VM benchmark, timed natively, under qemu-riscv64 and under
 * `typevisor exec` in the same run:
 *
 *   node --import tsx bench/procvm.ts
 *
 * 1. bench/procvm/bench.c (CRC32 over 64 MiB + a 256x256 integer matmul,
 *    about 1.2 G riscv64 instructions), built -O2 for the host and for
 *    riscv64 (static), compiled now into a temp directory.
 * 2. `busybox sha256sum` of a 64 MiB file: the default guest's static
 *    riscv64 busybox 1.35 (built first if the cache lacks it; or
 *    $TYPEVISOR_BUSYBOX), natively the host's Debian busybox 1.35.
 *
 * Each target runs BENCH_REPS times (default 1); the median wall time is
 * reported, with the ratios typevisor / native and typevisor / qemu, for
 * `typevisor exec --jit off` and `--jit on` (docs/jit.md; BENCH_JIT=off
 * leaves the second out). Every target must print the same result. Times
 * include process start-up.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { HOST_BUSYBOX, TYPEVISOR, requireTools, riscvBusybox } from "../tests/procvm/helpers.ts";

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), "procvm/bench.c");
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 1));
const WORK = path.join(os.tmpdir(), "typevisor-procvm-bench");

function build(cc: string, flags: string[], name: string): string {
  fs.mkdirSync(WORK, { recursive: true });
  const hash = createHash("sha256").update(fs.readFileSync(SOURCE)).update(cc + flags.join(" ")).digest("hex").slice(0, 12);
  const out = path.join(WORK, `${name}-${hash}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync(cc, [...flags, "-o", tmp, SOURCE], { encoding: "utf8" });
    if (r.error) throw new Error(`${cc}: ${r.error.message} (Debian package ${cc === "gcc" ? "gcc" : "gcc-riscv64-linux-gnu"})`);
    if (r.status !== 0) throw new Error(`${cc} failed:\n${r.stderr}`);
    fs.renameSync(tmp, out);
  }
  return out;
}

interface Timing {
  ms: number;
  output: string;
}

function timeRun(cmd: string, args: string[]): Timing {
  const samples: number[] = [];
  let output = "";
  for (let i = 0; i < REPS; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24 });
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: status ${r.status}\n${r.stderr}`);
    output = r.stdout;
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[samples.length >> 1], output };
}

function report(title: string, results: Record<string, Timing>): void {
  const outputs = new Set(Object.values(results).map((t) => t.output));
  if (outputs.size !== 1) throw new Error(`${title}: targets disagree:\n${JSON.stringify(results, null, 2)}`);
  console.log(`\n${title}  →  ${[...outputs][0].trim()}`);
  for (const [name, t] of Object.entries(results)) console.log(`  ${name.padEnd(10)} ${(t.ms / 1000).toFixed(2).padStart(8)} s`);
  for (const name of ["typevisor", "jit"]) {
    const t = results[name]?.ms;
    if (t === undefined) continue;
    if (results.native) console.log(`  ${name} / native: ${(t / results.native.ms).toFixed(1)}`);
    console.log(`  ${name} / qemu:   ${(t / results.qemu.ms).toFixed(1)}`);
  }
}

const WITH_JIT = process.env.BENCH_JIT !== "off";
/** `typevisor exec` interpreting, and with the JIT on unless BENCH_JIT=off. */
function typevisor(args: string[]): Record<string, Timing> {
  const off = timeRun(process.execPath, [TYPEVISOR, "exec", "--jit", "off", ...args]);
  return WITH_JIT ? { typevisor: off, jit: timeRun(process.execPath, [TYPEVISOR, "exec", "--jit", "on", ...args]) } : { typevisor: off };
}

requireTools();
const host = build("gcc", ["-O2"], "bench-host");
const guest = build("riscv64-linux-gnu-gcc", ["-O2", "-static"], "bench-riscv64");
report("C benchmark (CRC32 64 MiB + 256² matmul)", {
  native: timeRun(host, []),
  qemu: timeRun("qemu-riscv64", [guest]),
  ...typevisor([guest]),
});

const busybox = await riscvBusybox();
{
  requireTools("busybox");
  const file = path.join(WORK, "sha-64MiB.bin");
  if (!fs.existsSync(file) || fs.statSync(file).size !== 64 << 20) {
    const chunk = Buffer.alloc(1 << 20);
    const fd = fs.openSync(file, "w");
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < chunk.length; j++) chunk[j] = (i * 131 + j * 7) & 0xff;
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
  }
  const expected = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  const results = {
    native: timeRun(HOST_BUSYBOX, ["sha256sum", file]),
    qemu: timeRun("qemu-riscv64", [busybox, "sha256sum", file]),
    ...typevisor([busybox, "sha256sum", file]),
  };
  if (!results.qemu.output.startsWith(expected)) throw new Error(`busybox sha256sum disagrees with node:crypto`);
  report("busybox sha256sum of 64 MiB", results);
}
