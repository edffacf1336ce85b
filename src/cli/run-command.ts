/**
 * `typevisor run`: boots a virt machine from QEMU-style flags, with the
 * serial console on this terminal. Exits with the guest's finisher status.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { openDrive, parseDriveSpec } from "../backends/block/index.ts";
import { MAX_HARTS } from "../cpu/layout.ts";
import { LoopbackEthernetBackend } from "../backends/net/loopback.ts";
import { NullEthernetBackend } from "../backends/net/null.ts";
import { isUserNetSpec, openUserNet } from "../backends/net/user/index.ts";
import type { EthernetBackend } from "../backends/net/ethernet-backend.ts";
import { VirtioBlk, VirtioNet, VirtioRng, type VirtioDevice } from "../devices/virtio/index.ts";
import { wantsDefaultGuest, withDefaultGuest } from "./default-guest-run.ts";
import { GdbStub } from "../debug/gdb-stub.ts";
import { VirtMachineTarget } from "../machine/gdb-target.ts";
import { VirtMachine, type Firmware, type ImageFile } from "../machine/virt-machine.ts";
import { CliError } from "./cli-error.ts";
import { parseSize } from "./size.ts";
import { Terminal } from "./terminal.ts";

export interface RunFlags {
  bios?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  memory: string;
  smp: string;
  dumpdtb?: string;
  drive: string[];
  icount?: string;
  /** virtio-net backend: none, null (a NIC with no traffic) or loopback. */
  net?: string;
  /** Attach a virtio-rng fed from the host's randomness. */
  rng?: boolean;
  /** -s: a GDB stub on tcp::1234; --gdb tcp::PORT: on PORT. */
  s?: boolean;
  gdb?: string;
  /** -S: the harts wait for the debugger's continue. */
  S?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("boot a RISC-V virt machine (QEMU -M virt compatible) with its console on this terminal")
    .option(
      "--bios <default|none|FILE>",
      "firmware: default (built-in SBI), none (run --kernel bare-metal in M-mode), or a file such as OpenSBI fw_dynamic.bin",
    )
    .option("--kernel <FILE>", "kernel: a Linux Image, or with --bios none a bare-metal ELF")
    .option("--initrd <FILE>", "initial ram disk")
    .option("--append <STR>", "kernel command line")
    .option("-m, --memory <SIZE>", "guest RAM, e.g. 256M or 1G (a plain number is MiB)", "256M")
    .option("--smp <N>", `number of harts (1-${MAX_HARTS})`, "1")
    .option("--dumpdtb <FILE>", "write the device tree blob to FILE and exit")
    .option("--drive <SPEC>", "virtio-blk disk: file=PATH,format=raw[,readonly=on] (repeatable)", collect, [])
    .option("--icount <N>", "deterministic time: one 10 MHz timer tick per N instructions")
    .option("--net <none|null|loopback|user[,...]>", "virtio-net NIC backend (default: none; null gives the guest an idle eth0; user[,hostfwd=tcp::2222-:22,...] is NAT as QEMU's -netdev user, see docs/network.md)")
    .option("--rng", "attach a virtio-rng device fed from the host's randomness")
    .option("--gdb <tcp::PORT>", "serve the GDB remote protocol on 127.0.0.1:PORT (see docs/debugging.md)")
    .option("-s", "shorthand for --gdb tcp::1234")
    .option("-S", "do not start the harts until gdb says continue")
    .action(async (flags: RunFlags) => {
      process.exitCode = await runCommand(flags);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readImage(option: string, path: string): ImageFile {
  try {
    return { name: path, bytes: readFileSync(path) };
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new CliError(`${option} ${path}: ${reason}`);
  }
}

function positiveInteger(option: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new CliError(`${option} ${text}: expected a whole number from 1 to ${max}`);
  return n;
}

async function netBackend(kind: string): Promise<EthernetBackend | null> {
  if (isUserNetSpec(kind)) return openUserNet(kind).catch((e: Error) => Promise.reject(new CliError(e.message)));
  switch (kind) {
    case "none": return null;
    case "null": return new NullEthernetBackend();
    case "loopback": return new LoopbackEthernetBackend();
  }
  throw new CliError(`--net ${kind}: expected none, null, loopback or user[,option=value...]`);
}

function firmwareFrom(flags: RunFlags): Firmware {
  if (flags.bios === undefined || flags.bios === "default") return { kind: "builtin" };
  if (flags.bios === "none") return { kind: "none" };
  return { kind: "file", image: readImage("--bios", flags.bios) };
}

/** Runs the machine the flags describe; resolves to the process exit status. */
export async function runCommand(givenFlags: RunFlags): Promise<number> {
  const flags = wantsDefaultGuest(givenFlags) ? await withDefaultGuest(givenFlags) : givenFlags;
  const ramSize = parseSize(flags.memory);
  if (ramSize === null) throw new CliError(`-m ${flags.memory}: not a size; use e.g. 256M or 1G`);
  const firmware = firmwareFrom(flags);
  const kernel = flags.kernel === undefined ? undefined : readImage("--kernel", flags.kernel);
  if (firmware.kind !== "file" && !kernel && flags.dumpdtb === undefined) {
    throw new CliError(
      firmware.kind === "none"
        ? "--bios none needs a program to run: give it with --kernel"
        : "nothing to boot: give a kernel with --kernel (the built-in SBI firmware runs it in S-mode)",
    );
  }
  const initrd = flags.initrd === undefined ? undefined : readImage("--initrd", flags.initrd);
  if (initrd && !kernel) throw new CliError("--initrd needs a kernel: give one with --kernel");
  const virtio: VirtioDevice[] = flags.drive.map((text) => {
    const spec = parseDriveSpec(text);
    const blk: { backend: ReturnType<typeof openDrive>; serial?: string } = { backend: openDrive(spec) };
    if (spec.serial !== undefined) blk.serial = spec.serial;
    return new VirtioBlk(blk);
  });
  const net = await netBackend(flags.net ?? "none");
  if (net !== null) virtio.push(new VirtioNet({ backend: net }));
  if (flags.rng) virtio.push(new VirtioRng());

  let terminal: Terminal | null = null;
  const machine = new VirtMachine({
    ramSize,
    harts: positiveInteger("--smp", flags.smp, MAX_HARTS),
    firmware,
    kernel,
    initrd,
    bootargs: flags.append,
    instructionsPerTick: flags.icount === undefined ? undefined : positiveInteger("--icount", flags.icount),
    virtio,
    serial: { write: (data) => terminal?.sink.write(data), backpressure: () => terminal?.sink.backpressure?.() ?? null },
  });

  if (flags.dumpdtb !== undefined) {
    try {
      writeFileSync(flags.dumpdtb, machine.dtb);
    } catch (e) {
      throw new CliError(`--dumpdtb ${flags.dumpdtb}: ${(e as Error).message}`);
    }
    return 0;
  }

  const gdb = await startGdbStub(machine, flags);
  terminal = new Terminal(machine);
  terminal.start();
  try {
    const code = await machine.run();
    // As QEMU's exit(code): the OS keeps the low 8 bits.
    return code & 0xff;
  } finally {
    net?.close?.();
    gdb?.close();
    terminal.stop();
    await terminal.flush();
  }
}

/** -s / --gdb tcp::PORT [-S]: a GDB stub for the machine's harts. */
async function startGdbStub(machine: VirtMachine, flags: RunFlags): Promise<GdbStub | null> {
  const spec = flags.gdb ?? (flags.s === true ? "tcp::1234" : undefined);
  if (spec === undefined) {
    if (flags.S === true) throw new CliError("-S waits for a debugger: give -s or --gdb tcp::PORT too");
    return null;
  }
  const m = /^(?:tcp:(?:127\.0\.0\.1|localhost)?:)?(\d+)$/.exec(spec);
  const port = m ? Number(m[1]) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new CliError(`--gdb ${spec}: expected tcp::PORT (a TCP port number on 127.0.0.1)`);
  const stub = new GdbStub(new VirtMachineTarget(machine, flags.S === true));
  try {
    await stub.listen(port);
  } catch (e) {
    throw new CliError(`--gdb ${spec}: cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`);
  }
  return stub;
}
