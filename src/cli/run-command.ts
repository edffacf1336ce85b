/**
 * `typevisor run`: boots a virt machine from QEMU-style flags, with the
 * serial console on this terminal. Exits with the guest's finisher status.
 * Every flag is checked (run-config.ts) before anything is built or booted.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { MAX_HARTS } from "../cpu/layout.ts";
import { buildMachine, closeBackends } from "../vmm/build.ts";
import { applyJitFlag, JIT_FLAG, JIT_FLAG_HELP } from "./jit-flag.ts";
import { CliError } from "./cli-error.ts";
import { withDefaultGuest } from "./default-guest-run.ts";
import { planRun, type RunFlags } from "./run-config.ts";
import { runOnTerminal } from "./run-vm.ts";
import { collect } from "./repeatable-option.ts";

export type { RunFlags } from "./run-config.ts";

const DEFAULT_GUEST_HELP = `
With no --kernel (and no --bios or --dumpdtb), run boots the default guest:
Linux 6.1 with a busybox shell on this console, virtio-rng, a virtio-net
NIC on user-mode NAT (--net user: DHCP gives it 10.0.2.15, the host is
10.0.2.2), and its own ext4 data disk (/dev/vda) mounted at /data,
kept across runs in ~/.cache/typevisor/disks (TYPEVISOR_DATA_DISK moves it).
The first run builds the guest from Debian packages (about 10 minutes);
later runs start in seconds. Other flags (-m, --smp, --drive, -snapshot,
--append ...) apply to it too.

QEMU spellings work: -kernel, -initrd, -append, -bios, -drive, -device,
-smp, -snapshot, -M virt, -nographic (always so), -s, -S.`;

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("boot a RISC-V virt machine (QEMU -M virt compatible) with its console on this terminal")
    .option(
      "--bios <default|none|FILE>",
      "firmware: default (built-in SBI), none (run --kernel bare-metal in M-mode), or a file such as OpenSBI fw_dynamic.bin",
    )
    .option("--kernel <FILE>", "kernel: a Linux Image, an ELF or a raw S-mode binary (at RAM + 2 MiB); with --bios none a bare-metal program (none: the default guest)")
    .option("--initrd <FILE>", "initial ram disk (needs --kernel)")
    .option("--append <STR>", "kernel command line")
    .option("-m, --memory <SIZE>", "guest RAM, e.g. 256M or 1G (a plain number is MiB; at most 4084M)", "256M")
    .option("--smp <N>", `number of harts (1-${MAX_HARTS})`, "1")
    .option("--dumpdtb <FILE>", "write the device tree blob to FILE and exit")
    .option("--drive <SPEC>", "virtio-blk disk: file=PATH,format=raw[,readonly=on][,snapshot=on][,serial=ID] (repeatable)", collect, [])
    .option("--device <SPEC>", "QEMU style: virtio-blk-device,drive=ID (a --drive ...,if=none,id=ID) or virtio-rng-device (repeatable)", collect, [])
    .option("--snapshot", "write to no disk image: every drive's writes go to memory and are discarded at exit")
    .option("--icount <N>", "deterministic time: one 10 MHz timer tick per N instructions")
    .option(JIT_FLAG, JIT_FLAG_HELP)
    .option(
      "--net <none|null|loopback|user[,...]|switch=PATH>",
      "virtio-net NIC backend (default: none, user for the default guest; null: an idle eth0; user[,hostfwd=tcp::2222-:22,...] is NAT as QEMU's -netdev user; " +
        "switch=PATH joins the switch `typevisor switch PATH` runs; any of them takes ,mac=MAC and ,dump=FILE.pcap; see docs/network.md)",
    )
    .option("--rng", "attach a virtio-rng device fed from the host's randomness")
    .option("--gdb <tcp::PORT>", "serve the GDB remote protocol on 127.0.0.1:PORT (see docs/debugging.md)")
    .option("-s", "shorthand for --gdb tcp::1234")
    .option("-S", "do not start the harts until gdb says continue")
    .option("--restore <FILE>", "resume the VM saved in FILE (the monitor's save FILE) where it was")
    .option("-M, --machine <TYPE>", "the board: only virt")
    .option("--nographic", "accepted for QEMU habits: the console is always this terminal")
    .addHelpText("after", DEFAULT_GUEST_HELP)
    .action(async (flags: RunFlags & { jit?: string }) => {
      process.exitCode = await runCommand(flags);
    });
}

/** Flags that describe a machine: a restored VM takes its machine from the snapshot instead. */
const MACHINE_FLAGS = ["kernel", "initrd", "bios", "append", "dumpdtb", "net", "rng", "snapshot", "icount"] as const;

/** Runs the machine the flags describe (or the snapshot --restore names); resolves to the process exit status. */
export async function runCommand(flags: RunFlags & { restore?: string; jit?: string }): Promise<number> {
  applyJitFlag(flags.jit);
  const plan = planRun(flags);
  const gdb = plan.gdbPort === null ? undefined : { port: plan.gdbPort, waitForDebugger: flags.S === true };
  if (flags.restore !== undefined) {
    const extra: string[] = MACHINE_FLAGS.filter((name) => flags[name] !== undefined);
    if (flags.drive.length > 0) extra.push("drive");
    if (extra.length > 0) {
      throw new CliError(`--restore ${flags.restore}: the snapshot defines the machine; drop ${extra.map((f) => `--${f}`).join(", ")}`);
    }
    return runOnTerminal({ restore: flags.restore }, { gdb });
  }
  const config = plan.defaultGuest ? await withDefaultGuest(plan.config, flags.snapshot === true) : plan.config;
  if (flags.dumpdtb !== undefined) {
    const machine = buildMachine(config);
    try {
      writeFileSync(flags.dumpdtb, machine.dtb);
    } catch (e) {
      throw new CliError(`--dumpdtb ${flags.dumpdtb}: ${(e as Error).message}`);
    } finally {
      closeBackends(machine);
    }
    return 0;
  }
  return runOnTerminal({ config }, { gdb });
}
