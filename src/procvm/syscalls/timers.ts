/** POSIX timers: timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete. */
import { performance } from "node:perf_hooks";
import { ERRNO } from "../abi.ts";
import { SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, type PosixTimer } from "../posix-timers.ts";
import type { Thread } from "../process.ts";
import { NSIG, SIGALRM } from "../signals.ts";
import type { SyscallHandler } from "./table.ts";
import { EFAULT, EINVAL, itimerspec, put, readItimerspec } from "./util.ts";
import { clockNs } from "./time.ts";

const TIMER_ABSTIME = 1;
/** Clocks a timer may use: REALTIME, MONOTONIC, the CPU-time clocks, BOOTTIME and the alarm clocks. */
const TIMER_CLOCKS = [0, 1, 2, 3, 7, 8, 9];

function timerOf(t: Thread, id: number): PosixTimer | number {
  return t.process.timers.get(id) ?? EINVAL;
}

/** A timer's [interval, time left] as struct itimerspec. */
function timerSpec(timer: PosixTimer): Uint8Array {
  const ns = (ms: number) => BigInt(Math.max(0, Math.round(ms * 1e6)));
  return itimerspec(ns(timer.interval), ns(remaining(timer)));
}

function remaining(timer: PosixTimer): number {
  return timer.expiry === 0 ? 0 : Math.max(1e-6, timer.expiry - performance.now());
}

export const timerSyscalls: Record<string, SyscallHandler> = {
  timer_create: (_vm, t, a) => {
    const clockId = a.i[0];
    if (!TIMER_CLOCKS.includes(clockId)) return EINVAL;
    let notify = SIGEV_SIGNAL;
    let signo = SIGALRM;
    let value: bigint | null = null;
    let thread: Thread | null = null;
    if (a.u[1] !== 0) {
      // struct sigevent { sigval_t value; int signo; int notify; union { int tid; ... } }
      const b = t.process.space.read(a.u[1], 20);
      if (b === null) return EFAULT;
      const dv = new DataView(b.buffer);
      value = dv.getBigUint64(0, true);
      signo = dv.getInt32(8, true);
      notify = dv.getInt32(12, true);
      if (notify === SIGEV_THREAD_ID || notify === (SIGEV_SIGNAL | SIGEV_THREAD_ID)) {
        const tid = dv.getInt32(16, true);
        thread = t.process.threads.find((x) => x.tid === tid) ?? null;
        if (thread === null) return EINVAL;
      } else if (notify !== SIGEV_SIGNAL && notify !== SIGEV_NONE && notify !== SIGEV_THREAD) return EINVAL;
      if (notify !== SIGEV_NONE && (signo < 1 || signo > NSIG)) return EINVAL;
    }
    const id = t.process.timers.create({ clockId, notify, signo, value, thread });
    if (id < 0) return -ERRNO.EAGAIN;
    if (!t.process.space.writeU32(a.u[2], id)) {
      t.process.timers.delete(id);
      return EFAULT;
    }
    return 0;
  },

  timer_settime: (_vm, t, a) => {
    const timer = timerOf(t, a.i[0]);
    if (typeof timer === "number") return timer;
    const flags = a.i[1];
    const spec = readItimerspec(t, a.u[2]);
    if (typeof spec === "number") return spec;
    const [interval, value] = spec;
    if (a.u[3] !== 0 && put(t, a.u[3], timerSpec(timer)) < 0) return EFAULT;
    let delayMs = Number(value) / 1e6;
    if ((flags & TIMER_ABSTIME) !== 0 && value > 0n) {
      const now = clockNs(timer.clockId === 8 ? 0 : timer.clockId === 9 ? 7 : timer.clockId)!;
      delayMs = Math.max(0, Number(value - now) / 1e6);
    }
    timer.expiry = value === 0n ? 0 : performance.now() + delayMs;
    timer.interval = value === 0n ? 0 : Number(interval) / 1e6;
    timer.queued = null;
    return 0;
  },

  timer_gettime: (_vm, t, a) => {
    const timer = timerOf(t, a.i[0]);
    if (typeof timer === "number") return timer;
    return put(t, a.u[1], timerSpec(timer));
  },

  timer_getoverrun: (_vm, t, a) => {
    const timer = timerOf(t, a.i[0]);
    if (typeof timer === "number") return timer;
    return timer.queued?.overrun ?? 0;
  },

  timer_delete: (_vm, t, a) => (t.process.timers.delete(a.i[0]) ? 0 : EINVAL),
};
