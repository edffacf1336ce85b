/**
 * Linux signals for riscv64: numbers, default actions, and the rt_sigframe
 * that delivery pushes on the user stack (arch/riscv/kernel/signal.c):
 *
 *   struct rt_sigframe { siginfo_t info;   // 128 bytes at 0
 *                        struct ucontext uc; }  // at 128, 960 bytes
 *   ucontext: uc_flags 0, uc_link 8, uc_stack 16 (sp, flags, size),
 *             uc_sigmask 40 (8 bytes), uc_mcontext 176:
 *             sc_regs: pc, x1..x31 (32 × 8), then the FP state: f0..f31
 *             (8 bytes each) and fcsr, inside the 528-byte Q-extension union
 *             whose reserved words must read back as zero.
 *
 * Register contexts here are Int32Array word views with the hart layout
 * (x at 0, f at 64, pc at 128, fflags at 131, frm at 132): either the live
 * hart state or a thread's saved copy.
 */
import type { AddressSpace } from "./address-space.ts";

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGWINCH = 28;
export const SIGSYS = 31;
export const NSIG = 64;

export const SIG_DFL = 0;
export const SIG_IGN = 1;

export const SA_NOCLDSTOP = 0x1;
export const SA_NOCLDWAIT = 0x2;
export const SA_SIGINFO = 0x4;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;

export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 0x80000000;
export const MINSIGSTKSZ = 2048;

export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_TKILL = -6;
export const SI_QUEUE = -1;
export const SI_TIMER = -2;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const ILL_ILLOPC = 1;
export const TRAP_BRKPT = 1;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;

export const SIGINFO_SIZE = 128;
export const UCONTEXT_OFFSET = 128;
const UC_STACK = 16;
const UC_SIGMASK = 40;
const UC_MCONTEXT = 176;
const SC_FP = 256;
const FP_STATE_SIZE = 528;
export const SIGFRAME_SIZE = SIGINFO_SIZE + UC_MCONTEXT + SC_FP + FP_STATE_SIZE;

const W_X = 0;
const W_F = 64;
const W_PC = 128;
const W_FFLAGS = 131;
const W_FRM = 132;
const REG_SP = 2;
const REG_RA = 1;
const REG_A0 = 10;

export const SIGNAL_NAMES: Record<number, string> = {
  1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
  9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
  16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
  23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
  30: "SIGPWR", 31: "SIGSYS",
};

/** strsignal() text, for the diagnostic when a signal ends the program. */
export const SIGNAL_DESCRIPTIONS: Record<number, string> = {
  1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted",
  7: "Bus error", 8: "Floating point exception", 9: "Killed", 10: "User defined signal 1",
  11: "Segmentation fault", 12: "User defined signal 2", 13: "Broken pipe", 14: "Alarm clock", 15: "Terminated",
  24: "CPU time limit exceeded", 25: "File size limit exceeded", 31: "Bad system call",
};

export function signalName(sig: number): string {
  return SIGNAL_NAMES[sig] ?? (sig >= 32 && sig <= 64 ? `SIGRT${sig - 32}` : `signal ${sig}`);
}

export type DefaultAction = "term" | "core" | "ignore" | "stop";

export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH: case SIGCONT: return "ignore";
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return "stop";
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS: return "core";
    default: return "term";
  }
}

export function sigBit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

/** Signals that cannot be caught, blocked or ignored. */
export const UNBLOCKABLE = sigBit(SIGKILL) | sigBit(SIGSTOP);

export interface SigAction {
  handler: number;
  flags: number;
  mask: bigint;
}

export interface SigInfo {
  signo: number;
  code: number;
  errno?: number;
  /** kill/tkill/SIGCHLD: sender / child pid and uid. */
  pid?: number;
  uid?: number;
  /** SIGCHLD: exit code or signal. */
  status?: number;
  /** Faults: the address. */
  addr?: number;
  /** sigqueue and timers: the sigval (int or pointer) the sender attached. */
  value?: bigint;
  /** POSIX timers (SI_TIMER): the timer's id and how many expirations this one signal stands for beyond the first. */
  timerId?: number;
  overrun?: number;
}

export interface AltStack {
  sp: number;
  size: number;
  flags: number;
}

export function encodeSiginfo(info: SigInfo): Uint8Array {
  const b = new Uint8Array(SIGINFO_SIZE);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, info.signo, true);
  dv.setInt32(4, info.errno ?? 0, true);
  dv.setInt32(8, info.code, true);
  if (info.addr !== undefined) {
    dv.setBigUint64(16, BigInt(info.addr), true);
  } else if (info.timerId !== undefined) {
    dv.setInt32(16, info.timerId, true);
    dv.setInt32(20, info.overrun ?? 0, true);
    dv.setBigUint64(24, BigInt.asUintN(64, info.value ?? 0n), true);
  } else {
    dv.setInt32(16, info.pid ?? 0, true);
    dv.setInt32(20, info.uid ?? 0, true);
    if (info.status !== undefined) dv.setInt32(24, info.status, true);
    else if (info.value !== undefined) dv.setBigUint64(24, BigInt.asUintN(64, info.value), true);
  }
  return b;
}

/**
 * Pushes a frame for `sig` on the stack and redirects the context to the
 * handler. Returns false if the frame could not be written (the caller
 * then kills the process with SIGSEGV, as Linux does).
 */
export function pushSignalFrame(
  regs: Int32Array,
  space: AddressSpace,
  info: SigInfo,
  action: SigAction,
  savedMask: bigint,
  altstack: AltStack,
  sigreturn: number,
): boolean {
  const dv0 = new DataView(regs.buffer, regs.byteOffset, regs.byteLength);
  const getX = (i: number) => Number(dv0.getBigUint64((W_X + 2 * i) * 4, true));
  let sp = getX(REG_SP);
  const onAltStack = sp > altstack.sp && sp <= altstack.sp + altstack.size;
  if ((action.flags & SA_ONSTACK) !== 0 && (altstack.flags & SS_DISABLE) === 0 && !onAltStack) {
    sp = altstack.sp + altstack.size;
  }
  const frame = Math.floor((sp - SIGFRAME_SIZE) / 16) * 16;

  const b = new Uint8Array(SIGFRAME_SIZE);
  const dv = new DataView(b.buffer);
  b.set(encodeSiginfo(info), 0);
  const uc = UCONTEXT_OFFSET;
  dv.setBigUint64(uc + UC_STACK, BigInt(altstack.sp), true);
  dv.setInt32(uc + UC_STACK + 8, onAltStack ? SS_ONSTACK : altstack.flags & SS_DISABLE, true);
  dv.setBigUint64(uc + UC_STACK + 16, BigInt(altstack.size), true);
  dv.setBigUint64(uc + UC_SIGMASK, savedMask, true);
  const mc = uc + UC_MCONTEXT;
  for (let i = 0; i < 2; i++) dv.setInt32(mc + i * 4, regs[W_PC + i], true);
  for (let r = 1; r < 32; r++) {
    dv.setInt32(mc + r * 8, regs[W_X + 2 * r], true);
    dv.setInt32(mc + r * 8 + 4, regs[W_X + 2 * r + 1], true);
  }
  const fp = mc + SC_FP;
  for (let r = 0; r < 32; r++) {
    dv.setInt32(fp + r * 8, regs[W_F + 2 * r], true);
    dv.setInt32(fp + r * 8 + 4, regs[W_F + 2 * r + 1], true);
  }
  dv.setUint32(fp + 256, ((regs[W_FRM] & 7) << 5) | (regs[W_FFLAGS] & 31), true);
  if (!space.write(frame, b)) return false;

  const setX = (i: number, v: number) => {
    regs[W_X + 2 * i] = v % 0x1_0000_0000 | 0;
    regs[W_X + 2 * i + 1] = Math.floor(v / 0x1_0000_0000) | 0;
  };
  setX(REG_SP, frame);
  setX(REG_RA, sigreturn);
  setX(REG_A0, info.signo);
  setX(REG_A0 + 1, frame);
  setX(REG_A0 + 2, frame + UCONTEXT_OFFSET);
  regs[W_PC] = action.handler % 0x1_0000_0000 | 0;
  regs[W_PC + 1] = Math.floor(action.handler / 0x1_0000_0000) | 0;
  return true;
}

/**
 * rt_sigreturn: restores the context saved in the frame at the current sp.
 * Returns the saved signal mask and alternate stack, or null when the frame
 * is unreadable or invalid (the caller sends SIGSEGV).
 */
export function popSignalFrame(regs: Int32Array, space: AddressSpace): { mask: bigint; altstack: AltStack } | null {
  const frame = (regs[W_X + 2 * REG_SP + 1] >>> 0) * 0x1_0000_0000 + (regs[W_X + 2 * REG_SP] >>> 0);
  const b = space.read(frame, SIGFRAME_SIZE);
  if (b === null) return null;
  const dv = new DataView(b.buffer);
  const uc = UCONTEXT_OFFSET;
  const mc = uc + UC_MCONTEXT;
  const fp = mc + SC_FP;
  for (let i = fp + 516; i < fp + FP_STATE_SIZE; i += 4) if (dv.getUint32(i, true) !== 0) return null;
  regs[W_PC] = dv.getInt32(mc, true);
  regs[W_PC + 1] = dv.getInt32(mc + 4, true);
  for (let r = 1; r < 32; r++) {
    regs[W_X + 2 * r] = dv.getInt32(mc + r * 8, true);
    regs[W_X + 2 * r + 1] = dv.getInt32(mc + r * 8 + 4, true);
  }
  for (let r = 0; r < 32; r++) {
    regs[W_F + 2 * r] = dv.getInt32(fp + r * 8, true);
    regs[W_F + 2 * r + 1] = dv.getInt32(fp + r * 8 + 4, true);
  }
  const fcsr = dv.getUint32(fp + 256, true);
  regs[W_FFLAGS] = fcsr & 31;
  regs[W_FRM] = (fcsr >>> 5) & 7;
  return {
    mask: dv.getBigUint64(uc + UC_SIGMASK, true),
    altstack: {
      sp: Number(dv.getBigUint64(uc + UC_STACK, true)),
      flags: dv.getInt32(uc + UC_STACK + 8, true),
      size: Number(dv.getBigUint64(uc + UC_STACK + 16, true)),
    },
  };
}
