/**
 * In-guest workloads, QEMU 7.2 and Typevisor side by side in one run.
 *
 *   node --import tsx bench/guest-workloads.ts [--scale S] [--reps N] [--typevisor-firmware builtin|opensbi]
 *
 * Boots the default guest's kernel + initramfs once per target
 * (`qemu-system-riscv64 -M virt -m 256M -nographic -bios fw_dynamic.bin`,
 * then `typevisor run -m 256M`, by default with its built-in SBI), one
 * target at a time, and runs in the guest's shell, timed by busybox
 * `time -p` (the guest clock, which on both follows the host's):
 *
 *   sha256   dd if=/dev/zero bs=1M count=64 | sha256sum
 *   gzip     dd if=/dev/zero bs=1M count=32 | gzip -c | wc -c
 *   loop     i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done
 *
 * `--scale S` (default 1) multiplies every size and count by S, identically
 * on both targets (the interpreter is 10–40× slower than QEMU; 0.1 keeps a
 * run to a few minutes); the output says which scale was used. Each
 * workload runs N times (default 3) per target; the median is reported.
 * Both targets must print the same result for each workload.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type Command, type GuestBoot } from "../tests/support/guest-console.ts";
import { median, printTable } from "./stats.ts";
import { workloads, type Workload } from "./guest-workload-list.ts";

const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
/** A boot or workload that takes longer than this is a hang, not a sample. */
const HANG_GUARD_MS = 60 * 60 * 1000;

interface Sample {
  seconds: number;
  /** What the workload printed (its result), checked equal across targets. */
  result: string;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Runs `w` once under `time -p` in the guest; returns the guest's real time and the output. */
async function timeOnce(vm: GuestConsole, w: Workload): Promise<Sample> {
  const out = await vm.check(`time -p sh -c ${shellQuote(w.command)}`);
  const real = /^real (\d+(?:\.\d+)?)$/m.exec(out);
  if (!real) throw new Error(`${vm.label}: no "real" line from time -p for ${w.name}:\n${out}`);
  const result = out.replace(/^(real|user|sys) .*\n/gm, "").trim();
  return { seconds: Number(real[1]), result };
}

async function runTarget(name: string, command: Command, marker: string, list: Workload[], reps: number) {
  console.log(`${name}: ${[command[0], ...command[1]].join(" ")}`);
  const vm = GuestConsole.start(command, { label: name, hangGuardMs: HANG_GUARD_MS });
  const results = new Map<string, Sample[]>();
  try {
    const bootMs = await vm.waitForShell(marker);
    console.log(`  booted in ${(bootMs / 1000).toFixed(2)} s`);
    for (const w of list) {
      const samples: Sample[] = [];
      for (let i = 0; i < reps; i++) {
        const s = await timeOnce(vm, w);
        console.log(`  ${w.name} ${i + 1}/${reps}: ${s.seconds.toFixed(2)} s  (${s.result.split("\n").join(" ")})`);
        samples.push(s);
      }
      results.set(w.name, samples);
    }
    vm.type("poweroff");
    await vm.exited();
  } finally {
    await vm.kill();
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "1" },
      reps: { type: "string", default: "3" },
      "typevisor-firmware": { type: "string", default: "builtin" },
    },
  });
  const scale = Number(values.scale);
  const reps = Number(values.reps);
  const firmware = values["typevisor-firmware"]!;
  if (!(scale > 0)) throw new Error(`--scale ${values.scale}: expected a number > 0`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`);
  if (!["builtin", "opensbi"].includes(firmware)) throw new Error(`--typevisor-firmware ${firmware}: expected builtin or opensbi`);
  if (!existsSync(DEBIAN_OPENSBI)) throw new Error(`${DEBIAN_OPENSBI} is missing: apt-get install opensbi`);

  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const boot: GuestBoot = { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, memory: "256M" };
  const list = workloads(scale);

  console.log(`in-guest workloads, ${new Date().toISOString()}: ${reps} runs each per target, median of the guest's time -p "real"`);
  console.log(
    scale === 1
      ? "scale 1: the full reference workloads"
      : `SCALED: --scale ${scale} — every size and count is ${scale} × the reference workload, identically on both targets`,
  );
  for (const w of list) console.log(`  ${w.name.padEnd(6)}  ${w.command}`);

  const qemu = await runTarget("qemu (OpenSBI)", qemuCommand({ ...boot, bios: DEBIAN_OPENSBI }), manifest.readyMarker, list, reps);
  const tvName = firmware === "builtin" ? "typevisor (built-in SBI)" : "typevisor (OpenSBI)";
  const tvBoot = firmware === "builtin" ? boot : { ...boot, bios: DEBIAN_OPENSBI };
  const tv = await runTarget(tvName, typevisorCommand(tvBoot), manifest.readyMarker, list, reps);

  const rows = [["workload", "qemu s", "typevisor s", "ratio", "result"]];
  for (const w of list) {
    const q = qemu.get(w.name)!;
    const t = tv.get(w.name)!;
    const results = new Set([...q, ...t].map((s) => s.result));
    if (results.size !== 1) throw new Error(`${w.name}: the targets printed different results: ${[...results].join(" | ")}`);
    const mq = median(q.map((s) => s.seconds));
    const mt = median(t.map((s) => s.seconds));
    rows.push([w.name, mq.toFixed(2), mt.toFixed(2), mq > 0 ? (mt / mq).toFixed(1) : "n/a", [...results][0]!.split("\n").join(" ")]);
  }
  console.log(`\nmedians (scale ${scale}${scale === 1 ? "" : ", SCALED DOWN"}), ratio = typevisor / qemu:`);
  printTable(rows);
}

await main();
