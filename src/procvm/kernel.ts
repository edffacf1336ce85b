/**
 * The process VM's kernel: runs riscv64 Linux programs in U-mode on one
 * Typevisor hart and serves their system calls.
 *
 * Every guest process and thread shares the one hart. The scheduler runs a
 * runnable thread for a time slice (`hart.run(budget)`), switching register
 * state and `satp` between threads; every trap from U-mode comes to
 * `onTrap` through `hart.hostTrap`: system calls (ecall), page faults
 * (demand paging, copy-on-write, else SIGSEGV) and other exceptions
 * (signals). A call that must wait parks its thread with pc still on the
 * ecall and a `retry` that the scheduler calls until it completes.
 */
import * as fs from "node:fs";
import { escapeText } from "../util/escape-text.ts";
import { Fifos } from "./fifo.ts";
import { performance } from "node:perf_hooks";
import { Hart } from "../cpu/hart.ts";
import { MCOUNTEREN, MSTATUS, PC, PRIV, RES_VALID, SATP, SCOUNTEREN, X } from "../cpu/hart-state.ts";
import { createVmMemory } from "../cpu/layout.ts";
import { Bus } from "../machine/bus.ts";
import { HostClock } from "../machine/clock.ts";
import { ERRNO, SYSCALL_NAMES, errnoName } from "./abi.ts";
import { AddressSpace, type Access } from "./address-space.ts";
import { ExecError, execImage, type ExecFiles } from "./exec-image.ts";
import { FdTable, HostFile, O_RDONLY, O_WRONLY, WOULD_BLOCK, hostSleep } from "./files.ts";
import { PAGE_SIZE, PhysPages, OutOfGuestMemory } from "./phys-pages.ts";
import { CONTEXT_WORDS, Process, Thread, type Blocked } from "./process.ts";
import { Paths, closeDirectoryHandle, openDirectoryHandle } from "./paths.ts";
import {
  BUS_ADRALN, BUS_ADRERR, CLD_DUMPED, CLD_EXITED, CLD_KILLED, ILL_ILLOPC, SA_NOCLDWAIT, SA_NODEFER, SA_RESETHAND, SA_RESTART,
  SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGCHLD, SIGALRM, SIGILL, SIGKILL, SIGNAL_DESCRIPTIONS, SIGSEGV, SIGTRAP, SIG_DFL,
  SIG_IGN, SI_KERNEL, TRAP_BRKPT, UNBLOCKABLE, defaultAction, pushSignalFrame, sigBit, signalName,
  type SigInfo,
} from "./signals.ts";
import { SYSCALLS, type SyscallHandler } from "./syscalls/table.ts";
import { formatSyscall } from "./trace.ts";

/** Returned by a handler that replaced the thread's context (execve, rt_sigreturn, exit). */
export const NO_RETURN = -0x10001;

const REG_A0 = 10;
const REG_A7 = 17;
const REG_SP = 2;
const REG_TP = 4;

/** Instructions per time slice when several threads are runnable / when one is. */
const SLICE_SHARED = 200_000;
const SLICE_ALONE = 5_000_000;
/** The scheduler lets the host's event loop turn (host signals) at least this often, in ms. */
const YIELD_EVERY_MS = 20;
/** How often a thread waiting on a host terminal has it polled again, in ms. */
const HOST_POLL_MS = 10;

export interface ProcessVmOptions {
  /** Guest memory pool in bytes (default 1 GiB). */
  memoryBytes?: number;
  /** Sysroot searched first for absolute paths (qemu-user's -L). */
  ldPrefix?: string | null;
  /** strace-like trace of every system call to `traceFd`. */
  traceSyscalls?: boolean;
  traceFd?: number;
  /** Where diagnostics go (default 2). */
  diagFd?: number;
}

/**
 * Runs a thread's time slice in place of the plain `hart.run(budget)`: the
 * debugger (procvm/gdb-target.ts) checks breakpoints and holds the VM
 * stopped from here. It returns early when the slice must end: the thread
 * stopped running (`current`, `state`) or `sliceEnd` was set.
 */
export interface SliceRunner {
  runSlice(t: Thread, budget: number): void | Promise<void>;
  /**
   * `t` is about to take `info` (a fault of its own instruction or a pending
   * signal): returns what to deliver (`info`, another signal, or null for
   * none), or "hold" to leave `info` first in `t.pending` and end the slice
   * (the debugger stops the VM and reports it).
   */
  interceptSignal(t: Thread, info: SigInfo): SigInfo | null | "hold";
  /**
   * `t` executed an `ebreak` (cause 3): true when it is one the debugger
   * patched in, which it then handles (no SIGTRAP; the slice ends with pc
   * still at the breakpoint).
   */
  breakpointTrap(t: Thread): boolean;
  /** `child` was forked from `parent` (a copy-on-write copy, not a shared space): the debugger's patches must go from it. */
  spaceForked(parent: AddressSpace, child: AddressSpace): void;
}

export class SyscallArgs {
  /** Unsigned values (exact below 2^53). */
  readonly u = new Float64Array(6);
  /** Low 32 bits, signed: ints and fds. */
  readonly i = new Int32Array(6);
  readonly hi = new Int32Array(6);

  load(w: Int32Array): void {
    for (let n = 0; n < 6; n++) {
      const lo = w[X + 2 * (REG_A0 + n)];
      const hi = w[X + 2 * (REG_A0 + n) + 1];
      this.i[n] = lo;
      this.hi[n] = hi;
      this.u[n] = (hi >>> 0) * 0x1_0000_0000 + (lo >>> 0);
    }
  }

  /** Argument n as a signed 64-bit value. */
  s64(n: number): bigint {
    return (BigInt(this.hi[n]) << 32n) | BigInt(this.i[n] >>> 0);
  }

  /** Argument n as a signed number (exact within ±2^53). */
  s(n: number): number {
    return this.hi[n] * 0x1_0000_0000 + (this.i[n] >>> 0);
  }
}

export class ProcessVm {
  readonly memory: WebAssembly.Memory;
  readonly bus: Bus;
  readonly hart: Hart;
  readonly phys: PhysPages;
  readonly paths: Paths;
  /** Named pipes open in this VM, by host inode. */
  readonly fifos = new Fifos();
  readonly processes = new Map<number, Process>();
  /** Every live thread, in round-robin order. */
  readonly threads: Thread[] = [];
  readonly futexes = new Map<string, Thread[]>();
  readonly trace: boolean;
  private readonly traceFd: number;
  private readonly diagFd: number;
  private readonly unimplementedSeen = new Set<number>();
  private readonly args = new SyscallArgs();
  private nextPid: number;
  private rr = -1;
  /** Earliest pending interval-timer expiry. */
  private timerDeadline = Infinity;
  /** The thread whose registers are on the hart. */
  private onHart: Thread | null = null;
  private spaceOnHart: AddressSpace | null = null;
  /** The thread the hart is running right now (inside hart.run). */
  current: Thread | null = null;
  /** Runs slices instead of the plain hart.run when a debugger is attached. */
  sliceRunner: SliceRunner | null = null;
  /** The current slice must end after this trap (sched_yield, vfork): read by a SliceRunner. */
  sliceEnd = false;
  /** Faults with no handler queued for a debugger's look (fault()): their diagnostic is due when they kill. */
  private readonly fatalFaults = new WeakSet<SigInfo>();
  initial: Process | null = null;
  /** What the host process exits with. */
  exitCode = 0;
  /** The guest's wait status of the first process once it has ended (signal in the low 7 bits). */
  initialWaitStatus = 0;
  /** The terminal's foreground process group (TIOCSPGRP); 0 until set: the first process's group. */
  foregroundPgid = 0;
  /** Terminal signals (Ctrl-C, Ctrl-\) from the host, for the foreground process group. */
  private readonly terminalSignals: number[] = [];
  /** Ends the scheduler's current idle wait early. */
  private wakeIdle: (() => void) | null = null;
  readonly startNs = process.hrtime.bigint();
  readonly creds = {
    uid: process.getuid?.() ?? 0,
    euid: process.geteuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    egid: process.getegid?.() ?? 0,
  };

  constructor(options: ProcessVmOptions = {}) {
    const bytes = options.memoryBytes ?? 1 << 30;
    this.memory = createVmMemory(bytes);
    this.bus = new Bus(this.memory, bytes);
    this.hart = new Hart(this.memory, 0, this.bus, new HostClock());
    this.hart.hostTrap = (_h, cause, tval) => this.onTrap(cause, tval);
    this.phys = new PhysPages(this.bus.ram);
    this.paths = new Paths(options.ldPrefix ?? null);
    this.trace = options.traceSyscalls === true;
    this.traceFd = options.traceFd ?? 2;
    this.diagFd = options.diagFd ?? 2;
    this.nextPid = process.pid;
    const w = this.hart.state.w;
    w[PRIV] = 0;
    // mstatus: FS = dirty (FPU on for U-mode), UXL = SXL = 64-bit.
    w[MSTATUS] = 3 << 13;
    w[MSTATUS + 1] = 0xa;
    w[MCOUNTEREN] = 7;
    w[SCOUNTEREN] = 7;
  }

  // ---- start-up ----------------------------------------------------------------

  readonly files: ExecFiles = {
    readExecutable: (path: string) => this.readExecutable(path, null),
  };

  private readExecutable(path: string, proc: Process | null): { bytes: Uint8Array; hostPath: string } {
    const host = this.paths.resolveForExec(path, proc);
    try {
      const st = fs.statSync(host);
      if (st.isDirectory()) throw new ExecError("EACCES", `${path}: is a directory`);
      if (!st.isFile()) throw new ExecError("EACCES", `${path}: not a regular file`);
      fs.accessSync(host, fs.constants.X_OK);
      return { bytes: fs.readFileSync(host), hostPath: fs.realpathSync(host) };
    } catch (e) {
      if (e instanceof ExecError) throw e;
      const code = (e as { code?: string }).code ?? "EIO";
      throw new ExecError(code, `${path}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code}`);
    }
  }

  /**
   * Creates the first process running `path` with stdio on host fds 0-2.
   * Throws ExecError when the program cannot be loaded.
   */
  spawn(path: string, argv: string[], envp: string[]): Process {
    const image = execImage(this.phys, this.files, path, argv, envp, this.creds);
    const fds = new FdTable();
    for (const fd of [0, 1, 2]) {
      try {
        fs.fstatSync(fd);
      } catch {
        continue;
      }
      fds.placeAt(fd, new HostFile(fd, fd === 0 ? O_RDONLY : O_WRONLY, `/dev/fd/${fd}`, false), false);
    }
    const p = new Process(this.allocPid(), image.space, fds, process.cwd(), Math.max(-1, openDirectoryHandle(process.cwd())));
    // The guest's umask is applied by us; the host's must not mask a second time.
    p.umask = process.umask(0);
    p.exePath = image.hostPath;
    p.startup = image.startup;
    p.sigreturn = image.sigreturn;
    p.comm = commOf(image.argv[0]);
    const t = new Thread(p.pid, p);
    setReg(t.regs, REG_SP, image.sp);
    setPc(t.regs, image.pc);
    this.addProcess(p);
    this.addThread(t);
    this.initial = p;
    return p;
  }

  allocPid(): number {
    const pid = this.nextPid;
    this.nextPid = pid >= 4_000_000 ? 2 : pid + 1;
    return pid;
  }

  addProcess(p: Process): void {
    this.processes.set(p.pid, p);
  }

  addThread(t: Thread): void {
    t.process.threads.push(t);
    this.threads.push(t);
  }

  // ---- the scheduler -----------------------------------------------------------

  /**
   * Runs until every guest process has ended; returns the host exit code.
   * Guest code runs synchronously in slices; between slices, at least every
   * YIELD_EVERY_MS, and whenever every thread waits, the host's event loop
   * turns, so host signal handlers (terminalSignal) run.
   */
  async run(): Promise<number> {
    let yieldAt = performance.now() + YIELD_EVERY_MS;
    for (;;) {
      if (performance.now() >= yieldAt) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        yieldAt = performance.now() + YIELD_EVERY_MS;
      }
      if (this.terminalSignals.length > 0) this.deliverTerminalSignals();
      const t = this.pickThread();
      if (t === null) {
        if (this.threads.length === 0) return this.exitCode;
        await this.idle();
        yieldAt = performance.now() + YIELD_EVERY_MS;
        continue;
      }
      this.switchTo(t);
      this.deliverSignals(t);
      if (t.state !== "runnable") continue;
      this.current = t;
      try {
        const budget = this.runnableCount() > 1 ? SLICE_SHARED : SLICE_ALONE;
        this.sliceEnd = false;
        if (this.sliceRunner === null) this.hart.run(budget);
        else await this.sliceRunner.runSlice(t, budget);
      } catch (e) {
        this.current = null;
        if (e instanceof OutOfGuestMemory) {
          this.diag(`typevisor: ${e.message}`);
          this.killProcess(t.process, SIGKILL);
          continue;
        }
        throw e;
      }
      this.current = null;
    }
  }

  private runnableCount(): number {
    let n = 0;
    for (const t of this.threads) if (t.state === "runnable") n++;
    return n;
  }

  /** Fires expired interval timers (alarm / ITIMER_REAL as SIGALRM) and POSIX timers; returns the next expiry. */
  private fireTimers(): number {
    let next = Infinity;
    const now = performance.now();
    for (const p of this.processes.values()) {
      if (!p.alive) continue;
      if (p.alarmAt !== 0 && now >= p.alarmAt) {
        this.sendToProcess(p, { signo: SIGALRM, code: SI_KERNEL });
        p.alarmAt = p.alarmInterval > 0 ? Math.max(now, p.alarmAt + p.alarmInterval) : 0;
      }
      if (p.alarmAt !== 0) next = Math.min(next, p.alarmAt);
      if (p.timers.size > 0) next = Math.min(next, p.timers.fire(p, this, now));
    }
    return next;
  }

  /** Next runnable thread after the last one, completing waits on the way. */
  private pickThread(): Thread | null {
    this.timerDeadline = this.fireTimers();
    const list = this.threads;
    const n = list.length;
    for (let k = 1; k <= n; k++) {
      const i = (this.rr + k) % n;
      const t = list[i];
      if (t.state === "blocked") this.tryUnblock(t);
      if (t.state === "runnable") {
        this.rr = i;
        return t;
      }
    }
    return null;
  }

  /**
   * Nothing can run: wait until the earliest timeout (or forever, as a
   * deadlocked Linux program would), letting the event loop run meanwhile;
   * a terminal signal ends the wait at once.
   */
  private async idle(): Promise<void> {
    const now = performance.now();
    let deadline = this.timerDeadline;
    for (const t of this.threads) {
      const b = t.blocked;
      if (b !== null) deadline = Math.min(deadline, b.pollsHost === true ? now + HOST_POLL_MS : b.deadline);
    }
    const wait = Math.min(deadline - now, 1000);
    if (wait <= 0 || this.terminalSignals.length > 0) return;
    if (wait < 2) {
      hostSleep(wait); // finer than a timer
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wakeIdle?.(), wait);
      this.wakeIdle = () => {
        clearTimeout(timer);
        this.wakeIdle = null;
        resolve();
      };
    });
  }

  /**
   * A terminal signal from the host (SIGINT for Ctrl-C, SIGQUIT for
   * Ctrl-\): queued for the guest's foreground process group, delivered by
   * the scheduler. Called from host signal handlers.
   */
  terminalSignal(sig: number): void {
    this.terminalSignals.push(sig);
    this.wakeIdle?.();
  }

  /**
   * Host-side I/O arrived for the guest (a host socket's data, a connection):
   * ends an idle wait at once so blocked threads retry their calls now.
   * Called from host event handlers.
   */
  notifyHostEvent(): void {
    this.wakeIdle?.();
  }

  /** The terminal's foreground process group: as set by TIOCSPGRP, else the first process's. */
  foregroundGroup(): number {
    return this.foregroundPgid !== 0 ? this.foregroundPgid : (this.initial?.pgid ?? 0);
  }

  /**
   * Sends queued terminal signals to every process of the foreground group,
   * as the tty driver does; to every guest process when that group has none
   * left (so Ctrl-C never goes nowhere).
   */
  private deliverTerminalSignals(): void {
    const live = [...this.processes.values()].filter((p) => p.alive);
    const group = live.filter((p) => p.pgid === this.foregroundGroup());
    for (const sig of this.terminalSignals.splice(0)) {
      for (const p of group.length > 0 ? group : live) this.sendToProcess(p, { signo: sig, code: SI_KERNEL });
    }
  }

  private tryUnblock(t: Thread): void {
    const b = t.blocked!;
    if (b.interruptible !== false && this.signalInterrupts(t)) {
      b.cancel?.();
      t.blocked = null;
      t.state = "runnable";
      const restart = b.restartable && this.nextSignalRestarts(t);
      if (!restart) this.completeSyscall(t, b.interruptedResult ?? -ERRNO.EINTR);
      if (this.trace) this.traceResumed(t, restart ? "restarted after a signal" : -ERRNO.EINTR);
      return;
    }
    const r = b.retry();
    if (r === WOULD_BLOCK) return;
    t.blocked = null;
    t.state = "runnable";
    this.finishSyscall(t, r);
    if (this.trace) this.traceResumed(t, r);
  }

  private traceResumed(t: Thread, result: number | string): void {
    const name = SYSCALL_NAMES[t.blockedSyscall] ?? `syscall_${t.blockedSyscall}`;
    const shown = typeof result === "string" ? result : result < 0 ? `-1 ${errnoName(-result)}` : String(result);
    this.traceLine(`[${t.tid}] <... ${name} resumed> = ${shown}`);
  }

  private switchTo(t: Thread): void {
    if (this.onHart !== t) {
      const w = this.hart.state.w;
      const prev = this.onHart;
      if (prev !== null && prev.state !== "dead") prev.regs.set(w.subarray(0, CONTEXT_WORDS));
      w.set(t.regs, 0);
      w[PRIV] = 0;
      w[RES_VALID] = 0;
      this.onHart = t;
    }
    this.useSpace(t.process.space);
  }

  private useSpace(space: AddressSpace): void {
    if (this.spaceOnHart === space && !space.tlbStale) return;
    const [lo, hi] = space.satpWords();
    const w = this.hart.state.w;
    w[SATP] = lo;
    w[SATP + 1] = hi;
    space.tlbStale = false;
    this.spaceOnHart = space;
    this.hart.flushTlb();
  }

  /** The register words of `t`: the hart's while it is on the hart, else its saved copy. */
  regsOf(t: Thread): Int32Array {
    return t === this.onHart ? this.hart.state.w : t.regs;
  }

  // ---- traps -------------------------------------------------------------------

  private onTrap(cause: number, tval: number): boolean {
    const t = this.current;
    // A thread that blocked or ended is parked on its ecall until run() returns.
    if (t === null || t.state !== "runnable") return true;
    switch (cause) {
      case 8:
        this.syscall(t);
        break;
      case 12:
      case 13:
      case 15:
        this.pageFault(t, tval, cause === 12 ? "exec" : cause === 13 ? "read" : "write");
        break;
      case 2:
        this.fault(t, { signo: SIGILL, code: ILL_ILLOPC, addr: getPc(this.hart.state.w) });
        break;
      case 3:
        if (this.sliceRunner?.breakpointTrap(t) === true) {
          this.sliceEnd = true;
          this.hart.requestStop();
          return true;
        }
        this.fault(t, { signo: SIGTRAP, code: TRAP_BRKPT, addr: getPc(this.hart.state.w) });
        break;
      case 0:
      case 4:
      case 6:
        this.fault(t, { signo: SIGBUS, code: BUS_ADRALN, addr: tval });
        break;
      default:
        this.fault(t, { signo: SIGSEGV, code: SEGV_MAPERR, addr: tval });
    }
    if (t.state === "runnable" && t === this.current) {
      const space = t.process.space;
      if (space !== this.spaceOnHart || space.tlbStale) this.useSpace(space);
      this.deliverSignals(t);
    }
    if (t.state !== "runnable" || this.current !== t) this.hart.requestStop();
    return true;
  }

  private pageFault(t: Thread, va: number, access: Access): void {
    const space = t.process.space;
    let result;
    try {
      result = space.handleFault(va, access);
    } catch (e) {
      if (!(e instanceof OutOfGuestMemory)) throw e;
      this.diag(`typevisor: ${e.message}`);
      this.killProcess(t.process, SIGKILL);
      return;
    }
    if (result.ok) {
      // A new page needs no flush; a copy-on-write break replaced a read-only translation the hart may hold.
      if (space.tlbStale) this.useSpace(space);
      return;
    }
    if (result.pastEof) this.fault(t, { signo: SIGBUS, code: BUS_ADRERR, addr: va });
    else this.fault(t, { signo: SIGSEGV, code: result.accessError ? SEGV_ACCERR : SEGV_MAPERR, addr: va });
  }

  /**
   * A synchronous signal from the thread's own instruction. With no handler
   * (or the signal blocked/ignored) it ends the process, with a diagnostic.
   */
  fault(t: Thread, info: SigInfo): void {
    const p = t.process;
    const action = p.actions[info.signo];
    const blocked = (t.sigmask & sigBit(info.signo)) !== 0n;
    if (blocked || action.handler === SIG_IGN) {
      action.handler = SIG_DFL;
      t.sigmask &= ~sigBit(info.signo);
    }
    if (action.handler === SIG_DFL && this.sliceRunner === null) {
      this.reportFault(t, info);
      this.killProcess(p, info.signo);
      return;
    }
    // Under a debugger even a fatal fault goes through deliverSignals, where the debugger stops first.
    if (action.handler === SIG_DFL) this.fatalFaults.add(info);
    t.pending.unshift(info);
  }

  private reportFault(t: Thread, info: SigInfo): void {
    const p = t.process;
    const what = SIGNAL_DESCRIPTIONS[info.signo] ?? signalName(info.signo);
    // Like Linux, say nothing about children (their parent sees the status); the program itself gets a line.
    if (p === this.initial) this.diag(
      `typevisor: ${escapeText(p.comm)}[${p.pid}]: ${what} (${signalName(info.signo)}) at pc 0x${getPc(this.regsOf(t)).toString(16)}` +
        (info.addr !== undefined ? `, address 0x${info.addr.toString(16)}` : ""),
    );
  }

  // ---- system calls ------------------------------------------------------------

  private syscall(t: Thread): void {
    const w = this.hart.state.w;
    const nr = w[X + 2 * REG_A7];
    const handler: SyscallHandler | undefined = w[X + 2 * REG_A7 + 1] === 0 ? SYSCALLS[nr] : undefined;
    const a = this.args;
    a.load(w);
    let result: number;
    if (handler === undefined) {
      result = -ERRNO.ENOSYS;
      if (this.trace && !this.unimplementedSeen.has(nr)) {
        this.unimplementedSeen.add(nr);
        this.traceLine(`typevisor: unimplemented system call ${nr} (${SYSCALL_NAMES[nr] ?? "unknown"}), returning -ENOSYS`);
      }
    } else {
      try {
        result = handler(this, t, a);
      } catch (e) {
        if (e instanceof OutOfGuestMemory) {
          this.diag(`typevisor: ${e.message}`);
          this.killProcess(t.process, SIGKILL);
          return;
        }
        // A bug of ours must not take the host down: report it and fail the call.
        const err = e as Error;
        this.diag(`typevisor: internal error in ${SYSCALL_NAMES[nr]}: ${err?.message ?? String(e)}`);
        if (process.env.TYPEVISOR_DEBUG) this.diag(err?.stack ?? "");
        result = -ERRNO.ENOSYS;
      }
    }
    if (this.trace) this.traceLine(formatSyscall(this, t, nr, a, result));
    if (result === NO_RETURN) return;
    if (result === WOULD_BLOCK) {
      if (t.blocked === null) throw new Error(`procvm: ${SYSCALL_NAMES[nr]} blocked without a wait`);
      t.blockedSyscall = nr;
      if (t.state === "runnable") t.state = "blocked";
      return;
    }
    this.finishSyscall(t, result);
  }

  /**
   * A call ended with its result (not by a signal): a mask it swapped in
   * for its duration (ppoll, pselect6, epoll_pwait) is put back. After a
   * signal, the handler's frame takes the saved mask instead.
   */
  private finishSyscall(t: Thread, result: number): void {
    if (t.savedSigmask !== null) {
      t.sigmask = t.savedSigmask;
      t.savedSigmask = null;
    }
    this.completeSyscall(t, result);
  }

  /** Sets a0 and steps past the ecall. */
  completeSyscall(t: Thread, result: number): void {
    const w = this.regsOf(t);
    setReg(w, REG_A0, result);
    setPc(w, getPc(w) + 4);
  }

  /** Parks `t` until `wait.retry()` returns a result. Handlers `return vm.block(t, {...})`. */
  block(t: Thread, wait: Blocked): number {
    t.blocked = wait;
    t.state = "blocked";
    return WOULD_BLOCK;
  }

  /** The hart stops after this trap so the scheduler can switch (sched_yield, vfork). */
  yield(): void {
    this.sliceEnd = true;
    this.hart.requestStop();
  }

  traceLine(line: string): void {
    try {
      fs.writeSync(this.traceFd, line + "\n");
    } catch {
      // tracing must never take the program down
    }
  }

  diag(line: string): void {
    try {
      fs.writeSync(this.diagFd, line + "\n");
    } catch {
      // nowhere left to report to
    }
  }

  // ---- signals -----------------------------------------------------------------

  /** Queues a signal for a whole process. */
  sendToProcess(p: Process, info: SigInfo): void {
    if (!p.alive) return;
    if (info.signo === SIGKILL) return this.killProcess(p, SIGKILL);
    // A blocked signal is queued even when ignored: the program may take it with signalfd or sigwait.
    const blocked = p.threads.some((t) => (t.sigmask & sigBit(info.signo)) !== 0n);
    if (!blocked && this.ignored(p, info.signo)) return;
    if (info.signo < 32 && p.pending.some((s) => s.signo === info.signo)) return;
    p.pending.push(info);
    p.signalsQueued++;
  }

  sendToThread(t: Thread, info: SigInfo): void {
    const p = t.process;
    if (!p.alive || t.state === "dead") return;
    if (info.signo === SIGKILL) return this.killProcess(p, SIGKILL);
    if ((t.sigmask & sigBit(info.signo)) === 0n && this.ignored(p, info.signo)) return;
    if (info.signo < 32 && t.pending.some((s) => s.signo === info.signo)) return;
    t.pending.push(info);
    p.signalsQueued++;
  }

  private ignored(p: Process, sig: number): boolean {
    const h = p.actions[sig].handler;
    return h === SIG_IGN || (h === SIG_DFL && (defaultAction(sig) === "ignore" || defaultAction(sig) === "stop"));
  }

  /** Index into `list` of the first signal `t` may take now, or -1. */
  private takeable(t: Thread, list: SigInfo[]): number {
    for (let i = 0; i < list.length; i++) {
      const bit = sigBit(list[i].signo);
      if ((t.sigmask & bit) === 0n || (bit & UNBLOCKABLE) !== 0n) return i;
    }
    return -1;
  }

  private nextSignal(t: Thread): { list: SigInfo[]; index: number } | null {
    let i = this.takeable(t, t.pending);
    if (i >= 0) return { list: t.pending, index: i };
    i = this.takeable(t, t.process.pending);
    if (i >= 0) return { list: t.process.pending, index: i };
    return null;
  }

  /** True when a pending signal would interrupt a wait of `t` (it has an effect). */
  private signalInterrupts(t: Thread): boolean {
    const next = this.nextSignal(t);
    if (next === null) return false;
    const sig = next.list[next.index].signo;
    if (this.ignored(t.process, sig)) {
      next.list.splice(next.index, 1);
      return this.signalInterrupts(t);
    }
    return true;
  }

  private nextSignalRestarts(t: Thread): boolean {
    const next = this.nextSignal(t);
    if (next === null) return false;
    const action = t.process.actions[next.list[next.index].signo];
    return action.handler !== SIG_DFL && (action.flags & SA_RESTART) !== 0;
  }

  /** Delivers pending signals to `t` (whose registers are accessible): handler frames or default actions. */
  deliverSignals(t: Thread): void {
    for (let guard = 0; guard < 64 && t.state === "runnable"; guard++) {
      const next = this.nextSignal(t);
      if (next === null) return;
      let info = next.list.splice(next.index, 1)[0];
      if (this.sliceRunner !== null) {
        const decided = this.sliceRunner.interceptSignal(t, info);
        if (decided === "hold") {
          t.pending.unshift(info);
          this.sliceEnd = true;
          if (this.current === t) this.hart.requestStop();
          return;
        }
        if (decided === null) continue;
        info = decided;
      }
      const p = t.process;
      const action = p.actions[info.signo];
      if (action.handler === SIG_IGN) continue;
      if (action.handler === SIG_DFL) {
        const what = defaultAction(info.signo);
        if (what === "ignore" || what === "stop") continue;
        if (this.fatalFaults.has(info)) this.reportFault(t, info);
        this.killProcess(p, info.signo);
        return;
      }
      const savedMask = t.savedSigmask ?? t.sigmask;
      t.savedSigmask = null;
      const ok = pushSignalFrame(this.regsOf(t), p.space, info, action, savedMask, t.altstack, p.sigreturn);
      if (!ok) {
        this.diag(`typevisor: ${escapeText(p.comm)}[${p.pid}]: cannot push a frame for ${signalName(info.signo)}: bad stack`);
        this.killProcess(p, SIGSEGV);
        return;
      }
      t.sigmask |= action.mask;
      if ((action.flags & SA_NODEFER) === 0) t.sigmask |= sigBit(info.signo);
      t.sigmask &= ~UNBLOCKABLE;
      if ((action.flags & SA_RESETHAND) !== 0) action.handler = SIG_DFL;
    }
  }

  // ---- process and thread lifetime ------------------------------------------------

  /** Ends `t` (exit): clear_child_tid is zeroed and woken; the last thread ends the process. */
  exitThread(t: Thread, code: number): void {
    this.retireThread(t);
    const p = t.process;
    if (p.threads.length === 0) this.finishProcess(p, (code & 0xff) << 8);
  }

  private retireThread(t: Thread): void {
    if (t.state === "dead") return;
    t.blocked?.cancel?.();
    t.blocked = null;
    t.state = "dead";
    const p = t.process;
    if (t.clearChildTid !== 0 && p.space.users > 0) {
      if (p.space.writeU32(t.clearChildTid, 0)) this.futexWake(p, t.clearChildTid, 1, -1);
    }
    p.threads.splice(p.threads.indexOf(t), 1);
    const i = this.threads.indexOf(t);
    this.threads.splice(i, 1);
    if (i <= this.rr) this.rr--;
    if (this.onHart === t) this.onHart = null;
    if (this.current === t) this.hart.requestStop();
  }

  /** exit_group: every thread ends; `waitStatus` as wait(2) reports it. */
  exitGroup(p: Process, waitStatus: number): void {
    if (p.exited) return;
    for (const t of [...p.threads]) this.retireThread(t);
    this.finishProcess(p, waitStatus);
  }

  /** Ends a process by a signal's default action. */
  killProcess(p: Process, sig: number): void {
    this.exitGroup(p, sig);
  }

  private finishProcess(p: Process, waitStatus: number): void {
    if (p.exited) return;
    p.exited = true;
    p.waitStatus = waitStatus;
    p.fds.closeAll();
    closeDirectoryHandle(p.cwdHandle);
    p.cwdHandle = -1;
    this.releaseSpace(p.space);
    p.vforkDone = true;
    for (const c of p.children) {
      c.parent = null;
      if (c.exited) this.processes.delete(c.pid);
    }
    p.children.clear();
    if (p === this.initial) {
      this.initialWaitStatus = waitStatus;
      const sig = waitStatus & 0x7f;
      this.exitCode = sig !== 0 ? 128 + sig : (waitStatus >> 8) & 0xff;
    }
    const parent = p.parent;
    if (parent === null || !parent.alive) {
      this.processes.delete(p.pid);
      return;
    }
    const chld = parent.actions[SIGCHLD];
    if (p.exitSignal === SIGCHLD && (chld.handler === SIG_IGN || (chld.flags & SA_NOCLDWAIT) !== 0)) {
      this.reap(p);
      return;
    }
    if (p.exitSignal !== 0) {
      const sig = waitStatus & 0x7f;
      this.sendToProcess(parent, {
        signo: p.exitSignal,
        code: sig === 0 ? CLD_EXITED : defaultAction(sig) === "core" ? CLD_DUMPED : CLD_KILLED,
        pid: p.pid,
        uid: this.creds.uid,
        status: sig === 0 ? (waitStatus >> 8) & 0xff : sig,
      });
    }
  }

  releaseSpace(space: AddressSpace): void {
    if (--space.users === 0) {
      space.destroy();
      if (this.spaceOnHart === space) this.spaceOnHart = null;
    }
  }

  reap(child: Process): void {
    child.parent?.children.delete(child);
    child.parent = null;
    this.processes.delete(child.pid);
  }

  // ---- futexes -----------------------------------------------------------------

  /** The wait-queue key of a futex word: per address space for private memory, per frame for shared. */
  futexKey(p: Process, va: number): string | null {
    const vma = p.space.vmaAt(va);
    if (vma === null) return null;
    if (vma.shared) {
      const frame = p.space.ensurePage(va, "read");
      if (frame < 0) return null;
      return `f${frame * PAGE_SIZE + (va % PAGE_SIZE)}`;
    }
    return `${spaceId(p.space)}:${va}`;
  }

  /** Wakes up to `count` waiters on `va` whose bitset matches; returns how many. */
  futexWake(p: Process, va: number, count: number, bitset: number): number {
    const key = this.futexKey(p, va);
    if (key === null) return -ERRNO.EFAULT;
    const q = this.futexes.get(key);
    if (q === undefined) return 0;
    let woken = 0;
    for (let i = 0; i < q.length && woken < count; ) {
      const w = q[i];
      if ((w.futexBitset & bitset) !== 0) {
        q.splice(i, 1);
        w.futexWoken = true;
        w.futexKey = null;
        woken++;
      } else i++;
    }
    if (q.length === 0) this.futexes.delete(key);
    return woken;
  }

  // ---- exec --------------------------------------------------------------------

  /** Replaces `t`'s process image (execve). Returns a negated errno or NO_RETURN. */
  exec(t: Thread, path: string, argv: Uint8Array[], envp: Uint8Array[]): number {
    const p = t.process;
    let image;
    try {
      image = execImage(this.phys, { readExecutable: (f) => this.readExecutable(f, p) }, path, argv, envp, this.creds);
    } catch (e) {
      if (e instanceof ExecError) return -(ERRNO[e.errno as keyof typeof ERRNO] ?? ERRNO.ENOEXEC);
      if (e instanceof OutOfGuestMemory) return -ERRNO.ENOMEM;
      throw e;
    }
    for (const other of [...p.threads]) if (other !== t) this.retireThread(other);
    this.releaseSpace(p.space);
    p.space = image.space;
    p.exePath = image.hostPath;
    p.startup = image.startup;
    p.sigreturn = image.sigreturn;
    p.comm = commOf(path.split("/").pop() ?? path);
    p.vforkDone = true;
    p.fds.closeOnExec();
    p.timers.clear();
    for (const action of p.actions) {
      if (action.handler !== SIG_IGN) action.handler = SIG_DFL;
      action.flags = 0;
      action.mask = 0n;
    }
    t.altstack = { sp: 0, size: 0, flags: 2 };
    t.clearChildTid = 0;
    t.robustList = 0;
    const w = this.regsOf(t);
    w.fill(0, 0, CONTEXT_WORDS);
    setReg(w, REG_SP, image.sp);
    setPc(w, image.pc);
    if (t === this.current) this.useSpace(p.space);
    return NO_RETURN;
  }

  // ---- clone -------------------------------------------------------------------

  /** A new thread in `t`'s process (CLONE_THREAD) with the parent's registers; returns it. */
  newThread(t: Thread, p: Process): Thread {
    const child = new Thread(p === t.process ? this.allocPid() : p.pid, p);
    child.regs.set(this.regsOf(t).subarray(0, CONTEXT_WORDS));
    child.sigmask = t.sigmask;
    child.altstack = { ...t.altstack };
    return child;
  }

  /** Sets the clone child's registers: a0 = 0, past the ecall, new sp and tp if given. */
  prepareChild(child: Thread, sp: number, tls: number | null): void {
    const w = child.regs;
    setReg(w, REG_A0, 0);
    setPc(w, getPc(w) + 4);
    if (sp !== 0) setReg(w, REG_SP, sp);
    if (tls !== null) setReg(w, REG_TP, tls);
  }

  /** Called after the current process's page tables lost write permission (fork). */
  invalidateTlb(): void {
    this.hart.flushTlb();
  }
}

const spaceIds = new WeakMap<AddressSpace, number>();
let nextSpaceId = 1;
function spaceId(s: AddressSpace): number {
  let id = spaceIds.get(s);
  if (id === undefined) spaceIds.set(s, (id = nextSpaceId++));
  return id;
}

function commOf(argv0: Uint8Array | string): string {
  const s = typeof argv0 === "string" ? argv0 : new TextDecoder().decode(argv0);
  return (s.split("/").pop() ?? s).slice(0, 15);
}

export function setReg(w: Int32Array, r: number, v: number): void {
  w[X + 2 * r] = v % 0x1_0000_0000 | 0;
  w[X + 2 * r + 1] = Math.floor(v / 0x1_0000_0000) | 0;
}

export function getReg(w: Int32Array, r: number): number {
  return (w[X + 2 * r + 1] >>> 0) * 0x1_0000_0000 + (w[X + 2 * r] >>> 0);
}

export function getPc(w: Int32Array): number {
  return (w[PC + 1] >>> 0) * 0x1_0000_0000 + (w[PC] >>> 0);
}

export function setPc(w: Int32Array, v: number): void {
  w[PC] = v % 0x1_0000_0000 | 0;
  w[PC + 1] = Math.floor(v / 0x1_0000_0000) | 0;
}

export { SI_KERNEL, SIGCHLD };
