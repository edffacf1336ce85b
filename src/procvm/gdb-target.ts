/**
 * The process VM as a GDB target (`typevisor exec -g PORT`): the program's
 * threads are GDB's threads, memory is the selected thread's address space,
 * and run control lives in the scheduler's slices (ProcessVm.sliceRunner).
 *
 * All-stop: while the debugger holds the VM stopped, the scheduler waits in
 * `runSlice` and no guest thread runs. Breakpoints are patched into guest
 * memory as `c.ebreak`/`ebreak` (through `writeForce`, which drops decoded
 * code), so the program runs normal slices until it hits one
 * (`breakpointTrap`); gdb's reads see the original bytes. A breakpoint that
 * cannot be patched (its address not mapped yet) falls back to a pc
 * comparison: while any such is set (or a thread is being stepped), the
 * debugged process's threads run one instruction per `hart.run(1)`. Other
 * processes (fork children) are not debugged: their copy of memory loses
 * the patches, and they run only while the debugger lets the VM run.
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
import { TASK_SIZE, type AddressSpace } from "./address-space.ts";
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

/** A breakpoint written into `space`: the bytes its ebreak covers (2 for a compressed instruction, else 4). */
interface Patch {
  space: AddressSpace;
  original: Uint8Array;
}

const C_EBREAK = new Uint8Array([0x02, 0x90]);
const EBREAK = new Uint8Array([0x73, 0x00, 0x10, 0x00]);

export class ProcessVmTarget implements DebugTarget, SliceRunner {
  readonly targetXml = riscv64TargetXml("GNU/Linux");
  onStop: (reason: StopReason) => void = () => {};
  private mode: Mode = "stopped";
  /** Breakpoints patched into memory, by address. */
  private readonly patches = new Map<number, Patch>();
  /** Breakpoints that could not be patched: compared with pc one instruction at a time. */
  private readonly breakpoints = new Set<number>();
  /** The debugged thread that hit a patched breakpoint in the slice being run. */
  private hit: Thread | null = null;
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
    // gdb sees the instructions, not our ebreaks.
    for (const [at, bp] of this.patches) {
      if (bp.space !== space) continue;
      for (let i = 0; i < bp.original.length; i++) {
        if (at + i >= addr && at + i < addr + done) out[at + i - addr] = bp.original[i];
      }
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
    // A write over a breakpoint changes the instruction it gives back; the ebreak stays.
    for (const [at, bp] of this.patches) {
      if (bp.space !== space || at + bp.original.length <= addr || at >= addr + data.length) continue;
      for (let i = 0; i < bp.original.length; i++) {
        if (at + i >= addr && at + i < addr + data.length) bp.original[i] = data[at + i - addr];
      }
      this.poke(space, at, ebreakFor(bp.original));
    }
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
    const space = this.debugged?.exited === false ? this.debugged.space : null;
    if (addr === null || space === null) return; // never reached in user space
    const bp = this.patches.get(addr);
    if (bp !== undefined && bp.space !== space) this.patches.delete(addr); // its image was replaced by execve
    if (!present) {
      this.breakpoints.delete(addr);
      if (bp?.space !== space) return;
      this.patches.delete(addr);
      this.poke(space, addr, bp.original);
      return;
    }
    if (bp?.space === space || this.breakpoints.has(addr)) return; // gdb may insert one twice
    const original = this.instructionAt(space, addr);
    if (original === null) {
      this.breakpoints.add(addr);
      return;
    }
    this.patches.set(addr, { space, original });
    this.poke(space, addr, ebreakFor(original));
  }

  /** The instruction's bytes at `addr` (2 or 4), or null where memory cannot hold a patch. */
  private instructionAt(space: AddressSpace, addr: number): Uint8Array | null {
    if (space.vmaAt(addr) === null) return null;
    const low = space.read(addr, 2);
    if (low === null) return null;
    const len = (low[0] & 3) === 3 ? 4 : 2;
    if (len === 4 && space.vmaAt(addr + 3) === null) return null;
    return space.read(addr, len);
  }

  /** Writes `bytes` at `addr` whatever the page's protection; decoded code there is dropped (docs/cpu.md). */
  private poke(space: AddressSpace, addr: number, bytes: Uint8Array): void {
    space.writeForce(addr, bytes);
    this.vm.hart.flushTlb(); // a copy-on-write break replaced the frame under a cached translation
  }

  /** Takes every patch out of the debugged process's memory (it runs on without a debugger). */
  private unpatchAll(): void {
    const p = this.debugged;
    for (const [at, bp] of this.patches) {
      if (p !== null && !p.exited && bp.space === p.space) this.poke(bp.space, at, bp.original);
    }
    this.patches.clear();
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
    this.unpatchAll();
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

  breakpointTrap(t: Thread): boolean {
    if (this.mode === "detached") return false;
    const bp = this.patches.get(getPc(this.vm.hart.state.w));
    if (bp === undefined || bp.space !== t.process.space) return false; // the program's own ebreak: SIGTRAP
    if (t.process === this.debugged) this.hit = t;
    // Another process sharing the memory (a vfork child) steps over it at its next slice.
    return true;
  }

  spaceForked(parent: AddressSpace, child: AddressSpace): void {
    for (const [at, bp] of this.patches) if (bp.space === parent) child.writeForce(at, bp.original);
  }

  /**
   * Runs `t`, whose pc is at a patched breakpoint, through the instruction
   * the patch covers: the original goes back for that one instruction, then
   * the ebreak. Nothing else runs meanwhile (one hart, all-stop).
   */
  private stepOverPatch(t: Thread): void {
    const w = this.vm.hart.state.w;
    const pc = getPc(w);
    const bp = this.patches.get(pc);
    if (bp === undefined || bp.space !== t.process.space) return;
    this.poke(bp.space, pc, bp.original);
    // A page fault (a stack page touched first) leaves pc in place and the instruction runs again.
    for (let tries = 0; tries < 4; tries++) {
      this.vm.hart.run(1);
      if (getPc(w) !== pc || t.state !== "runnable" || this.vm.current !== t || this.vm.sliceEnd || this.held !== null) break;
    }
    if (this.patches.get(pc) === bp && bp.space.users > 0) this.poke(bp.space, pc, ebreakFor(bp.original));
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
      if (this.mode !== "detached") this.stepOverPatch(t);
      if (t.state === "runnable" && vm.current === t && !vm.sliceEnd) vm.hart.run(budget);
      this.checkEnded();
      return;
    }
    const w = vm.hart.state.w;
    const pc = getPc(w);
    if (this.stepTid === t.tid && pc !== this.stepPc) return this.stop(trap(t)); // its system call completed, or a signal handler begins
    const resumedHere = t.tid === this.skipTid && pc === this.skipPc;
    if (this.breakpoints.has(pc) && !resumedHere) return this.stop(trap(t, true));
    if (resumedHere && this.patches.has(pc)) {
      this.skipTid = 0;
      this.stepOverPatch(t);
      if (this.stopForHeldSignal()) return;
      if (t.state !== "runnable" || vm.current !== t || vm.sliceEnd) return this.checkEnded();
      if (this.stepTid === t.tid) return this.stop(trap(t));
      if (this.breakpoints.has(getPc(w))) return this.stop(trap(t, true));
    }
    if (this.breakpoints.size === 0 && this.stepTid !== t.tid) {
      vm.hart.run(budget);
      if (this.stopForHit(t) || this.stopForHeldSignal()) return;
      this.checkEnded();
      return;
    }
    const limit = Math.min(budget, CAREFUL_SLICE);
    for (let n = 0; n < limit; n++) {
      vm.hart.run(1);
      if (t.tid === this.skipTid) this.skipTid = 0;
      if (this.stopForHit(t) || this.stopForHeldSignal()) return;
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

  /** `t` hit a patched breakpoint in the slice: stop and report it. */
  private stopForHit(t: Thread): boolean {
    if (this.hit !== t) return false;
    this.hit = null;
    this.stop(trap(t, true));
    return true;
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
    this.patches.clear(); // the memory went with the process
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

/** The ebreak that covers an instruction of `original`'s length. */
function ebreakFor(original: Uint8Array): Uint8Array {
  return original.length === 2 ? C_EBREAK : EBREAK;
}

function trap(t: Thread, swbreak = false): StopReason {
  return { kind: "signal", signal: GDB_SIGTRAP, thread: t.tid, swbreak };
}

/** A user-space address as a number, or null above the user range. */
function userAddress(a: bigint): number | null {
  return a < BigInt(TASK_SIZE) ? Number(a) : null;
}
