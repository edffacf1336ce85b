/**
 * Shared by the process VM tests: compiling C test programs for riscv64 at
 * test time (cached by content in CACHE_DIR, tests/support/toolchain.ts) and running them under
 * qemu-riscv64 and `typevisor exec` for differential comparison.
 *
 * The tools they compare against are Debian packages that `npm test`
 * installs when run as root; a test that lacks one fails, naming the package.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";
import { ensureDefaultGuest } from "../../src/guest/default-guest.ts";
import { CACHE_DIR } from "../support/toolchain.ts";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PROGRAMS = path.join(REPO, "tests/procvm/programs");
export const TYPEVISOR = path.join(REPO, "bin/typevisor");
export const SYSROOT = "/usr/riscv64-linux-gnu";
export const CC = "riscv64-linux-gnu-gcc";

function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

export const HOST_BUSYBOX = "/usr/bin/busybox";

/** What the tests need from the host: [what, Debian package, present?]. scripts/test.sh installs all but bsdutils (Essential). */
const TOOLS: Record<string, [string, string, () => boolean]> = {
  cc: [CC, "gcc-riscv64-linux-gnu", () => hasCommand(CC)],
  sysroot: [`the riscv64 sysroot ${SYSROOT}`, "libc6-dev-riscv64-cross", () => fs.existsSync(path.join(SYSROOT, "lib/libc.so.6"))],
  qemu: ["qemu-riscv64", "qemu-user", () => hasCommand("qemu-riscv64")],
  busybox: [`the host's busybox (${HOST_BUSYBOX})`, "busybox", () => fs.existsSync(HOST_BUSYBOX)],
  script: ["script (runs a command on a pseudo-terminal)", "bsdutils", () => hasCommand("script")],
  go: ["go (the Go toolchain; builds GOARCH=riscv64 programs)", "golang-go", () => hasCommand("go")],
  gdb: ["gdb-multiarch (the debugger the -g tests drive)", "gdb-multiarch", () => hasCommand("gdb-multiarch")],
};
const present = new Map<string, boolean>();

/**
 * Throws, naming the Debian package, unless the host has the given tools
 * (default: the cross compiler, its sysroot and qemu-riscv64).
 */
export function requireTools(...which: Array<keyof typeof TOOLS>): void {
  const wanted = which.length > 0 ? which : (["cc", "sysroot", "qemu"] as const);
  for (const key of wanted) {
    const [what, pkg, check] = TOOLS[key];
    if (!present.has(key)) present.set(key, check());
    if (!present.get(key)) {
      const how = pkg === "bsdutils" ? "an Essential package" : "npm test installs it when run as root";
      throw new Error(`${what} is missing: install the Debian package ${pkg} (apt-get install ${pkg}; ${how})`);
    }
  }
}

const cacheDir = path.join(CACHE_DIR, "procvm");

/** Hashes a program's source and the local headers it includes (`#include "x.h"` next to it). */
function sourceHash(src: string, flags: string[]): string {
  const hash = createHash("sha256");
  const text = fs.readFileSync(src, "utf8");
  // The path too: debug info names it (a checkout elsewhere must not reuse this build).
  hash.update(path.resolve(src)).update(text).update(flags.join(" "));
  for (const m of text.matchAll(/^#include "([^"]+)"/gm)) hash.update(fs.readFileSync(path.join(path.dirname(src), m[1])));
  return hash.digest("hex").slice(0, 16);
}

/**
 * Builds one C source with `compiler` into the cache (keyed by its path, text,
 * local headers and flags); returns the binary path. Parallel test files may
 * build the same program: the rename makes the result appear whole.
 */
export function buildCachedC(src: string, compiler: string, tag: string, flags: string[], libs: string[] = []): string {
  const name = path.basename(src, ".c");
  fs.mkdirSync(cacheDir, { recursive: true });
  const out = path.join(cacheDir, `${name}-${tag}-${sourceHash(src, [compiler, ...flags])}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync(compiler, [...flags, "-o", tmp, src, ...libs], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`compiling ${name} (${tag}): ${r.stderr}`);
    fs.renameSync(tmp, out);
  }
  return out;
}

/** Compiles `programs/<name>.c` for riscv64 (static or dynamic); returns the binary path. */
export function compile(name: string, linkage: "static" | "dynamic", extra: string[] = []): string {
  const flags = ["-O2", "-Wall", ...(linkage === "static" ? ["-static"] : []), ...extra];
  return buildCachedC(path.join(PROGRAMS, `${name}.c`), CC, linkage, flags, ["-lpthread"]);
}

/**
 * Builds `programs/<name>.c` for this host (the native oracle for what
 * qemu-user translates wrongly); returns the binary path.
 */
export function compileNative(name: string): string {
  if (!hasCommand("gcc")) throw new Error("gcc is missing: install the Debian package gcc (apt-get install gcc)");
  return buildCachedC(path.join(PROGRAMS, `${name}.c`), "gcc", "native", ["-O2", "-Wall"]);
}

/**
 * Builds the Go program in `programs/<name>/` for linux/riscv64 (static,
 * CGO off); returns the binary path. Go's build cache lives outside the
 * checkout (~/.cache/typevisor/go-build) so later runs reuse the compiled
 * standard library.
 */
export function compileGo(name: string): string {
  const dir = path.join(PROGRAMS, name);
  const sources = fs.readdirSync(dir).filter((f) => f.endsWith(".go")).sort();
  const hash = createHash("sha256").update(path.resolve(dir));
  for (const f of sources) hash.update(f).update(fs.readFileSync(path.join(dir, f)));
  fs.mkdirSync(cacheDir, { recursive: true });
  const out = path.join(cacheDir, `${name}-go-${hash.digest("hex").slice(0, 16)}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp`;
    const env = {
      PATH: process.env.PATH, HOME: os.homedir(), GOOS: "linux", GOARCH: "riscv64", CGO_ENABLED: "0",
      GOCACHE: path.join(os.homedir(), ".cache/typevisor/go-build"), GOFLAGS: "-trimpath", GO111MODULE: "off",
    };
    const r = spawnSync("go", ["build", "-o", tmp, ...sources], { cwd: dir, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`go build ${name}: ${r.stderr}`);
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

/**
 * Asserts that `got` (typevisor) printed and ended as `want` (the
 * reference: qemu-riscv64 or a native run) did; stderr too unless told not to.
 */
export function assertSameRun(label: string, want: RunResult, got: RunResult, compareStderr = true): void {
  assert.equal(got.stdout, want.stdout, `${label}: stdout`);
  if (compareStderr) assert.equal(got.stderr, want.stderr, `${label}: stderr`);
  assert.equal(got.status, want.status, `${label}: exit status (stderr: ${got.stderr})`);
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
 * A static riscv64 busybox: $TYPEVISOR_BUSYBOX, else the default guest's
 * (scripts/guest/build.sh builds it when the cache lacks it, which takes
 * minutes): a `busybox` binary in its cache directory if the build leaves
 * one there, else bin/busybox taken out of its initramfs (into the test build cache,
 * named by the initramfs's hash). Throws when there is none.
 */
export async function riscvBusybox(): Promise<string> {
  const fromEnv = process.env.TYPEVISOR_BUSYBOX;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TYPEVISOR_BUSYBOX=${fromEnv}: no such file`);
    return path.resolve(fromEnv);
  }
  const guest = await ensureDefaultGuest();
  const beside = path.join(guest.dir, "busybox");
  if (fs.existsSync(beside)) return beside;
  const archive = fs.readFileSync(guest.initrd);
  const out = path.join(cacheDir, `busybox-${createHash("sha256").update(archive).digest("hex").slice(0, 16)}`);
  if (fs.existsSync(out)) return out;
  const bytes = extractFromCpio(archive, "bin/busybox");
  if (bytes === null) throw new Error(`the default guest's initramfs ${guest.initrd} has no bin/busybox`);
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes, { mode: 0o755 });
  fs.renameSync(tmp, out);
  return out;
}

/** Where a busybox test finds its programs. */
export interface BusyboxSetup {
  /** The static riscv64 busybox. */
  busybox: string;
  /** Applet links to it: the guest's PATH. */
  guestBin: string;
  /** The same applets linked to the host's busybox: the oracle's PATH. */
  hostBin: string;
  /** A sysroot (-L) whose bin/sh is the riscv64 busybox, for programs that run "/bin/sh" (popen, system). */
  sysroot: string;
  /** qemu-riscv64's absolute path (the oracles run with only applets on PATH). */
  qemu: string;
}

/** Sets up BusyboxSetup's directories under `work` (fetching the riscv64 busybox: see riscvBusybox). */
export async function setUpBusybox(work: string): Promise<BusyboxSetup> {
  requireTools("qemu", "busybox");
  const busybox = await riscvBusybox();
  const qemu = spawnSync("sh", ["-c", "command -v qemu-riscv64"], { encoding: "utf8" }).stdout.trim();
  const list = spawnSync(qemu, [busybox, "--list"], { encoding: "utf8" }).stdout.split("\n").filter((a) => a !== "" && a !== "busybox");
  if (!list.includes("sh") || !list.includes("tar")) throw new Error(`${busybox} --list: ${list.join(" ")}`);
  const setup = {
    busybox, qemu,
    guestBin: path.join(work, "guest-bin"),
    hostBin: path.join(work, "host-bin"),
    sysroot: path.join(work, "sysroot"),
  };
  for (const [dir, target] of [[setup.guestBin, busybox], [setup.hostBin, HOST_BUSYBOX]]) {
    fs.mkdirSync(dir, { recursive: true });
    for (const a of list) fs.symlinkSync(target, path.join(dir, a));
  }
  fs.mkdirSync(path.join(setup.sysroot, "bin"), { recursive: true });
  fs.symlinkSync(busybox, path.join(setup.sysroot, "bin/sh"));
  return setup;
}

/** Quotes `args` for sh. */
export function shellCommand(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}

/**
 * A command running on a pseudo-terminal (util-linux `script`), as if typed
 * at an interactive terminal: what it prints (with the terminal's echo and
 * CR-LF line ends), and keystrokes sent to it.
 */
export class PtySession {
  output = "";
  /** The exit status once script has ended and its output is all in. */
  private status: number | null = null;
  readonly exited: Promise<{ status: number; output: string }>;
  private readonly child;

  constructor(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    const script = spawnSync("sh", ["-c", "command -v script"], { encoding: "utf8" }).stdout.trim() || "script";
    this.child = spawn(script, ["-qefc", `exec ${shellCommand(args)}`, "/dev/null"], {
      cwd: opts.cwd, env: { ...baseEnv(opts.env), TERM: "dumb" }, stdio: ["pipe", "pipe", "pipe"],
    });
    const take = (d: Buffer) => (this.output += d.toString("latin1"));
    this.child.stdout.on("data", take);
    this.child.stderr.on("data", take);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 60_000);
    this.exited = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      // script -e: the command's exit status, or 128 + n when signal n ended it
      this.child.on("close", (code, signal) => {
        clearTimeout(timer);
        this.status = code ?? 128 + (os.constants.signals[signal as keyof typeof os.constants.signals] ?? 0);
        resolve({ status: this.status, output: this.output });
      });
    });
  }

  /** Resolves once the output after offset `from` contains `text`; returns the offset just past it. */
  async waitFor(text: string, from = 0, timeoutMs = 30_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const at = this.output.indexOf(text, from);
      if (at >= 0) return at + text.length;
      if (Date.now() > until || this.status !== null) {
        const why = this.status !== null ? `the command ended (status ${this.status})` : "timed out";
        throw new Error(`${why} before printing ${JSON.stringify(text)}; its output: ${JSON.stringify(this.output)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Types `keys` (e.g. "\x03" for Ctrl-C, "ls\r" for a line). */
  type(keys: string): void {
    this.child.stdin.write(Buffer.from(keys, "latin1"));
  }
}
