/**
 * Drives the serial console of a Linux guest running in a child process —
 * QEMU 7.2 `-M virt -nographic` (the reference) or `typevisor run` — the way
 * a person at the terminal would: wait for the boot marker, type a command,
 * wait for the shell prompt, and take what the command printed.
 *
 *   const vm = GuestConsole.start(typevisorCommand(boot));
 *   const bootMs = await vm.waitForShell(manifest.readyMarker);
 *   const { output, status } = await vm.run("uname -a");
 *   vm.type("poweroff");
 *   const exit = await vm.exited();   // { code: 0, signal: null }
 *
 * `run` brackets the command with two echo markers on the same line (split
 * by empty quotes as typed, so the terminal's echo of the line cannot match
 * them): its output is exact even when the line editor wraps a long command,
 * and the command's exit status comes back too. `check` also demands
 * status 0.
 *
 * Every wait has a hang guard — it turns a guest that stops answering into a
 * failure that shows the console so far; it is not a speed assertion.
 * The default is TEST_HANG_GUARD_SECONDS (600 s) per wait.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { TYPEVISOR_BIN, QEMU } from "./run.ts";
import { REPO_ROOT } from "./toolchain.ts";

/**
 * The default guest's prompt (PS1='\h:\w# ' with hostname typevisor). Not
 * anchored at the end: a late kernel message may follow it.
 */
export const DEFAULT_PROMPT = /typevisor:[^\n]*# /;

export const DEFAULT_HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;

/** What to boot: the same description serves QEMU and Typevisor. */
export interface GuestBoot {
  kernel: string;
  initrd?: string;
  append?: string;
  /**
   * M-mode firmware. Omitted: each target's default (QEMU: its bundled
   * OpenSBI; Typevisor: its built-in SBI). A path: that firmware on both.
   */
  bios?: string;
  /** Guest RAM, QEMU syntax (default 256M on both). */
  memory?: string;
  /** Raw disk images, in order: the first is /dev/vda. */
  drives?: { file: string; readOnly?: boolean }[];
  /**
   * A virtio-net NIC after the drives: "null" carries no traffic (QEMU: a
   * hub port with nothing else on the hub), "loopback" sends every frame
   * back to the guest (Typevisor only).
   */
  net?: "null" | "loopback";
  /** A virtio-rng device after the NIC, fed from the host's randomness. */
  rng?: boolean;
  /** Extra arguments appended to the command line. */
  extraArgs?: string[];
}

export type Command = [command: string, args: string[]];

/** `qemu-system-riscv64 -M virt -nographic …` for `boot`. */
export function qemuCommand(boot: GuestBoot): Command {
  const args = ["-M", "virt", "-m", boot.memory ?? "256M", "-nographic"];
  if (boot.bios !== undefined) args.push("-bios", boot.bios);
  args.push("-kernel", boot.kernel);
  if (boot.initrd !== undefined) args.push("-initrd", boot.initrd);
  if (boot.append !== undefined) args.push("-append", boot.append);
  (boot.drives ?? []).forEach((d, i) => {
    const ro = d.readOnly ? ",readonly=on" : "";
    args.push("-drive", `file=${d.file},format=raw,if=none,id=drive${i}${ro}`, "-device", `virtio-blk-device,drive=drive${i}`);
  });
  if (boot.net === "loopback") throw new Error("QEMU has no loopback network backend; use net: \"null\"");
  if (boot.net === "null") args.push("-netdev", "hubport,id=net0,hubid=0", "-device", "virtio-net-device,netdev=net0");
  if (boot.rng) args.push("-device", "virtio-rng-device");
  args.push(...(boot.extraArgs ?? []));
  return [QEMU, args];
}

/** `node bin/typevisor run …` for `boot`. */
export function typevisorCommand(boot: GuestBoot): Command {
  const args = [TYPEVISOR_BIN, "run", "-m", boot.memory ?? "256M"];
  if (boot.bios !== undefined) args.push("--bios", boot.bios);
  args.push("--kernel", boot.kernel);
  if (boot.initrd !== undefined) args.push("--initrd", boot.initrd);
  if (boot.append !== undefined) args.push("--append", boot.append);
  for (const d of boot.drives ?? []) args.push("--drive", `file=${d.file},format=raw${d.readOnly ? ",readonly=on" : ""}`);
  if (boot.net !== undefined) args.push("--net", boot.net);
  if (boot.rng) args.push("--rng");
  args.push(...(boot.extraArgs ?? []));
  return [process.execPath, args];
}

/** A shell command's result: what it printed (CR removed) and its exit status. */
export interface CommandResult {
  output: string;
  status: number;
  /** Host milliseconds from typing the command to its end marker. */
  hostMs: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GuestConsoleOptions {
  /** Per-wait hang guard in ms (default TEST_HANG_GUARD_SECONDS × 1000). */
  hangGuardMs?: number;
  /** The shell prompt (default DEFAULT_PROMPT). */
  prompt?: RegExp;
  /** Names the guest in failure messages (default: the program's name). */
  label?: string;
}

/** Thrown by every wait that fails; carries the console transcript. */
export class GuestConsoleError extends Error {}

export class GuestConsole {
  /** Console output (the child's stdout), carriage returns removed. */
  output = "";
  /** The child's stderr (QEMU warnings, `typevisor:` errors). */
  stderr = "";
  /** performance.now() just before the process was spawned. */
  readonly startedAt: number;
  readonly label: string;
  readonly hangGuardMs: number;
  readonly prompt: RegExp;

  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exit: Promise<Exit>;
  private exitStatus: Exit | null = null;
  /** End offset in `output` and arrival time of every chunk, for timestamps. */
  private readonly chunkEnds: number[] = [];
  private readonly chunkTimes: number[] = [];
  private readonly listeners = new Set<() => void>();
  private sequence = 0;

  static start([command, args]: Command, opts: GuestConsoleOptions = {}): GuestConsole {
    return new GuestConsole(command, args, opts);
  }

  constructor(command: string, args: string[], opts: GuestConsoleOptions = {}) {
    this.label = opts.label ?? (command === process.execPath ? "typevisor" : command);
    this.hangGuardMs = opts.hangGuardMs ?? DEFAULT_HANG_GUARD_MS;
    this.prompt = opts.prompt ?? DEFAULT_PROMPT;
    this.startedAt = performance.now();
    this.child = spawn(command, args, { cwd: REPO_ROOT, stdio: "pipe" });
    // The guest may power off while we still type: a closed pipe is not an error here.
    this.child.stdin.on("error", () => {});
    this.child.stdout.setEncoding("latin1").on("data", (chunk: string) => {
      this.output += chunk.replace(/\r/g, "");
      this.chunkEnds.push(this.output.length);
      this.chunkTimes.push(performance.now());
      this.notify();
    });
    this.child.stderr.setEncoding("latin1").on("data", (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exit = new Promise((resolve) => {
      this.child.on("error", (e) => {
        this.stderr += `failed to start ${command}: ${e.message}\n`;
        this.exitStatus = { code: null, signal: null };
        this.notify();
        resolve(this.exitStatus);
      });
      this.child.on("close", (code, signal) => {
        this.exitStatus = { code, signal };
        this.notify();
        resolve(this.exitStatus);
      });
    });
  }

  /** Milliseconds after start at which output offset `index` had arrived. */
  timeAt(index: number): number {
    let lo = 0;
    let hi = this.chunkEnds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.chunkEnds[mid]! > index) hi = mid;
      else lo = mid + 1;
    }
    return (this.chunkTimes[lo] ?? performance.now()) - this.startedAt;
  }

  /**
   * Waits until the output from offset `from` on matches `pattern`; returns
   * the match (its `index` is relative to the whole output).
   */
  async waitFor(pattern: RegExp | string, from = 0, what?: string): Promise<RegExpExecArray> {
    const re = typeof pattern === "string" ? new RegExp(escapeRegExp(pattern)) : pattern;
    const deadline = performance.now() + this.hangGuardMs;
    for (;;) {
      const m = re.exec(this.output.slice(from));
      if (m) {
        m.index += from;
        return m;
      }
      if (this.exitStatus !== null) this.fail(`the process ended (${describeExit(this.exitStatus)}) before ${what ?? re} appeared`);
      const left = deadline - performance.now();
      if (left <= 0) this.fail(`hang guard: no ${what ?? re} after ${this.hangGuardMs / 1000} s`);
      await this.nextEvent(left);
    }
  }

  /**
   * Waits for the boot marker line, then for the first shell prompt after
   * it. Returns the milliseconds from process start to the marker's arrival.
   */
  async waitForShell(marker: string): Promise<number> {
    const m = await this.waitFor(new RegExp(`${escapeRegExp(marker)}\n`), 0, `the ready marker ${marker}`);
    const markerMs = this.timeAt(m.index + marker.length);
    await this.waitFor(this.prompt, m.index, "the shell prompt");
    await this.check(QUIET_CONSOLE);
    return markerMs;
  }

  /** Types `text` followed by Enter; returns the output offset at that moment. */
  type(text: string): number {
    const from = this.output.length;
    this.child.stdin.write(`${text}\n`, "latin1");
    return from;
  }

  /**
   * Runs a shell command line and waits for it to finish and for the next
   * prompt. `output` is exactly what the command printed (stdout and
   * stderr, as the console shows them). `command` goes on one line between
   * two echo commands, so it must be a plain list (no trailing `&` or `#`).
   */
  async run(command: string): Promise<CommandResult> {
    const n = ++this.sequence;
    const begin = `TV-BEGIN-${n}`;
    const end = `TV-END-${n}`;
    // The empty quotes split each marker in the echoed command line, so only
    // the output of the echo commands matches.
    const typedAt = performance.now();
    const from = this.type(`echo ${split(begin)}; ${command}; echo "${split(end)} $?"`);
    const b = await this.waitFor(`${begin}\n`, from, `the output of \`${command}\``);
    // A prompt before the end marker: the shell abandoned the line (a syntax
    // or arithmetic error, or `exit`), so no end marker will ever come.
    const endOrPrompt = new RegExp(`${end} (\\d+)\n|${this.prompt.source}`);
    const e = await this.waitFor(endOrPrompt, b.index, `the end of \`${command}\``);
    if (e[1] === undefined) this.fail(`the shell abandoned \`${command}\` before its end (see the console below)`);
    const hostMs = performance.now() - typedAt;
    await this.waitFor(this.prompt, e.index, "the shell prompt");
    return { output: this.output.slice(b.index + b[0].length, e.index), status: Number(e[1]), hostMs };
  }

  /** As `run`, but fails unless the command exits with status 0; returns its output. */
  async check(command: string): Promise<string> {
    const r = await this.run(command);
    if (r.status !== 0) this.fail(`\`${command}\` exited with status ${r.status}:\n${r.output}`);
    return r.output;
  }

  /** Waits for the process to end by itself (e.g. after `poweroff`). */
  async exited(): Promise<Exit> {
    const deadline = performance.now() + this.hangGuardMs;
    while (this.exitStatus === null) {
      const left = deadline - performance.now();
      if (left <= 0) this.fail(`hang guard: the process did not exit within ${this.hangGuardMs / 1000} s`);
      await this.nextEvent(left);
    }
    return this.exitStatus;
  }

  /** Kills the process if it still runs (SIGKILL) and waits for it. */
  async kill(): Promise<Exit> {
    if (this.exitStatus === null) this.child.kill("SIGKILL");
    return this.exit;
  }

  /** The console so far and stderr, for failure messages (the tail when long). */
  transcript(maxChars = 6000): string {
    const clip = (s: string) => (s.length > maxChars ? `…${s.slice(-maxChars)}` : s);
    const status = this.exitStatus ? describeExit(this.exitStatus) : "still running";
    return `${this.label} (${status})\n--- console ---\n${clip(this.output)}\n--- stderr ---\n${clip(this.stderr)}`;
  }

  private fail(message: string): never {
    throw new GuestConsoleError(`${this.label}: ${message}\n${this.transcript()}`);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  private nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.listeners.add(done);
    });
  }
}

export function describeExit(e: Exit): string {
  return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Run once the shell is up: the kernel's informational console messages
 * (eth0's "link becomes ready" as DHCP brings it up, mounts) would
 * otherwise land in the middle of a command's output. Warnings and worse
 * (oopses, WARNING splats, panics, power-off) still reach the console.
 */
export const QUIET_CONSOLE = "dmesg -n 5";

/** "TV-END-3" → `TV-E""ND-3`: the shell joins it back into the marker. */
function split(marker: string): string {
  return `${marker.slice(0, 4)}""${marker.slice(4)}`;
}
