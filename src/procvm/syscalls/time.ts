/** Clocks, sleeps and interval timers. Time is the host's. */
import { performance } from "node:perf_hooks";
import { ERRNO } from "../abi.ts";
import type { ProcessVm } from "../kernel.ts";
import { WOULD_BLOCK } from "../files.ts";
import type { Thread } from "../process.ts";
import type { SyscallHandler } from "./table.ts";
import { EFAULT, EINVAL, StructWriter, put, readTimespec, timespec } from "./util.ts";

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_PROCESS_CPUTIME_ID = 2;
const CLOCK_THREAD_CPUTIME_ID = 3;
const CLOCK_MONOTONIC_RAW = 4;
const CLOCK_REALTIME_COARSE = 5;
const CLOCK_MONOTONIC_COARSE = 6;
const CLOCK_BOOTTIME = 7;
const TIMER_ABSTIME = 1;
const ITIMER_REAL = 0;

/** Realtime = host monotonic + this offset, fixed at start so the two clocks agree. */
const realtimeOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Nanoseconds on clock `id`, or null for an unknown clock. */
export function clockNs(id: number): bigint | null {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      return process.hrtime.bigint() + realtimeOffsetNs;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
      return process.hrtime.bigint();
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID: {
      const u = process.cpuUsage();
      return BigInt(u.user + u.system) * 1000n;
    }
    default:
      return null;
  }
}

/** Sleeps until performance.now() reaches `deadline`; on a signal, -EINTR and the time left in `remVa`. */
function sleepUntil(vm: ProcessVm, t: Thread, deadline: number, remVa: number): number {
  if (performance.now() >= deadline) {
    vm.yield();
    return 0;
  }
  return vm.block(t, {
    retry: () => (performance.now() >= deadline ? 0 : WOULD_BLOCK),
    deadline,
    restartable: false,
    cancel: () => {
      if (remVa !== 0) {
        const left = Math.max(0, deadline - performance.now());
        t.process.space.write(remVa, timespec(BigInt(Math.round(left * 1e6))));
      }
    },
  });
}

function itimerval(intervalMs: number, valueMs: number): Uint8Array {
  const us = (ms: number) => Math.max(0, Math.round(ms * 1000));
  const w = new StructWriter(32);
  const iv = us(intervalMs);
  const v = us(valueMs);
  return w.u64(0, Math.floor(iv / 1e6)).u64(8, iv % 1e6).u64(16, Math.floor(v / 1e6)).u64(24, v % 1e6).bytes;
}

export const timeSyscalls: Record<string, SyscallHandler> = {
  clock_gettime: (_vm, t, a) => {
    const ns = clockNs(a.i[0]);
    if (ns === null) return EINVAL;
    return put(t, a.u[1], timespec(ns));
  },

  clock_getres: (_vm, t, a) => {
    if (clockNs(a.i[0]) === null) return EINVAL;
    if (a.u[1] === 0) return 0;
    const coarse = a.i[0] === CLOCK_REALTIME_COARSE || a.i[0] === CLOCK_MONOTONIC_COARSE;
    return put(t, a.u[1], timespec(coarse ? 4_000_000n : 1n));
  },

  gettimeofday: (_vm, t, a) => {
    if (a.u[0] !== 0) {
      const ns = clockNs(CLOCK_REALTIME)!;
      const tv = new StructWriter(16).u64(0, ns / 1_000_000_000n).u64(8, (ns % 1_000_000_000n) / 1000n).bytes;
      if (put(t, a.u[0], tv) < 0) return EFAULT;
    }
    if (a.u[1] !== 0 && put(t, a.u[1], new Uint8Array(8)) < 0) return EFAULT;
    return 0;
  },

  nanosleep: (vm, t, a) => {
    const ns = readTimespec(t, a.u[0]);
    if (ns === null) return EFAULT;
    if (ns < 0n) return EINVAL;
    return sleepUntil(vm, t, performance.now() + Number(ns) / 1e6, a.u[1]);
  },

  clock_nanosleep: (vm, t, a) => {
    const clock = a.i[0];
    const now = clockNs(clock);
    if (now === null || clock === CLOCK_THREAD_CPUTIME_ID) return EINVAL;
    const ns = readTimespec(t, a.u[2]);
    if (ns === null) return EFAULT;
    if (ns < 0n) return EINVAL;
    const abs = (a.i[1] & TIMER_ABSTIME) !== 0;
    const delta = abs ? Number(ns - now) / 1e6 : Number(ns) / 1e6;
    return sleepUntil(vm, t, performance.now() + delta, abs ? 0 : a.u[3]);
  },

  getitimer: (_vm, t, a) => {
    if (a.i[0] !== ITIMER_REAL) return a.i[0] > 2 || a.i[0] < 0 ? EINVAL : put(t, a.u[1], new Uint8Array(32));
    const p = t.process;
    const left = p.alarmAt === 0 ? 0 : Math.max(0.001, p.alarmAt - performance.now());
    return put(t, a.u[1], itimerval(p.alarmInterval, left));
  },

  setitimer: (_vm, t, a) => {
    const which = a.i[0];
    if (which < 0 || which > 2) return EINVAL;
    const p = t.process;
    if (a.u[2] !== 0) {
      const left = p.alarmAt === 0 ? 0 : Math.max(0.001, p.alarmAt - performance.now());
      if (put(t, a.u[2], which === ITIMER_REAL ? itimerval(p.alarmInterval, left) : new Uint8Array(32)) < 0) return EFAULT;
    }
    if (a.u[1] === 0 || which !== ITIMER_REAL) return 0;
    const b = p.space.read(a.u[1], 32);
    if (b === null) return EFAULT;
    const dv = new DataView(b.buffer);
    const ms = (o: number) => Number(dv.getBigInt64(o, true)) * 1000 + Number(dv.getBigInt64(o + 8, true)) / 1000;
    const interval = ms(0);
    const value = ms(16);
    if (interval < 0 || value < 0) return EINVAL;
    p.alarmInterval = interval;
    p.alarmAt = value === 0 ? 0 : performance.now() + value;
    return 0;
  },
};

export { ERRNO };
