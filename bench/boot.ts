/**
 * Linux boot time, QEMU 7.2 and Typevisor side by side in one run.
 *
 *   node --import tsx bench/boot.ts [--reps N] [--typevisor-firmware builtin|opensbi|both]
 *
 * Boots the default guest's kernel + initramfs (no disk) on
 * `qemu-system-riscv64 -M virt -m 256M -nographic -bios fw_dynamic.bin` and
 * on `typevisor run -m 256M` — with Debian's same OpenSBI fw_dynamic.bin
 * and/or the built-in SBI (the default; `both` unless told) — N times each
 * (default 5), one boot at a time, targets alternating. A boot's time runs
 * from spawning the process to the arrival of the guest's ready marker line
 * (printed by /init before the shell starts); the process is then killed.
 * Prints every sample, the medians and the ratio Typevisor / QEMU.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../src/guest/default-guest.ts";
import { GuestConsole, qemuCommand, typevisorCommand, type Command, type GuestBoot } from "../tests/support/guest-console.ts";
import { median, printTable } from "./stats.ts";

const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
/** A boot that takes longer than this is a hang, not a sample. */
const HANG_GUARD_MS = 30 * 60 * 1000;

interface Target {
  name: string;
  command: Command;
}

async function bootOnce(target: Target, marker: string): Promise<number> {
  const vm = GuestConsole.start(target.command, { label: target.name, hangGuardMs: HANG_GUARD_MS });
  try {
    return await vm.waitForShell(marker);
  } finally {
    await vm.kill();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: "string", default: "5" },
      "typevisor-firmware": { type: "string", default: "both" },
    },
  });
  const reps = Number(values.reps);
  const firmware = values["typevisor-firmware"]!;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${values.reps}: expected a whole number ≥ 1`);
  if (!["builtin", "opensbi", "both"].includes(firmware)) throw new Error(`--typevisor-firmware ${firmware}: expected builtin, opensbi or both`);
  if (!existsSync(DEBIAN_OPENSBI)) throw new Error(`${DEBIAN_OPENSBI} is missing: apt-get install opensbi`);

  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const boot: GuestBoot = { kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, memory: "256M" };
  const targets: Target[] = [{ name: "qemu (OpenSBI)", command: qemuCommand({ ...boot, bios: DEBIAN_OPENSBI }) }];
  if (firmware !== "builtin") targets.push({ name: "typevisor (OpenSBI)", command: typevisorCommand({ ...boot, bios: DEBIAN_OPENSBI }) });
  if (firmware !== "opensbi") targets.push({ name: "typevisor (built-in SBI)", command: typevisorCommand(boot) });

  console.log(`Linux boot to the ready marker: ${reps} boots per target, ${new Date().toISOString()}`);
  console.log(`guest: ${guest.dir} (Linux ${manifest.kernelRelease}, -m 256M, append "${manifest.append}")`);
  for (const t of targets) console.log(`  ${t.name}: ${[t.command[0], ...t.command[1]].join(" ")}`);

  const samples = new Map<Target, number[]>(targets.map((t) => [t, []]));
  for (let i = 0; i < reps; i++) {
    for (const t of targets) {
      const ms = await bootOnce(t, manifest.readyMarker);
      samples.get(t)!.push(ms);
      console.log(`  boot ${i + 1}/${reps} ${t.name}: ${(ms / 1000).toFixed(2)} s`);
    }
  }

  const reference = median(samples.get(targets[0]!)!);
  const rows = [["target", "median s", "min s", "max s", "ratio to qemu"]];
  for (const t of targets) {
    const xs = samples.get(t)!;
    rows.push([
      t.name,
      (median(xs) / 1000).toFixed(2),
      (Math.min(...xs) / 1000).toFixed(2),
      (Math.max(...xs) / 1000).toFixed(2),
      (median(xs) / reference).toFixed(2),
    ]);
  }
  printTable(rows);
}

await main();
