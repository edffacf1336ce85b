/**
 * POSIX per-process timers (timer_create & co). Each timer sends a signal
 * when it expires: to the process (SIGEV_SIGNAL), to one thread
 * (SIGEV_THREAD_ID, what glibc's SIGEV_THREAD timers use underneath) or
 * to nobody (SIGEV_NONE, read with timer_gettime). Expirations while the
 * previous signal is still queued are counted in its si_overrun instead of
 * queuing another, as Linux does. Expiry is host time (performance.now()
 * ms); the CPU-time clocks run as wall-clock time here (documented gap).
 */
import type { Process, Thread } from "./process.ts";
import { SI_TIMER, type SigInfo } from "./signals.ts";

export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;
/** Timers one process may hold (Linux bounds them by RLIMIT_SIGPENDING). */
const MAX_TIMERS = 1024;

export interface PosixTimer {
  readonly id: number;
  readonly clockId: number;
  readonly notify: number;
  readonly signo: number;
  readonly value: bigint;
  /** SIGEV_THREAD_ID: the thread that gets the signal. */
  readonly thread: Thread | null;
  /** Next expiry (performance.now() ms; 0 = disarmed) and period (ms; 0 = one-shot). */
  expiry: number;
  interval: number;
  /** The signal last queued for this timer, while it may still be pending. */
  queued: SigInfo | null;
}

/** How the process VM's kernel queues a signal (it may drop it: ignored, already pending). */
export interface SignalSink {
  sendToProcess(p: Process, info: SigInfo): void;
  sendToThread(t: Thread, info: SigInfo): void;
}

export class PosixTimers {
  private readonly timers = new Map<number, PosixTimer>();

  /**
   * Adds a disarmed timer with the lowest free id; -1 when the table is
   * full. With no value given, its signals carry the timer's id (Linux's
   * default when timer_create gets no sigevent).
   */
  create(spec: Omit<PosixTimer, "id" | "value" | "expiry" | "interval" | "queued"> & { value: bigint | null }): number {
    if (this.timers.size >= MAX_TIMERS) return -1;
    let id = 0;
    while (this.timers.has(id)) id++;
    this.timers.set(id, { ...spec, id, value: spec.value ?? BigInt(id), expiry: 0, interval: 0, queued: null });
    return id;
  }

  get(id: number): PosixTimer | undefined {
    return this.timers.get(id);
  }

  delete(id: number): boolean {
    return this.timers.delete(id);
  }

  clear(): void {
    this.timers.clear();
  }

  get size(): number {
    return this.timers.size;
  }

  /** Sends the signals of every timer due at `now`; returns the next expiry (Infinity if none). */
  fire(p: Process, sink: SignalSink, now: number): number {
    let next = Infinity;
    for (const timer of this.timers.values()) {
      if (timer.expiry === 0) continue;
      if (now >= timer.expiry) {
        let missed = 0;
        if (timer.interval > 0) {
          missed = Math.floor((now - timer.expiry) / timer.interval);
          timer.expiry += (missed + 1) * timer.interval;
        } else timer.expiry = 0;
        expire(p, sink, timer, missed);
      }
      if (timer.expiry !== 0) next = Math.min(next, timer.expiry);
    }
    return next;
  }
}

function isQueued(p: Process, info: SigInfo): boolean {
  return p.pending.includes(info) || p.threads.some((t) => t.pending.includes(info));
}

function expire(p: Process, sink: SignalSink, timer: PosixTimer, missed: number): void {
  if (timer.notify === SIGEV_NONE) return;
  if (timer.queued !== null && isQueued(p, timer.queued)) {
    timer.queued.overrun = (timer.queued.overrun ?? 0) + 1 + missed;
    return;
  }
  const info: SigInfo = { signo: timer.signo, code: SI_TIMER, timerId: timer.id, overrun: missed, value: timer.value };
  if ((timer.notify & SIGEV_THREAD_ID) !== 0 && timer.thread !== null && timer.thread.state !== "dead") {
    sink.sendToThread(timer.thread, info);
  } else sink.sendToProcess(p, info);
  timer.queued = isQueued(p, info) ? info : null;
}
