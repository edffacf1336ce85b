/**
 * VmConfig: everything that defines one VM, as plain JSON — what the CLI's
 * flags turn into, what a worker is posted, what a snapshot stores.
 * `validateVmConfig` is the one gate: it checks every field (and that the
 * files named exist and can be opened as asked) before anything is built,
 * and reports every problem at once, named in the caller's terms.
 */
import { parseUserNetSpec } from "../backends/net/user/options.ts";
import { CACHE_MODES, IMAGE_FORMATS, type CacheMode, type ImageFormat } from "../backends/block/open-image.ts";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { MAX_HARTS, RAM_OFFSET } from "../cpu/layout.ts";
import { VIRTIO_MMIO_SLOTS } from "../devices/virtio/index.ts";
import { DEFAULT_RAM_SIZE, MAX_RAM_SIZE, MIN_RAM_SIZE } from "../machine/virt-machine.ts";

export interface VmConfig {
  name?: string;
  /** Guest RAM in bytes. */
  memory: number;
  /** 1..8 */
  harts: number;
  firmware: { kind: "builtin" } | { kind: "none" } | { kind: "file"; path: string };
  /** File path. */
  kernel?: string;
  /** File path; needs a kernel. */
  initrd?: string;
  append?: string;
  drives: DriveConfig[];
  nics: NicConfig[];
  rng: boolean;
  /** Deterministic time: one timer tick per this many instructions. */
  icount?: number;
}

export interface DriveConfig {
  file: string;
  /** Absent: probed when opened (a qcow2 image is never written as raw). */
  format?: ImageFormat;
  readonly: boolean;
  /** Reported to the guest (at most 20 bytes). */
  serial?: string;
  /** Writes go to a throw-away in-memory overlay; the file is never modified. */
  snapshot: boolean;
  /** discard=unmap: the guest's DISCARD frees image space. */
  discard?: boolean;
  cache?: CacheMode;
}

export interface NicConfig {
  /**
   * null: a NIC with no traffic; loopback: frames come back; user: NAT as
   * QEMU's -netdev user; switch: a port of the switch listening on `path`.
   */
  backend: "null" | "loopback" | "user" | "switch";
  /** "52:54:00:12:34:56" */
  mac?: string;
  /** user only: QEMU's -netdev user options, e.g. "hostfwd=tcp::2222-:22,restrict=on" (docs/network.md). */
  options?: string;
  /** switch only: the Unix socket of the switch (`typevisor switch PATH`, or openSwitch({path})). */
  path?: string;
  /** A pcap file that records every frame the NIC sends and receives (created or truncated). */
  dump?: string;
}

/** A config that cannot be run; the message names every bad field. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** One line per bad field, each starting with the field's name. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join("; "));
    this.problems = problems;
  }
}

export interface ValidateOptions {
  /**
   * What to call a field in messages, by path ("memory", "drives[0]"): e.g.
   * the CLI flag the user typed ("-m 4G"). Unlabelled fields go by their path.
   */
  labels?: Readonly<Record<string, string>>;
  /**
   * False: the kernel is still to come (the CLI validates the user's flags
   * before the default guest supplies one), so a missing one is no error.
   */
  requireKernel?: boolean;
}

const TOP_FIELDS = ["name", "memory", "harts", "firmware", "kernel", "initrd", "append", "drives", "nics", "rng", "icount"];
const DRIVE_FIELDS = ["file", "format", "readonly", "serial", "snapshot", "discard", "cache"];
const NIC_FIELDS = ["backend", "mac", "options", "path", "dump"];
const NIC_BACKENDS: readonly unknown[] = ["null", "loopback", "user", "switch"];
/** Records a problem with a field (`value`: what was given, shown when the field has no label). */
type Report = (field: string, message: string, value?: string) => void;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * Checks `input` and returns it as a VmConfig with defaults filled in
 * (256 MiB, 1 hart, built-in firmware, no devices; drives writable, no
 * snapshot). Throws ConfigError naming every bad field.
 */
export function validateVmConfig(input: unknown, options: ValidateOptions = {}): VmConfig {
  const problems: string[] = [];
  const labels = options.labels ?? {};
  const bad: Report = (field, message, value) =>
    problems.push(`${labels[field] ?? (value === undefined ? field : `${field} ${value}`)}: ${message}`);

  if (!isObject(input)) throw new ConfigError([`a VM config must be an object, got ${describe(input)}`]);
  for (const key of Object.keys(input)) {
    if (!TOP_FIELDS.includes(key)) bad(key, `unknown field (known: ${TOP_FIELDS.join(", ")})`);
  }

  const config: VmConfig = {
    memory: DEFAULT_RAM_SIZE,
    harts: 1,
    firmware: { kind: "builtin" },
    drives: [],
    nics: [],
    rng: false,
  };

  if (input.name !== undefined) {
    if (typeof input.name === "string") config.name = input.name;
    else bad("name", `must be a string, got ${describe(input.name)}`);
  }

  if (input.memory !== undefined) {
    const problem = memoryProblem(input.memory);
    if (problem) bad("memory", problem);
    else config.memory = input.memory as number;
  }

  if (input.harts !== undefined) {
    const n = input.harts;
    if (Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_HARTS) config.harts = n as number;
    else bad("harts", `the virt board takes 1 to ${MAX_HARTS} harts, got ${describe(n)}`);
  }

  if (input.firmware !== undefined) {
    const fw = input.firmware;
    if (isObject(fw) && (fw.kind === "builtin" || fw.kind === "none") && Object.keys(fw).length === 1) {
      config.firmware = { kind: fw.kind };
    } else if (isObject(fw) && fw.kind === "file" && typeof fw.path === "string" && Object.keys(fw).length === 2) {
      const problem = fileProblem(fw.path, false);
      if (problem) bad("firmware", problem, JSON.stringify(fw.path));
      else config.firmware = { kind: "file", path: fw.path };
    } else {
      bad("firmware", `expected {kind:"builtin"}, {kind:"none"} or {kind:"file", path}, got ${describe(fw)}`);
    }
  }

  for (const field of ["kernel", "initrd"] as const) {
    const path = input[field];
    if (path === undefined) continue;
    const problem = typeof path === "string" ? fileProblem(path, false) : `must be a file path, got ${describe(path)}`;
    if (problem) bad(field, problem, typeof path === "string" ? JSON.stringify(path) : undefined);
    else config[field] = path as string;
  }
  if (input.initrd !== undefined && input.kernel === undefined) {
    bad("initrd", "an initial ram disk needs a kernel to use it: give the kernel too");
  }
  if (input.kernel === undefined && options.requireKernel !== false) {
    if (config.firmware.kind === "builtin") {
      bad("kernel", "nothing to boot: the built-in SBI firmware runs a kernel in S-mode; give one");
    }
  }

  if (input.append !== undefined) {
    if (typeof input.append === "string") config.append = input.append;
    else bad("append", `must be a string, got ${describe(input.append)}`);
  }

  config.drives = listOf(input.drives, "drives", bad, (item, field) => driveConfig(item, field, bad));
  config.nics = listOf(input.nics, "nics", bad, (item, field) => nicConfig(item, field, bad));

  if (input.rng !== undefined) {
    if (typeof input.rng === "boolean") config.rng = input.rng;
    else bad("rng", `must be true or false, got ${describe(input.rng)}`);
  }

  if (input.icount !== undefined) {
    const n = input.icount;
    if (Number.isSafeInteger(n) && (n as number) >= 1) config.icount = n as number;
    else bad("icount", `expected a whole number of instructions per tick (1 or more), got ${describe(n)}`);
  }

  const devices = config.drives.length + config.nics.length + (config.rng ? 1 : 0);
  if (devices > VIRTIO_MMIO_SLOTS) {
    bad("drives", `${devices} virtio devices (drives, NICs, rng) but the virt board has ${VIRTIO_MMIO_SLOTS} slots`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function memoryProblem(value: unknown): string | null {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    return `expected a whole number of bytes, got ${describe(value)}`;
  }
  if (value > MAX_RAM_SIZE) {
    return (
      `${formatSize(value)} of guest RAM does not fit: one wasm32 memory (4 GiB at most) holds the guest RAM ` +
      `plus ${formatSize(RAM_OFFSET)} of hart state, TLBs and decode cache, so the most is ` +
      `${MAX_RAM_SIZE / 2 ** 20}M (${Math.floor(MAX_RAM_SIZE / 2 ** 30)}G in whole gigabytes); ` +
      `give ${MAX_RAM_SIZE / 2 ** 20}M or less (and run several VMs for more memory in all)`
    );
  }
  if (value < MIN_RAM_SIZE) return `${formatSize(value)} is too little guest RAM: give at least ${MIN_RAM_SIZE / 2 ** 20}M`;
  if (value % 4096 !== 0) return `${formatSize(value)} is not a whole number of 4 KiB pages`;
  return null;
}

function driveConfig(item: unknown, field: string, report: Report): DriveConfig | null {
  let problems = 0;
  const bad: Report = (f, m) => (problems++, report(f, m));
  if (!isObject(item)) {
    bad(field, `expected {file, format, readonly, snapshot}, got ${describe(item)}`);
    return null;
  }
  for (const key of Object.keys(item)) if (!DRIVE_FIELDS.includes(key)) bad(field, `unknown option "${key}" (known: ${DRIVE_FIELDS.join(", ")})`);
  const readonly = flag(item.readonly, "readonly", field, bad);
  const snapshot = flag(item.snapshot, "snapshot", field, bad);
  if (item.format !== undefined && !(IMAGE_FORMATS as readonly unknown[]).includes(item.format)) {
    bad(field, `format ${describe(item.format)} is not one of ${IMAGE_FORMATS.join(", ")} (or absent: probed)`);
  }
  if (item.discard !== undefined && typeof item.discard !== "boolean") bad(field, `discard ${describe(item.discard)} must be true or false`);
  if (item.cache !== undefined && !(CACHE_MODES as readonly unknown[]).includes(item.cache)) {
    bad(field, `cache ${describe(item.cache)} must be one of ${CACHE_MODES.join(", ")}`);
  }
  if (item.serial !== undefined && (typeof item.serial !== "string" || new TextEncoder().encode(item.serial).length > 20)) {
    bad(field, `serial ${describe(item.serial)} must be a string of at most 20 bytes`);
  }
  if (typeof item.file !== "string" || item.file === "") {
    bad(field, `no file given (file=PATH)`);
  } else {
    // A snapshot drive only reads its file; a readonly one too.
    const problem = fileProblem(item.file, !readonly && !snapshot);
    if (problem) bad(field, `${item.file}: ${problem}`);
  }
  if (problems > 0) return null;
  const drive: DriveConfig = { file: item.file as string, readonly, snapshot };
  if (item.format !== undefined) drive.format = item.format as ImageFormat;
  if (item.serial !== undefined) drive.serial = item.serial as string;
  if (item.discard !== undefined) drive.discard = item.discard as boolean;
  if (item.cache !== undefined) drive.cache = item.cache as CacheMode;
  return drive;
}

function nicConfig(item: unknown, field: string, report: Report): NicConfig | null {
  let problems = 0;
  const bad: Report = (f, m) => (problems++, report(f, m));
  if (!isObject(item) || !NIC_BACKENDS.includes(item.backend)) {
    bad(field, `expected a NIC {backend: "null", "loopback", "user" or "switch", mac?, options?, path?, dump?}, got ${describe(isObject(item) ? item.backend : item)}`);
    return null;
  }
  for (const key of Object.keys(item)) if (!NIC_FIELDS.includes(key)) bad(field, `unknown option "${key}" (known: ${NIC_FIELDS.join(", ")})`);
  if (item.mac !== undefined && (typeof item.mac !== "string" || !MAC.test(item.mac))) {
    bad(field, `mac ${describe(item.mac)}: expected six hex pairs like 52:54:00:12:34:56`);
  }
  if (item.options !== undefined) {
    if (item.backend !== "user" || typeof item.options !== "string") {
      bad(field, `options ${describe(item.options)}: only a user NIC takes options, as a string`);
    } else {
      try {
        parseUserNetSpec(userNetSpec(item.options));
      } catch (e) {
        bad(field, (e as Error).message.replace(/^--net [^:]*: /, ""));
      }
    }
  }
  if (item.backend === "switch" ? typeof item.path !== "string" || item.path === "" : item.path !== undefined) {
    bad(field, item.backend === "switch" ? `a switch NIC needs path: the switch's socket (switch=PATH)` : `path ${describe(item.path)}: only a switch NIC takes a path`);
  }
  if (item.dump !== undefined) {
    const problem = typeof item.dump === "string" && item.dump !== "" ? dumpProblem(item.dump) : "must be a file path";
    if (problem) bad(field, `dump ${describe(item.dump)}: ${problem}`);
  }
  if (problems > 0) return null;
  const nic: NicConfig = { backend: item.backend as NicConfig["backend"] };
  if (item.mac !== undefined) nic.mac = item.mac as string;
  if (item.options !== undefined && item.options !== "") nic.options = item.options as string;
  if (item.path !== undefined) nic.path = item.path as string;
  if (item.dump !== undefined) nic.dump = item.dump as string;
  return nic;
}

/** The `--net` spec of a user NIC with these options. */
export function userNetSpec(options: string | undefined): string {
  return options === undefined || options === "" ? "user" : `user,${options}`;
}

/** What is wrong with creating a capture at `path` (its folder must exist and be writable), or null. */
function dumpProblem(path: string): string | null {
  const folder = dirname(path);
  try {
    if (!statSync(folder).isDirectory()) return `${folder} is not a folder`;
    accessSync(folder, constants.W_OK);
    return existsSync(path) && !statSync(path).isFile() ? "not a regular file" : null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return `no folder ${folder}`;
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return `${folder} is not writable`;
    return (e as Error).message;
  }
}

/** What is wrong with using `path` as an image (for writing too when `write`), or null. */
function fileProblem(path: string, write: boolean): string | null {
  try {
    if (!statSync(path).isFile()) return "not a regular file";
    accessSync(path, write ? constants.R_OK | constants.W_OK : constants.R_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "no such file";
    if ((code === "EACCES" || code === "EPERM" || code === "EROFS") && write) {
      return "not writable (use it read-only, or with snapshot so writes are thrown away)";
    }
    if (code === "EACCES" || code === "EPERM") return "permission denied";
    return (e as Error).message;
  }
}

function listOf<T>(
  value: unknown,
  field: string,
  bad: Report,
  item: (value: unknown, field: string) => T | null,
): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    bad(field, `must be a list, got ${describe(value)}`);
    return [];
  }
  const out: T[] = [];
  value.forEach((v, i) => {
    const t = item(v, `${field}[${i}]`);
    if (t !== null) out.push(t);
  });
  return out;
}

function flag(value: unknown, key: string, field: string, bad: Report): boolean {
  if (value === undefined) return false;
  if (typeof value === "boolean") return value;
  bad(field, `${key} must be true or false, got ${describe(value)}`);
  return false;
}

/** "4 GiB", "1.5 GiB", "300 MiB", "12 KiB", "100 bytes". */
function formatSize(bytes: number): string {
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} bytes`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "a list" : "an object";
}
