/**
 * `typevisor run`'s flags as a VmConfig, checked whole before anything is
 * built or booted: every problem, in the flags' own spelling, in one error.
 */
import { parseDriveSpec } from "../backends/block/index.ts";
import { MAX_HARTS } from "../cpu/layout.ts";
import { ConfigError, validateVmConfig, type DriveConfig, type VmConfig } from "../vmm/config.ts";
import { CliError } from "./cli-error.ts";
import { parseSize } from "./size.ts";
import { nicFromNetFlag } from "./net-flag.ts";

export interface RunFlags {
  bios?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  memory: string;
  smp: string;
  dumpdtb?: string;
  drive: string[];
  /** QEMU -device: virtio-blk-device,drive=ID (an if=none drive) or virtio-rng-device. */
  device: string[];
  /** Every drive writes to a throw-away overlay (QEMU -snapshot). */
  snapshot?: boolean;
  icount?: string;
  /** virtio-net backend: none, null (a NIC with no traffic), loopback, user[,options] (NAT) or switch=PATH; mac= and dump= on any. */
  net?: string;
  /** Attach a virtio-rng fed from the host's randomness. */
  rng?: boolean;
  /** -s: a GDB stub on tcp::1234; --gdb tcp::PORT: on PORT. */
  s?: boolean;
  gdb?: string;
  /** -S: the harts wait for the debugger's continue. */
  S?: boolean;
  /** -M / -machine: only "virt". */
  machine?: string;
  /** -nographic: accepted; the console is always this terminal. */
  nographic?: boolean;
}

/** The run, checked: the machine's config plus what only the CLI uses. */
export interface RunPlan {
  config: VmConfig;
  /** True: the default guest supplies kernel, initrd, command line and data disk. */
  defaultGuest: boolean;
  /** TCP port of the GDB stub, or null for none. */
  gdbPort: number | null;
}

/** True when the flags name nothing to boot, so the default guest applies. */
export function wantsDefaultGuest(flags: RunFlags): boolean {
  return flags.kernel === undefined && flags.bios === undefined && flags.dumpdtb === undefined;
}

/** Checks every flag and the files they name; throws one CliError listing every problem. */
export function planRun(flags: RunFlags): RunPlan {
  const problems: string[] = [];
  const labels: Record<string, string> = {};
  const input: Record<string, unknown> = {};
  const defaultGuest = wantsDefaultGuest(flags);

  if (flags.machine !== undefined && flags.machine !== "virt") {
    problems.push(`-M ${flags.machine}: only the RISC-V virt board is emulated (QEMU's -M virt)`);
  }

  const memory = parseSize(flags.memory);
  if (memory === null) problems.push(`-m ${flags.memory}: not a size; use e.g. 256M or 1G`);
  else input.memory = memory;
  labels.memory = `-m ${flags.memory}`;

  if (/^\d+$/.test(flags.smp)) input.harts = Number(flags.smp);
  else problems.push(`--smp ${flags.smp}: expected a whole number from 1 to ${MAX_HARTS}`);
  labels.harts = `--smp ${flags.smp}`;

  if (flags.bios === undefined || flags.bios === "default") input.firmware = { kind: "builtin" };
  else if (flags.bios === "none") input.firmware = { kind: "none" };
  else input.firmware = { kind: "file", path: flags.bios };
  labels.firmware = `--bios ${flags.bios}`;

  for (const field of ["kernel", "initrd", "append"] as const) {
    if (flags[field] !== undefined) input[field] = flags[field];
    labels[field] = `--${field} ${flags[field]}`;
  }
  if (flags.initrd !== undefined && flags.kernel === undefined) {
    problems.push(
      defaultGuest
        ? "--initrd needs --kernel: the default guest brings its own initramfs; give --kernel to boot your own kernel with this one"
        : "--initrd needs a kernel: give one with --kernel",
    );
    delete input.initrd;
  }
  if (!defaultGuest && flags.kernel === undefined && flags.dumpdtb === undefined) {
    if (flags.bios === "none") problems.push("--bios none needs a program to run: give it with --kernel");
    else if (flags.bios === undefined || flags.bios === "default") {
      problems.push("nothing to boot: give a kernel with --kernel (the built-in SBI firmware runs it in S-mode)");
    }
  }

  // if=virtio drives in command-line order, then the if=none ones in -device order.
  const drives: DriveConfig[] = [];
  const detached = new Map<string, { text: string; drive: DriveConfig }>();
  for (const text of flags.drive) {
    try {
      const spec = parseDriveSpec(text);
      const drive: DriveConfig = { file: spec.file, readonly: spec.readOnly, snapshot: spec.snapshot || flags.snapshot === true };
      if (spec.format !== undefined) drive.format = spec.format;
      if (spec.serial !== undefined) drive.serial = spec.serial;
      if (spec.discard !== undefined) drive.discard = spec.discard;
      if (spec.cache !== undefined) drive.cache = spec.cache;
      if (spec.ifNone) {
        if (detached.has(spec.id!)) problems.push(`--drive ${text}: another drive already has id=${spec.id}`);
        detached.set(spec.id!, { text, drive });
      } else {
        labels[`drives[${drives.length}]`] = `--drive ${text}`;
        drives.push(drive);
      }
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  let rng = flags.rng === true || defaultGuest;
  for (const text of flags.device) {
    const [model, ...options] = text.split(",");
    const drive = options.length === 1 ? /^drive=(.+)$/.exec(options[0])?.[1] : undefined;
    if (model === "virtio-rng-device" && options.length === 0) {
      rng = true;
    } else if (model === "virtio-blk-device" && drive !== undefined) {
      const found = detached.get(drive);
      if (found === undefined) {
        problems.push(`--device ${text}: no --drive ...,if=none,id=${drive} to attach (or it is attached twice)`);
        continue;
      }
      detached.delete(drive);
      labels[`drives[${drives.length}]`] = `--drive ${found.text}`;
      drives.push(found.drive);
    } else {
      problems.push(`--device ${text}: expected virtio-blk-device,drive=ID or virtio-rng-device (the virt board's virtio-mmio devices; --net adds a NIC)`);
    }
  }
  for (const [id, { text }] of detached) problems.push(`--drive ${text}: if=none, but no --device virtio-blk-device,drive=${id} attaches it`);
  input.drives = drives;

  // As QEMU: the default guest gets a user-mode NAT NIC (its /init asks DHCP for an address).
  const net = flags.net ?? (defaultGuest ? "user" : "none");
  const parsed = nicFromNetFlag(net);
  if ("problem" in parsed) problems.push(parsed.problem);
  else if (parsed.nic !== null) {
    input.nics = [parsed.nic];
    labels["nics[0]"] = `--net ${net}`;
  }
  input.rng = rng;

  if (flags.icount !== undefined) {
    if (/^\d+$/.test(flags.icount)) input.icount = Number(flags.icount);
    else problems.push(`--icount ${flags.icount}: expected a whole number of instructions per tick (1 or more)`);
    labels.icount = `--icount ${flags.icount}`;
  }

  const gdbPort = parseGdb(flags, problems);

  let config: VmConfig | null = null;
  try {
    // The default guest's kernel comes later, once the flags are known to be good.
    config = validateVmConfig(input, { labels, requireKernel: false });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length > 0 || config === null) throw new CliError(problems.join("; "));
  return { config, defaultGuest, gdbPort };
}

/** -s / --gdb tcp::PORT / -S: the stub's port, or null. */
function parseGdb(flags: RunFlags, problems: string[]): number | null {
  const spec = flags.gdb ?? (flags.s === true ? "tcp::1234" : undefined);
  if (spec === undefined) {
    if (flags.S === true) problems.push("-S waits for a debugger: give -s or --gdb tcp::PORT too");
    return null;
  }
  const m = /^(?:tcp:(?:127\.0\.0\.1|localhost)?:)?(\d+)$/.exec(spec);
  const port = m ? Number(m[1]) : NaN;
  if (port >= 1 && port <= 65535) return port;
  problems.push(`--gdb ${spec}: expected tcp::PORT (a TCP port number on 127.0.0.1)`);
  return null;
}
