/** Signal system calls: actions, masks, alternate stacks, kill, sigreturn, sigsuspend. */
import { ERRNO } from "../abi.ts";
import { NO_RETURN, getReg, type ProcessVm } from "../kernel.ts";
import { WOULD_BLOCK } from "../files.ts";
import type { Process, Thread } from "../process.ts";
import {
  MINSIGSTKSZ, NSIG, SIGKILL, SIGSEGV, SIGSTOP, SI_TKILL, SI_USER, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, UNBLOCKABLE,
  encodeSiginfo, popSignalFrame, sigBit, type SigInfo,
} from "../signals.ts";
import type { SyscallHandler } from "./table.ts";
import { EFAULT, EINVAL, StructWriter, put, readTimeout } from "./util.ts";
import { performance } from "node:perf_hooks";

const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;
const SIG_SETMASK = 2;
const REG_SP = 2;

function validSignal(sig: number): boolean {
  return sig >= 1 && sig <= NSIG;
}

export function readSigmask(t: Thread, va: number): bigint | null {
  const b = t.process.space.read(va, 8);
  return b === null ? null : new DataView(b.buffer).getBigUint64(0, true);
}

/**
 * The signal mask argument of ppoll, pselect6 and epoll_pwait: swapped in
 * for the duration of the call (the kernel puts the old one back when the
 * call completes, or after the handler of the signal that interrupted it).
 * 0, or a negated errno.
 */
export function swapInSigmask(t: Thread, va: number, size: number): number {
  if (size !== 8) return EINVAL;
  const mask = readSigmask(t, va);
  if (mask === null) return EFAULT;
  t.savedSigmask = t.sigmask;
  t.sigmask = mask & ~UNBLOCKABLE;
  return 0;
}

function maskBytes(mask: bigint): Uint8Array {
  return new StructWriter(8).u64(0, mask).bytes;
}

function onAltStack(vm: ProcessVm, t: Thread): boolean {
  const sp = getReg(vm.regsOf(t), REG_SP);
  const a = t.altstack;
  return (a.flags & SS_DISABLE) === 0 && sp > a.sp && sp <= a.sp + a.size;
}

/** Processes `kill(pid, ...)` addresses. */
function killTargets(vm: ProcessVm, self: Process, pid: number): Process[] {
  const all = [...vm.processes.values()].filter((p) => p.alive);
  if (pid > 0) return all.filter((p) => p.pid === pid);
  if (pid === 0) return all.filter((p) => p.pgid === self.pgid);
  if (pid === -1) return all;
  return all.filter((p) => p.pgid === -pid);
}

function pendingFor(t: Thread, set: bigint): { list: SigInfo[]; index: number } | null {
  for (const list of [t.pending, t.process.pending]) {
    const i = list.findIndex((s) => (sigBit(s.signo) & set) !== 0n);
    if (i >= 0) return { list, index: i };
  }
  return null;
}

/**
 * sigqueue(3) and pthread_sigqueue: a signal with the sender's siginfo (code
 * and value). Only the kernel may claim codes >= 0 or SI_TKILL for another
 * process (EPERM), as in Linux.
 */
function queueInfo(vm: ProcessVm, t: Thread, pid: number, tid: number, sig: number, infoVa: number): number {
  if (!validSignal(sig) && sig !== 0) return EINVAL;
  const raw = t.process.space.read(infoVa, 32);
  if (raw === null) return EFAULT;
  const dv = new DataView(raw.buffer);
  const code = dv.getInt32(8, true);
  const targetPid = pid;
  if ((code >= 0 || code === SI_TKILL) && targetPid !== t.process.pid) return -ERRNO.EPERM;
  const target = vm.processes.get(targetPid);
  if (target === undefined || !target.alive) return -ERRNO.ESRCH;
  const thread = tid > 0 ? target.threads.find((x) => x.tid === tid) : undefined;
  if (tid > 0 && thread === undefined) return -ERRNO.ESRCH;
  if (sig === 0) return 0;
  const info: SigInfo = {
    signo: sig, code, pid: dv.getInt32(16, true), uid: dv.getInt32(20, true), value: dv.getBigUint64(24, true),
  };
  if (thread !== undefined) vm.sendToThread(thread, info);
  else vm.sendToProcess(target, info);
  return 0;
}

export const signalSyscalls: Record<string, SyscallHandler> = {
  rt_sigaction: (_vm, t, a) => {
    const sig = a.i[0];
    if (a.u[3] !== 8 || !validSignal(sig)) return EINVAL;
    const p = t.process;
    const old = p.actions[sig];
    let next = null;
    if (a.u[1] !== 0) {
      if (sig === SIGKILL || sig === SIGSTOP) return EINVAL;
      const b = p.space.read(a.u[1], 24);
      if (b === null) return EFAULT;
      const dv = new DataView(b.buffer);
      next = {
        handler: Number(dv.getBigUint64(0, true)),
        flags: dv.getUint32(8, true),
        mask: dv.getBigUint64(16, true) & ~UNBLOCKABLE,
      };
    }
    if (a.u[2] !== 0) {
      const out = new StructWriter(24).u64(0, old.handler).u64(8, old.flags >>> 0).u64(16, old.mask).bytes;
      if (put(t, a.u[2], out) < 0) return EFAULT;
    }
    if (next !== null) p.actions[sig] = next;
    return 0;
  },

  rt_sigprocmask: (_vm, t, a) => {
    if (a.u[3] !== 8) return EINVAL;
    const old = t.sigmask;
    if (a.u[1] !== 0) {
      const set = readSigmask(t, a.u[1]);
      if (set === null) return EFAULT;
      switch (a.i[0]) {
        case SIG_BLOCK: t.sigmask |= set; break;
        case SIG_UNBLOCK: t.sigmask &= ~set; break;
        case SIG_SETMASK: t.sigmask = set; break;
        default: return EINVAL;
      }
      t.sigmask &= ~UNBLOCKABLE;
    }
    if (a.u[2] !== 0 && put(t, a.u[2], maskBytes(old)) < 0) return EFAULT;
    return 0;
  },

  rt_sigpending: (_vm, t, a) => {
    if (a.u[1] !== 8) return EINVAL;
    let set = 0n;
    for (const s of [...t.pending, ...t.process.pending]) set |= sigBit(s.signo);
    return put(t, a.u[0], maskBytes(set & t.sigmask));
  },

  sigaltstack: (vm, t, a) => {
    const on = onAltStack(vm, t);
    if (a.u[1] !== 0) {
      const cur = t.altstack;
      const out = new StructWriter(24).u64(0, cur.sp).i32(8, on ? SS_ONSTACK : cur.flags).u64(16, cur.size).bytes;
      if (put(t, a.u[1], out) < 0) return EFAULT;
    }
    if (a.u[0] !== 0) {
      const b = t.process.space.read(a.u[0], 24);
      if (b === null) return EFAULT;
      if (on) return -ERRNO.EPERM;
      const dv = new DataView(b.buffer);
      const flags = dv.getInt32(8, true);
      const mode = flags & ~SS_AUTODISARM;
      if (mode !== 0 && mode !== SS_DISABLE && mode !== SS_ONSTACK) return EINVAL;
      if (mode === SS_DISABLE) t.altstack = { sp: 0, size: 0, flags: SS_DISABLE };
      else {
        const size = Number(dv.getBigUint64(16, true));
        if (size < MINSIGSTKSZ) return -ERRNO.ENOMEM;
        t.altstack = { sp: Number(dv.getBigUint64(0, true)), size, flags: flags & SS_AUTODISARM };
      }
    }
    return 0;
  },

  kill: (vm, t, a) => {
    const sig = a.i[1];
    if (sig !== 0 && !validSignal(sig)) return EINVAL;
    const targets = killTargets(vm, t.process, a.i[0]);
    if (targets.length === 0) return -ERRNO.ESRCH;
    if (sig === 0) return 0;
    for (const p of targets) vm.sendToProcess(p, { signo: sig, code: SI_USER, pid: t.process.pid, uid: vm.creds.uid });
    return 0;
  },

  tkill: (vm, t, a) => {
    const sig = a.i[1];
    if (sig !== 0 && !validSignal(sig)) return EINVAL;
    const target = vm.threads.find((x) => x.tid === a.i[0]);
    if (target === undefined) return -ERRNO.ESRCH;
    if (sig !== 0) vm.sendToThread(target, { signo: sig, code: SI_TKILL, pid: t.process.pid, uid: vm.creds.uid });
    return 0;
  },

  tgkill: (vm, t, a) => {
    const sig = a.i[2];
    if ((sig !== 0 && !validSignal(sig)) || a.i[0] <= 0 || a.i[1] <= 0) return EINVAL;
    const target = vm.threads.find((x) => x.tid === a.i[1] && x.process.pid === a.i[0]);
    if (target === undefined) return -ERRNO.ESRCH;
    if (sig !== 0) vm.sendToThread(target, { signo: sig, code: SI_TKILL, pid: t.process.pid, uid: vm.creds.uid });
    return 0;
  },

  rt_sigqueueinfo: (vm, t, a) => queueInfo(vm, t, a.i[0], 0, a.i[1], a.u[2]),
  rt_tgsigqueueinfo: (vm, t, a) => queueInfo(vm, t, a.i[0], a.i[1], a.i[2], a.u[3]),

  rt_sigreturn: (vm, t) => {
    const restored = popSignalFrame(vm.regsOf(t), t.process.space);
    if (restored === null) {
      vm.fault(t, { signo: SIGSEGV, code: 0x80 });
      return NO_RETURN;
    }
    t.sigmask = restored.mask & ~UNBLOCKABLE;
    const alt = restored.altstack;
    if ((alt.flags & SS_DISABLE) !== 0) t.altstack = { sp: 0, size: 0, flags: SS_DISABLE };
    else if (alt.size >= MINSIGSTKSZ) t.altstack = { sp: alt.sp, size: alt.size, flags: alt.flags & SS_AUTODISARM };
    return NO_RETURN;
  },

  rt_sigsuspend: (vm, t, a) => {
    const r = swapInSigmask(t, a.u[0], a.u[1]);
    if (r < 0) return r;
    return vm.block(t, { retry: () => WOULD_BLOCK, deadline: Infinity, restartable: false });
  },

  rt_sigtimedwait: (vm, t, a) => {
    if (a.u[3] !== 8) return EINVAL;
    const set = readSigmask(t, a.u[0]);
    if (set === null) return EFAULT;
    const deadline = readTimeout(t, a.u[2]);
    if (deadline < 0) return deadline;
    const infoVa = a.u[1];
    const attempt = (): number => {
      const found = pendingFor(t, set & ~UNBLOCKABLE);
      if (found === null) return performance.now() >= deadline ? -ERRNO.EAGAIN : WOULD_BLOCK;
      const info = found.list.splice(found.index, 1)[0];
      if (infoVa !== 0 && put(t, infoVa, encodeSiginfo(info)) < 0) return EFAULT;
      return info.signo;
    };
    const r = attempt();
    if (r !== WOULD_BLOCK) return r;
    return vm.block(t, { retry: attempt, deadline, restartable: false });
  },
};
