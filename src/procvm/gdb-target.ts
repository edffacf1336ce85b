/**
 * The process VM as a GDB target (`typevisor exec -g PORT`): the program's
 * threads are GDB's threads, memory is the selected thread's address space,
 * and run control lives in the scheduler's slices (ProcessVm.sliceRunner).
 *
 * All-stop: while the debugger holds the VM stopped, the scheduler waits in
 * `runSlice` and no guest thread runs. Breakpoints are not written into
 * guest memory: while any is set (or a thread is being stepped), the
 * debugged process's threads run one instruction per `hart.run(1)` and
 * their pc is compared with the set after each; with none set they run
 * normal slices. Other processes (fork children) are not debugged: they run
 * normal slices, but only while the debugger lets the VM run.
 *
 * Signals stop the VM as under qemu-user (its gdb_handlesig): when a thread
 * of the program is about to take one (a fault of its own instruction, or a
 * pending signal), the kernel asks `interceptSignal`, which holds it and
 * reports `T<sig>`; the signal gdb resumes with (`C`) is delivered in its
 * place, none with `c`.
 */
import { FFLAGS, FRM, F, PC, X } from "../cpu/hart-state.ts";
import { GDB_SIGINT, GDB_SIGTRAP, gdbSignal, linuxSignal, type DebugTarget, type ResumeAction, type StopReason } from "../debug/debug-target.ts";
import { readStateRegister, riscv64TargetXml, writeStateRegister, type StateLayout } from "../debug/riscv-registers.ts";
import { TASK_SIZE } from "./address-space.ts";
import { PAGE_SIZE } from "./phys-pages.ts";
import { getPc, type ProcessVm, type SliceRunner } from "./kernel.ts";
import type { Process, Thread } from "./process.ts";
import { SI_USER, type SigInfo } from "./signals.ts";

const LAYOUT: StateLayout = { x: X, f: F, pc: PC, fflags: FFLAGS, frm: FRM };
/**
 * Instructions per slice while breakpoints are checked one instruction at a
 * time: smaller than a normal slice so gdb's Ctrl-C and host events are
 * seen within a few tens of milliseconds.
 */
const CAREFUL_SLICE = 100_000;

type Mode = "stopped" | "running" | "detached";

export class ProcessVmTarget implements DebugTarget, SliceRunner {
  readonly targetXml = riscv64TargetXml("GNU/Linux");
  onStop: (reason: StopReason) => void = () => {};
  private mode: Mode = "stopped";
  private readonly breakpoints = new Set<number>();
  /** The thread being single-stepped (0: none) and its pc when the step began. */
  private stepTid = 0;
  private stepPc = 0;
  /** A thread resumed on a breakpoint's address executes it before the address counts again. */
  private skipTid = 0;
  private skipPc = -1;
  /** The thread stops and `?` report. */
  private focus: number;
  private wake: (() => void) | null = null;
  private ended = false;
  /** The signal a thread was about to take when the VM stopped for it: reported, then replaced by gdb's choice on resume. */
  private held: { thread: Thread; info: SigInfo } | null = null;
  /** Signals gdb let through on resume: delivered without another stop. */
  private readonly passed = new WeakSet<SigInfo>();

  constructor(private readonly vm: ProcessVm) {
    this.focus = vm.initial?.threads[0]?.tid ?? 0;
    vm.sliceRunner = this;
  }

  private get debugged(): Process | null {
    return this.vm.initial;
  }

  // ---- DebugTarget ----------------------------------------------------------

  threadIds(): number[] {
    const p = this.debugged;
    return p === null || p.exited ? [] : p.threads.map((t) => t.tid);
  }

  currentThread(): number {
    const ids = this.threadIds();
    return ids.includes(this.focus) ? this.focus : (ids[0] ?? this.focus);
  }

  private thread(tid: number): Thread | null {
    const p = this.debugged;
    if (p === null) return null;
    return p.threads.find((t) => t.tid === tid) ?? p.threads[0] ?? null;
  }

  readRegister(tid: number, regno: number): Uint8Array | null {
    const t = this.thread(tid);
    return t === null ? null : readStateRegister(this.vm.regsOf(t), LAYOUT, regno);
  }

  writeRegister(tid: number, regno: number, value: Uint8Array): boolean {
    const t = this.thread(tid);
    return t !== null && writeStateRegister(this.vm.regsOf(t), LAYOUT, regno, value);
  }

  readMemory(tid: number, address: bigint, len: number): Uint8Array {
    const t = this.thread(tid);
    const addr = userAddress(address);
    if (t === null || len <= 0 || addr === null) return new Uint8Array(0);
    const space = t.process.space;
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = Math.min(PAGE_SIZE - ((addr + done) % PAGE_SIZE), len - done);
      const piece = space.vmaAt(addr + done) !== null ? space.read(addr + done, n) : null;
      if (piece === null) break;
      out.set(piece, done);
      done += n;
    }
    return out.subarray(0, done);
  }

  writeMemory(tid: number, address: bigint, data: Uint8Array): boolean {
    const t = this.thread(tid);
    const addr = userAddress(address);
    if (t === null || addr === null) return false;
    const space = t.process.space;
    for (let a = addr - (addr % PAGE_SIZE); a < addr + data.length; a += PAGE_SIZE) {
      if (space.vmaAt(Math.max(a, addr)) === null) return false;
    }
    space.writeForce(addr, data);
    this.vm.hart.flushTlb(); // a copy-on-write page may have been replaced under a cached translation
    return true;
  }

  auxv(): Uint8Array {
    const p = this.debugged;
    const entries = p?.startup.auxv ?? [];
    const out = new Uint8Array(entries.length * 16);
    const dv = new DataView(out.buffer);
    entries.forEach(([type, value], i) => {
      dv.setBigUint64(i * 16, BigInt(type), true);
      dv.setBigUint64(i * 16 + 8, BigInt(value), true);
    });
    return out;
  }

  execFile(): string {
    return this.debugged?.exePath ?? "";
  }

  resume(action: ResumeAction): void {
    if (this.mode !== "stopped") return;
    this.settleHeldSignal(linuxSignal(action.signal ?? 0));
    this.stepTid = 0;
    if (action.kind === "step") {
      const t = this.thread(action.thread);
      if (t !== null) {
        this.stepTid = t.tid;
        this.stepPc = getPc(this.vm.regsOf(t));
        this.focus = t.tid;
      }
    }
    const f = this.thread(this.focus);
    this.skipTid = f?.tid ?? 0;
    this.skipPc = f !== null ? getPc(this.vm.regsOf(f)) : -1;
    this.setMode("running");
  }

  interrupt(): void {
    // Called from the socket's event, i.e. between slices: nothing runs until resume.
    if (this.mode === "running") this.stop({ kind: "signal", signal: GDB_SIGINT, thread: this.currentThread() });
  }

  setBreakpoint(address: bigint, present: boolean): void {
    const addr = userAddress(address);
    if (addr === null) return; // never reached in user space
    if (present) this.breakpoints.add(addr);
    else this.breakpoints.delete(addr);
  }

  attach(): void {
    // The program waits for the debugger from its first instruction: nothing to stop.
  }

  kill(): void {
    this.ended = true;
    this.setMode("detached");
    for (const p of [...this.vm.processes.values()]) if (p.alive) this.vm.killProcess(p, 9);
  }

  detach(): void {
    this.breakpoints.clear();
    this.stepTid = 0;
    this.held = null; // a held signal stays first in its thread's queue and is delivered
    this.setMode("detached");
  }

  /**
   * On resume: the held signal gives way to `signo` (Linux's; 0: none), as
   * ptrace's PTRACE_CONT with a signal does. With no signal held, `signo`
   * is sent to the focus thread (gdb's `signal SIG` after a breakpoint).
   */
  private settleHeldSignal(signo: number): void {
    const held = this.held;
    this.held = null;
    let t = held?.thread ?? this.thread(this.focus);
    if (held !== null) {
      const i = held.thread.pending.indexOf(held.info);
      if (i >= 0) held.thread.pending.splice(i, 1);
      if (held.thread.state === "dead") t = null;
    }
    if (t === null || signo === 0) return;
    const info: SigInfo = held !== null && held.info.signo === signo ? held.info : { signo, code: SI_USER };
    this.passed.add(info);
    t.pending.unshift(info);
  }

  // ---- SliceRunner ------------------------------------------------------------

  interceptSignal(t: Thread, info: SigInfo): SigInfo | null | "hold" {
    if (this.passed.delete(info) || this.mode === "detached" || t.process !== this.debugged) return info;
    // While stopped (another thread's stop is being looked at), it waits and comes back after the resume.
    if (this.mode === "running" && this.held === null) this.held = { thread: t, info };
    return "hold";
  }

  async runSlice(t: Thread, budget: number): Promise<void> {
    const vm = this.vm;
    if (this.stopForHeldSignal()) return; // taken before the slice
    if (this.mode === "stopped") {
      while (this.mode === "stopped") await new Promise<void>((resolve) => (this.wake = resolve));
      if (t.state !== "runnable" || vm.current !== t) return; // killed or changed while stopped
      vm.deliverSignals(t); // what gdb resumed it with, before it runs on
      if (this.stopForHeldSignal()) return;
      this.checkEnded();
    }
    if (t.state !== "runnable" || vm.current !== t) return;
    if (this.mode === "detached" || t.process !== this.debugged) {
      vm.hart.run(budget);
      this.checkEnded();
      return;
    }
    const w = vm.hart.state.w;
    const pc = getPc(w);
    if (this.stepTid === t.tid && pc !== this.stepPc) return this.stop(trap(t)); // its system call completed, or a signal handler begins
    if (this.breakpoints.has(pc) && !(t.tid === this.skipTid && pc === this.skipPc)) return this.stop(trap(t, true));
    if (this.breakpoints.size === 0 && this.stepTid !== t.tid) {
      vm.hart.run(budget);
      if (this.stopForHeldSignal()) return;
      this.checkEnded();
      return;
    }
    const limit = Math.min(budget, CAREFUL_SLICE);
    for (let n = 0; n < limit; n++) {
      vm.hart.run(1);
      if (t.tid === this.skipTid) this.skipTid = 0;
      if (this.stopForHeldSignal()) return;
      if (t.state !== "runnable" || vm.current !== t) break;
      if (this.stepTid === t.tid) return this.stop(trap(t));
      if (this.breakpoints.has(getPc(w))) return this.stop(trap(t, true));
      if (vm.sliceEnd) break;
    }
    this.checkEnded();
  }

  /** After vm.run() returns: report the end if no slice has. */
  finish(): void {
    this.checkEnded();
  }

  /** A signal was held while running: stop and report it. */
  private stopForHeldSignal(): boolean {
    const held = this.held;
    if (held === null || this.mode !== "running") return false;
    this.stop({ kind: "signal", signal: gdbSignal(held.info.signo), thread: held.thread.tid });
    return true;
  }

  private checkEnded(): void {
    const p = this.debugged;
    if (p === null || !p.exited || this.ended) return;
    this.ended = true;
    this.breakpoints.clear();
    this.setMode("detached");
    const sig = p.waitStatus & 0x7f;
    this.onStop(sig !== 0 ? { kind: "killed", signal: gdbSignal(sig) } : { kind: "exited", code: (p.waitStatus >> 8) & 0xff });
  }

  private stop(reason: StopReason): void {
    if (reason.kind === "signal") this.focus = reason.thread;
    this.stepTid = 0;
    this.mode = "stopped";
    this.onStop(reason);
  }

  private setMode(mode: Mode): void {
    this.mode = mode;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

function trap(t: Thread, swbreak = false): StopReason {
  return { kind: "signal", signal: GDB_SIGTRAP, thread: t.tid, swbreak };
}

/** A user-space address as a number, or null above the user range. */
function userAddress(a: bigint): number | null {
  return a < BigInt(TASK_SIZE) ? Number(a) : null;
}
