/**
 * Runs a bare-metal ELF on the reference (QEMU 7.2 `-M virt -bios none`) or
 * on Typevisor (`typevisor run --bios none --kernel`), capturing the UART
 * output (the process's stdout) and the finisher exit status.
 *
 * The timeout is a hang guard only — it turns a guest that never reaches the
 * finisher into a readable failure; it is not a speed assertion. Override it
 * with TEST_HANG_GUARD_SECONDS.
 */
import { spawn, execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./toolchain.ts";

export type Target = "qemu" | "typevisor";
export const TARGETS: readonly Target[] = ["qemu", "typevisor"];

export const QEMU = "qemu-system-riscv64";
export const TYPEVISOR_BIN = join(REPO_ROOT, "bin", "typevisor");

export interface RunResult {
  target: Target;
  /** Process exit status (the finisher code), or null when killed. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Serial console output. */
  stdout: string;
  stderr: string;
  /** True when the hang guard killed the run. */
  hung: boolean;
  /** Wall-clock milliseconds from spawn to exit. */
  elapsedMs: number;
}

export interface RunOptions {
  /** Hang guard in milliseconds; default from TEST_HANG_GUARD_SECONDS or 600 s. */
  hangGuardMs?: number;
  /** Guest RAM in MiB (both targets get the same; Typevisor's default is 256). */
  memoryMiB?: number;
  /** Typevisor's --jit (default: its environment's TYPEVISOR_JIT, off when unset). */
  jit?: "off" | "on" | "force";
}

const DEFAULT_HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;

let qemuChecked: Promise<void> | null = null;

/** Fails with the Debian package to install when QEMU is missing. */
export function requireQemu(): Promise<void> {
  qemuChecked ??= promisify(execFile)(QEMU, ["--version"]).then(
    () => undefined,
    () => {
      throw new Error(`${QEMU} not found: install the Debian package qemu-system-misc (apt-get install qemu-system-misc)`);
    },
  );
  return qemuChecked;
}

export function commandFor(target: Target, elf: string, opts: RunOptions = {}): [string, string[]] {
  const mem = String(opts.memoryMiB ?? 256);
  if (target === "qemu") {
    return [QEMU, ["-M", "virt", "-m", `${mem}M`, "-bios", "none", "-nographic", "-kernel", elf]];
  }
  const memArgs = opts.memoryMiB === undefined ? [] : ["-m", mem];
  const jitArgs = opts.jit === undefined ? [] : ["--jit", opts.jit];
  return [process.execPath, [TYPEVISOR_BIN, "run", "--bios", "none", ...memArgs, ...jitArgs, "--kernel", elf]];
}

export async function runElf(target: Target, elf: string, opts: RunOptions = {}): Promise<RunResult> {
  if (target === "qemu") await requireQemu();
  const [cmd, args] = commandFor(target, elf, opts);
  const hangGuardMs = opts.hangGuardMs ?? DEFAULT_HANG_GUARD_MS;
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: REPO_ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, hangGuardMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(guard);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      resolvePromise({
        target,
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString("latin1"),
        stderr: Buffer.concat(err).toString("latin1"),
        hung,
        elapsedMs: performance.now() - started,
      });
    });
  });
}

/** A human-readable account of a run, for assertion messages. */
export function describeRun(r: RunResult, maxChars = 4000): string {
  const clip = (s: string) => (s.length > maxChars ? "…" + s.slice(-maxChars) : s);
  const status = r.hung
    ? `hung: killed by the hang guard after ${(r.elapsedMs / 1000).toFixed(1)} s`
    : r.signal
      ? `killed by ${r.signal}`
      : `exit status ${r.exitCode}`;
  return `${r.target}: ${status}\n--- uart (stdout) ---\n${clip(r.stdout)}\n--- stderr ---\n${clip(r.stderr)}`;
}
