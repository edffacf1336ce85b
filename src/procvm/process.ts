/**
 * Guest processes and threads as the process VM's kernel sees them.
 *
 * A thread's registers live on the hart while it runs and in `regs` (same
 * word layout as the hart state: x at 0, f at 64, pc at 128, fflags 131,
 * frm 132) while it does not. A blocked thread is parked with pc on its
 * ecall; `blocked.retry` completes the system call later.
 */
import type { AddressSpace } from "./address-space.ts";
import type { StartupArea } from "./exec-image.ts";
import type { FdTable } from "./files.ts";
import { PosixTimers } from "./posix-timers.ts";
import { NSIG, SIG_DFL, SS_DISABLE, type AltStack, type SigAction, type SigInfo } from "./signals.ts";

/** Words of hart state that make up a thread's user context (x, f, pc, fflags, frm). */
export const CONTEXT_WORDS = 133;

export type ThreadState = "runnable" | "blocked" | "dead";

export interface Blocked {
  /** Completes the call: its result, or WOULD_BLOCK to keep waiting. Checks its own timeout. */
  retry(): number;
  /**
   * Host time (performance.now() ms) at which `retry` must be called again;
   * Infinity if none. `retry` may move it (a timerfd re-armed meanwhile).
   */
  deadline: number;
  /** A signal handler with SA_RESTART re-runs the call instead of returning EINTR. */
  restartable: boolean;
  /** Undo the wait's bookkeeping (futex queue entry) when a signal interrupts it. */
  cancel?(): void;
  /** The wait depends on a host terminal: the scheduler polls it again every few ms. */
  pollsHost?: boolean;
  /** False for waits no signal ends (vfork's parent). Default true. */
  interruptible?: boolean;
  /** Result when a signal interrupts (default -EINTR). */
  interruptedResult?: number;
}

export class Thread {
  readonly regs = new Int32Array(CONTEXT_WORDS);
  state: ThreadState = "runnable";
  blocked: Blocked | null = null;
  /** Number of the system call `blocked` belongs to (for tracing). */
  blockedSyscall = -1;
  sigmask = 0n;
  /** The mask to restore after a handler when a call like sigsuspend swapped it in. */
  savedSigmask: bigint | null = null;
  readonly pending: SigInfo[] = [];
  clearChildTid = 0;
  robustList = 0;
  altstack: AltStack = { sp: 0, size: 0, flags: SS_DISABLE };
  /** Set by FUTEX_WAKE for a waiting thread. */
  futexWoken = false;
  /** FUTEX_WAIT_BITSET mask of the current wait (-1 = all). */
  futexBitset = -1;
  /** The futex queue this thread waits in, if any. */
  futexKey: string | null = null;

  constructor(
    readonly tid: number,
    public process: Process,
  ) {}
}

export class Process {
  readonly threads: Thread[] = [];
  readonly actions: SigAction[] = [];
  /** Signals sent to the whole process, taken by whichever thread does not block them. */
  readonly pending: SigInfo[] = [];
  /** Counts signals queued to the process or its threads (signalfd readiness for edge-triggered epoll). */
  signalsQueued = 0;
  readonly children = new Set<Process>();
  parent: Process | null = null;
  pgid: number;
  sid: number;
  umask = 0o022;
  exited = false;
  /** wait(2) status once exited: (code << 8) or the signal number. */
  waitStatus = 0;
  /** Signal the parent gets when this process ends (clone's low byte; SIGCHLD for fork). */
  exitSignal = 0;
  /** Set when the process execs or exits: releases a vfork parent. */
  vforkDone = false;
  /** Host path of the running program (/proc/self/exe). */
  exePath = "";
  /** The start-up strings and auxv of the running image (/proc/self/cmdline, environ, auxv). */
  startup: StartupArea = { argStart: 0, envStart: 0, envEnd: 0, auxv: [] };
  /** When the process started (process.hrtime ns), for /proc/self/stat. */
  startNs = process.hrtime.bigint();
  /** Address of the signal-return trampoline in this image. */
  sigreturn = 0;
  comm = "";
  /** timer_create's timers. */
  readonly timers = new PosixTimers();
  /** ITIMER_REAL / alarm: expiry (performance.now() ms, 0 = off) and interval (ms). */
  alarmAt = 0;
  alarmInterval = 0;
  /** (soft, hard) limits by resource number, for prlimit64. */
  readonly rlimits = new Map<number, [bigint, bigint]>();

  constructor(
    readonly pid: number,
    public space: AddressSpace,
    public fds: FdTable,
    public cwd: string,
    /** A host O_PATH fd on the cwd (paths.ts resolves through it when `cwd` will not do); -1 if none. */
    public cwdHandle = -1,
  ) {
    this.pgid = pid;
    this.sid = pid;
    for (let s = 0; s <= NSIG; s++) this.actions.push({ handler: SIG_DFL, flags: 0, mask: 0n });
  }

  get alive(): boolean {
    return !this.exited;
  }
}
