/**
 * Event files: epoll, eventfd, timerfd and signalfd. The files themselves
 * live in ../epoll.ts, ../event-fd.ts, ../timer-fd.ts and ../signal-fd.ts;
 * this module parses the calls' arguments and parks waiting threads.
 */
import { performance } from "node:perf_hooks";
import { EPOLL_EVENT_SIZE, EpollFile } from "../epoll.ts";
import { EFD_SEMAPHORE, EventFd } from "../event-fd.ts";
import { O_CLOEXEC, O_NONBLOCK, WOULD_BLOCK, type OpenFile } from "../files.ts";
import type { ProcessVm, SyscallArgs } from "../kernel.ts";
import type { Blocked, Thread } from "../process.ts";
import { SignalFd } from "../signal-fd.ts";
import { TimerFd } from "../timer-fd.ts";
import { readSigmask, swapInSigmask } from "./signal.ts";
import type { SyscallHandler } from "./table.ts";
import { EBADF, EFAULT, EINVAL, itimerspec, put, readItimerspec, readTimeout } from "./util.ts";
import { clockNs } from "./time.ts";

const TFD_TIMER_ABSTIME = 1;
const TFD_TIMER_CANCEL_ON_SET = 2;
const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_BOOTTIME = 7;
const CLOCK_REALTIME_ALARM = 8;
const CLOCK_BOOTTIME_ALARM = 9;
const TIMERFD_CLOCKS = [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM];
/** Linux's epoll_wait limit: maxevents * sizeof(struct epoll_event) must fit an int. */
const EP_MAX_EVENTS = Math.floor(0x7fffffff / EPOLL_EVENT_SIZE);

/** Installs a new event file; -EMFILE when the table is full. */
function install(t: Thread, file: OpenFile, flags: number): number {
  return t.process.fds.install(file, (flags & O_CLOEXEC) !== 0);
}

/**
 * epoll_pwait / epoll_pwait2: ready events now, or park until one is ready,
 * the timeout passes (0) or a signal arrives (-EINTR; never restarted).
 */
function epollWait(
  vm: ProcessVm, t: Thread, epfd: number, eventsVa: number, max: number, deadline: number, maskVa: number, maskSize: number,
): number {
  const ep = t.process.fds.get(epfd);
  if (ep === null) return EBADF;
  if (!(ep instanceof EpollFile) || max <= 0 || max > EP_MAX_EVENTS) return EINVAL;
  if (t.process.space.ensurePage(eventsVa, "write") < 0) return EFAULT;
  if (maskVa !== 0) {
    const r = swapInSigmask(t, maskVa, maskSize);
    if (r < 0) return r;
  }
  const out = new Uint8Array(Math.min(max, 1024) * EPOLL_EVENT_SIZE);
  const attempt = (): number => {
    const n = ep.collect(out, Math.min(max, 1024));
    if (n > 0) return put(t, eventsVa, out.subarray(0, n * EPOLL_EVENT_SIZE)) < 0 ? EFAULT : n;
    if (performance.now() >= deadline) return 0;
    wait.deadline = Math.min(deadline, ep.nextTimedEvent());
    return WOULD_BLOCK;
  };
  const wait: Blocked = { retry: attempt, deadline, restartable: false, pollsHost: ep.watchesTerminal() };
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  return vm.block(t, wait);
}

function timeoutMs(ms: number): number {
  return ms < 0 ? Infinity : performance.now() + ms;
}

function timerOf(t: Thread, fd: number): TimerFd | number {
  const f = t.process.fds.get(fd);
  if (f === null) return EBADF;
  return f instanceof TimerFd ? f : EINVAL;
}

export const eventSyscalls: Record<string, SyscallHandler> = {
  epoll_create1: (_vm, t, a) => {
    if ((a.i[0] & ~O_CLOEXEC) !== 0) return EINVAL;
    return install(t, new EpollFile(), a.i[0]);
  },

  epoll_ctl: (_vm, t, a) => {
    const [epfd, op, fd] = [a.i[0], a.i[1], a.i[2]];
    const ep = t.process.fds.get(epfd);
    const file = t.process.fds.get(fd);
    if (ep === null || file === null) return EBADF;
    if (!(ep instanceof EpollFile)) return EINVAL;
    let events = 0;
    let lo = 0;
    let hi = 0;
    if (op !== 2) {
      const raw = t.process.space.read(a.u[3], EPOLL_EVENT_SIZE);
      if (raw === null) return EFAULT;
      const dv = new DataView(raw.buffer);
      events = dv.getUint32(0, true) | 0;
      lo = dv.getInt32(8, true);
      hi = dv.getInt32(12, true);
    }
    return ep.control(op, fd, file, events, lo, hi);
  },

  epoll_pwait: (vm, t, a) => epollWait(vm, t, a.i[0], a.u[1], a.i[2], timeoutMs(a.i[3]), a.u[4], a.u[5]),

  epoll_pwait2: (vm, t, a) => {
    const deadline = readTimeout(t, a.u[3]);
    if (deadline < 0) return deadline;
    return epollWait(vm, t, a.i[0], a.u[1], a.i[2], deadline, a.u[4], a.u[5]);
  },

  eventfd2: (_vm, t, a) => {
    const flags = a.i[1];
    if ((flags & ~(EFD_SEMAPHORE | O_NONBLOCK | O_CLOEXEC)) !== 0) return EINVAL;
    return install(t, new EventFd(a.i[0], flags, (flags & EFD_SEMAPHORE) !== 0), flags);
  },

  timerfd_create: (_vm, t, a) => {
    const [clock, flags] = [a.i[0], a.i[1]];
    if (!TIMERFD_CLOCKS.includes(clock) || (flags & ~(O_NONBLOCK | O_CLOEXEC)) !== 0) return EINVAL;
    return install(t, new TimerFd(clock, flags), flags);
  },

  timerfd_settime: (_vm, t, a) => {
    const timer = timerOf(t, a.i[0]);
    if (typeof timer === "number") return timer;
    const flags = a.i[1];
    if ((flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) !== 0) return EINVAL;
    const spec = readItimerspec(t, a.u[2]);
    if (typeof spec === "number") return spec;
    const [interval, value] = spec;
    const now = process.hrtime.bigint();
    if (a.u[3] !== 0) {
      const [left, every] = timer.get(now);
      if (put(t, a.u[3], itimerspec(every, left)) < 0) return EFAULT;
    }
    let relative = value;
    if ((flags & TFD_TIMER_ABSTIME) !== 0 && value > 0n) {
      const clockNow = clockNs(timer.clockId === CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : timer.clockId)!;
      relative = value > clockNow ? value - clockNow : 1n; // already past: expires at once
    }
    timer.set(relative, interval, now);
    return 0;
  },

  timerfd_gettime: (_vm, t, a) => {
    const timer = timerOf(t, a.i[0]);
    if (typeof timer === "number") return timer;
    const [left, every] = timer.get(process.hrtime.bigint());
    return put(t, a.u[1], itimerspec(every, left));
  },

  signalfd4: (_vm, t, a) => {
    const [fd, flags] = [a.i[0], a.i[3]];
    if (a.u[2] !== 8 || (flags & ~(O_NONBLOCK | O_CLOEXEC)) !== 0) return EINVAL;
    const mask = readSigmask(t, a.u[1]);
    if (mask === null) return EFAULT;
    if (fd === -1) return install(t, new SignalFd(t.process, mask, flags), flags);
    const f = t.process.fds.get(fd);
    if (f === null) return EBADF;
    if (!(f instanceof SignalFd)) return EINVAL;
    f.setMask(mask);
    return fd;
  },
};
