/**
 * futex(2): wait queues keyed per address space (private memory) or per
 * physical frame (MAP_SHARED memory), as Linux keys them.
 */
import { performance } from "node:perf_hooks";
import { ERRNO } from "../abi.ts";
import type { ProcessVm, SyscallArgs } from "../kernel.ts";
import { WOULD_BLOCK } from "../files.ts";
import type { Thread } from "../process.ts";
import { clockNs } from "./time.ts";
import type { SyscallHandler } from "./table.ts";
import { EFAULT, EINVAL, readTimespec } from "./util.ts";

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const FUTEX_REQUEUE = 3;
const FUTEX_CMP_REQUEUE = 4;
const FUTEX_WAKE_OP = 5;
const FUTEX_WAIT_BITSET = 9;
const FUTEX_WAKE_BITSET = 10;
const FUTEX_PRIVATE_FLAG = 128;
const FUTEX_CLOCK_REALTIME = 256;

function removeWaiter(vm: ProcessVm, t: Thread): void {
  if (t.futexKey === null) return;
  const q = vm.futexes.get(t.futexKey);
  if (q !== undefined) {
    const i = q.indexOf(t);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) vm.futexes.delete(t.futexKey);
  }
  t.futexKey = null;
}

function wait(vm: ProcessVm, t: Thread, a: SyscallArgs, bitset: number, absolute: boolean, realtime: boolean): number {
  const uaddr = a.u[0];
  if (uaddr % 4 !== 0) return EINVAL;
  if (bitset === 0) return EINVAL;
  let deadline = Infinity;
  if (a.u[3] !== 0) {
    const ns = readTimespec(t, a.u[3]);
    if (ns === null) return EFAULT;
    if (ns < 0n) return EINVAL;
    const rel = absolute ? Number(ns - clockNs(realtime ? 0 : 1)!) / 1e6 : Number(ns) / 1e6;
    deadline = performance.now() + rel;
  }
  const value = t.process.space.readU32(uaddr);
  if (value === null) return EFAULT;
  if (value !== a.i[2] >>> 0) return -ERRNO.EAGAIN;
  const key = vm.futexKey(t.process, uaddr);
  if (key === null) return EFAULT;
  if (performance.now() >= deadline) return -ERRNO.ETIMEDOUT;
  let q = vm.futexes.get(key);
  if (q === undefined) vm.futexes.set(key, (q = []));
  q.push(t);
  t.futexKey = key;
  t.futexWoken = false;
  t.futexBitset = bitset;
  return vm.block(t, {
    retry: () => {
      if (t.futexWoken) return 0;
      if (performance.now() >= deadline) {
        removeWaiter(vm, t);
        return -ERRNO.ETIMEDOUT;
      }
      return WOULD_BLOCK;
    },
    deadline,
    restartable: false,
    cancel: () => removeWaiter(vm, t),
  });
}

function requeue(vm: ProcessVm, t: Thread, a: SyscallArgs, compare: boolean): number {
  const p = t.process;
  if (compare) {
    const v = p.space.readU32(a.u[0]);
    if (v === null) return EFAULT;
    if (v !== a.i[5] >>> 0) return -ERRNO.EAGAIN;
  }
  const woken = vm.futexWake(p, a.u[0], a.i[2], -1);
  if (woken < 0) return woken;
  const from = vm.futexKey(p, a.u[0]);
  const to = vm.futexKey(p, a.u[4]);
  if (from === null || to === null) return EFAULT;
  const q = vm.futexes.get(from);
  let moved = 0;
  const limit = Math.min(a.u[3], 0x7fffffff);
  if (q !== undefined && from !== to) {
    let dest = vm.futexes.get(to);
    while (q.length > 0 && moved < limit) {
      const w = q.shift()!;
      if (dest === undefined) vm.futexes.set(to, (dest = []));
      dest.push(w);
      w.futexKey = to;
      moved++;
    }
    if (q.length === 0) vm.futexes.delete(from);
  }
  return woken + moved;
}

function wakeOp(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const p = t.process;
  const encoded = a.i[5];
  const op = (encoded >>> 28) & 7;
  const shift = (encoded >>> 28) & 8;
  const cmp = (encoded >>> 24) & 15;
  let oparg = ((encoded >> 12) << 20) >> 20;
  const cmparg = (encoded << 20) >> 20;
  if (shift !== 0) oparg = 1 << (oparg & 31);
  const old = p.space.readU32(a.u[4]);
  if (old === null) return EFAULT;
  let next: number;
  switch (op) {
    case 0: next = oparg; break;
    case 1: next = old + oparg; break;
    case 2: next = old | oparg; break;
    case 3: next = old & ~oparg; break;
    case 4: next = old ^ oparg; break;
    default: return -ERRNO.ENOSYS;
  }
  if (!p.space.writeU32(a.u[4], next >>> 0)) return EFAULT;
  const oldS = old | 0;
  let hit: boolean;
  switch (cmp) {
    case 0: hit = oldS === cmparg; break;
    case 1: hit = oldS !== cmparg; break;
    case 2: hit = oldS < cmparg; break;
    case 3: hit = oldS <= cmparg; break;
    case 4: hit = oldS > cmparg; break;
    case 5: hit = oldS >= cmparg; break;
    default: return -ERRNO.ENOSYS;
  }
  let n = vm.futexWake(p, a.u[0], a.i[2], -1);
  if (n < 0) return n;
  if (hit) {
    const m = vm.futexWake(p, a.u[4], Math.min(a.u[3], 0x7fffffff), -1);
    if (m > 0) n += m;
  }
  return n;
}

export const futexSyscalls: Record<string, SyscallHandler> = {
  futex: (vm, t, a) => {
    const op = a.i[1];
    const cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    const realtime = (op & FUTEX_CLOCK_REALTIME) !== 0;
    switch (cmd) {
      case FUTEX_WAIT:
        return wait(vm, t, a, -1, false, false);
      case FUTEX_WAIT_BITSET:
        return wait(vm, t, a, a.i[5], true, realtime);
      case FUTEX_WAKE:
        return vm.futexWake(t.process, a.u[0], a.i[2] <= 0 ? 0 : a.i[2], -1);
      case FUTEX_WAKE_BITSET:
        if (a.i[5] === 0) return EINVAL;
        return vm.futexWake(t.process, a.u[0], a.i[2] <= 0 ? 0 : a.i[2], a.i[5]);
      case FUTEX_REQUEUE:
        return requeue(vm, t, a, false);
      case FUTEX_CMP_REQUEUE:
        return requeue(vm, t, a, true);
      case FUTEX_WAKE_OP:
        return wakeOp(vm, t, a);
      default:
        return -ERRNO.ENOSYS;
    }
  },
};
