/**
 * Shared by the process VM tests: compiling C test programs for riscv64 at
 * test time (into os.tmpdir(), cached by content) and running them under
 * qemu-riscv64 and `typevisor exec` for differential comparison.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PROGRAMS = path.join(REPO, "tests/procvm/programs");
export const TYPEVISOR = path.join(REPO, "bin/typevisor");
export const SYSROOT = "/usr/riscv64-linux-gnu";
export const CC = "riscv64-linux-gnu-gcc";

function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

/** Why the differential tests cannot run here, or null when they can. */
export function missingTools(): string | null {
  if (!hasCommand(CC)) return `${CC} is not installed (apt-get install gcc-riscv64-linux-gnu)`;
  if (!hasCommand("qemu-riscv64")) return "qemu-riscv64 is not installed (apt-get install qemu-user)";
  if (!fs.existsSync(path.join(SYSROOT, "lib/libc.so.6"))) return `no riscv64 sysroot at ${SYSROOT}`;
  return null;
}

const cacheDir = path.join(os.tmpdir(), "typevisor-procvm-tests");

/** Compiles `programs/<name>.c` (static or dynamic); returns the binary path. */
export function compile(name: string, linkage: "static" | "dynamic", extra: string[] = []): string {
  const src = path.join(PROGRAMS, `${name}.c`);
  const flags = ["-O2", "-Wall", ...(linkage === "static" ? ["-static"] : []), ...extra];
  const hash = createHash("sha256").update(fs.readFileSync(src)).update(flags.join(" ")).digest("hex").slice(0, 16);
  fs.mkdirSync(cacheDir, { recursive: true });
  const out = path.join(cacheDir, `${name}-${linkage}-${hash}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync(CC, [...flags, "-o", tmp, src, "-lpthread"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`compiling ${name}: ${r.stderr}`);
    fs.renameSync(tmp, out);
  }
  return out;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit status as a shell reports it: 128 + n when killed by signal n. */
  status: number;
}

function result(r: SpawnSyncReturns<string>): RunResult {
  if (r.error) throw r.error;
  const status = r.status ?? 128 + (os.constants.signals[r.signal as keyof typeof os.constants.signals] ?? 0);
  return { stdout: r.stdout, stderr: r.stderr, status };
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Pass the riscv sysroot (for dynamically linked programs). */
  sysroot?: boolean;
}

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME ?? "/root", LANG: "C", ...extra };
}

export function runQemu(bin: string, args: string[], opts: RunOptions = {}): RunResult {
  const pre = opts.sysroot ? ["-L", SYSROOT] : [];
  return result(
    spawnSync("qemu-riscv64", [...pre, bin, ...args], {
      cwd: opts.cwd, env: baseEnv(opts.env), input: opts.input ?? "", encoding: "utf8", maxBuffer: 1 << 28,
    }),
  );
}

export function runTypevisor(bin: string, args: string[], opts: RunOptions & { flags?: string[] } = {}): RunResult {
  const pre = opts.sysroot ? ["-L", SYSROOT] : ["-L", ""];
  return result(
    spawnSync(process.execPath, [TYPEVISOR, "exec", ...pre, ...(opts.flags ?? []), bin, ...args], {
      cwd: opts.cwd, env: baseEnv(opts.env), input: opts.input ?? "", encoding: "utf8", maxBuffer: 1 << 28,
    }),
  );
}

/** A fresh scratch directory under os.tmpdir(). */
export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-procvm-"));
}

/** Extracts the regular file `want` (e.g. "bin/busybox") from a gzip'd newc cpio archive, or null. */
export function extractFromCpio(archive: Uint8Array, want: string): Uint8Array | null {
  const data = archive[0] === 0x1f && archive[1] === 0x8b ? new Uint8Array(zlib.gunzipSync(archive)) : archive;
  const dec = new TextDecoder("latin1");
  const pad4 = (n: number) => (n + 3) & ~3;
  let at = 0;
  while (at + 110 <= data.length) {
    const header = dec.decode(data.subarray(at, at + 110));
    if (header.slice(0, 6) !== "070701" && header.slice(0, 6) !== "070702") return null;
    const field = (i: number) => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = dec.decode(data.subarray(at + 110, at + 110 + nameSize - 1));
    const body = pad4(at + 110 + nameSize);
    if (name === "TRAILER!!!") return null;
    if (name.replace(/^\.?\//, "") === want && (mode & 0o170000) === 0o100000) return data.slice(body, body + size);
    at = pad4(body + size);
  }
  return null;
}

/**
 * A static riscv64 busybox: $TYPEVISOR_BUSYBOX, or the one inside the
 * default guest's initramfs (scripts/guest/build.sh) once that is built.
 * Null when there is none (the busybox tests then skip).
 */
export function riscvBusybox(): string | null {
  const fromEnv = process.env.TYPEVISOR_BUSYBOX;
  if (fromEnv) return fromEnv;
  const cache = spawnSync("bash", [path.join(REPO, "scripts/guest/build.sh"), "--print-cache-dir"], { encoding: "utf8" });
  if (cache.status !== 0) return null;
  const initramfs = path.join(cache.stdout.trim(), "initramfs.cpio.gz");
  if (!fs.existsSync(initramfs)) return null;
  const out = path.join(cacheDir, `busybox-${createHash("sha256").update(initramfs + fs.statSync(initramfs).mtimeMs).digest("hex").slice(0, 12)}`);
  if (fs.existsSync(out)) return out;
  const bytes = extractFromCpio(fs.readFileSync(initramfs), "bin/busybox");
  if (bytes === null) return null;
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(`${out}.tmp`, bytes, { mode: 0o755 });
  fs.renameSync(`${out}.tmp`, out);
  return out;
}
