/**
 * What the GDB stub needs from a machine it debugs: threads, registers in
 * GDB's riscv numbering, memory as the guest sees it, run control and
 * breakpoints. The stub speaks the protocol; a target (the process VM's,
 * the system VM's) knows nothing of packets.
 *
 * Run control is asynchronous: `resume` returns at once and the target
 * later calls the `stopped` callback it was given, once per resume.
 */

/** Why the target stopped. Signals are GDB's numbers (gdbSignal), not the host's. */
export type StopReason =
  | { kind: "signal"; signal: number; thread: number; swbreak?: boolean }
  | { kind: "exited"; code: number }
  | { kind: "killed"; signal: number };

/**
 * How to resume. `signal` (GDB's number; 0 or absent: none) is what the
 * stopped thread takes on resuming (`C`/`S`): after a signal stop, the one
 * delivered in place of the reported signal, which `c`/`s` suppress.
 */
export type ResumeAction =
  | { kind: "continue"; signal?: number }
  /** Run `thread` one instruction (others may run meanwhile); stop all when it has. */
  | { kind: "step"; thread: number; signal?: number };

export interface DebugTarget {
  /** The target description (qXfer:features:read:target.xml). */
  readonly targetXml: string;
  /** Called by the target whenever it stops after a resume or interrupt. */
  onStop: (reason: StopReason) => void;
  threadIds(): number[];
  /** The thread a stop is reported for and `?` answers with. */
  currentThread(): number;
  /** Register `regno` (GDB numbering, see riscv-registers.ts) of a thread, little-endian; null if none. */
  readRegister(thread: number, regno: number): Uint8Array | null;
  writeRegister(thread: number, regno: number, value: Uint8Array): boolean;
  /** Up to `len` bytes at virtual `addr` as the thread sees memory; shorter when a page is not mapped. */
  readMemory(thread: number, addr: bigint, len: number): Uint8Array;
  /** Writes, ignoring page protection (as ptrace does); false if any page is not mapped. */
  writeMemory(thread: number, addr: bigint, data: Uint8Array): boolean;
  /** Auxiliary vector of the debugged program (qXfer:auxv:read), if the target has one. */
  auxv?(): Uint8Array;
  /** The executable's host path (qXfer:exec-file:read), if the target has one. */
  execFile?(): string;
  resume(action: ResumeAction): void;
  /** Stop as soon as possible (Ctrl-C in gdb); reported through onStop with SIGINT. */
  interrupt(): void;
  setBreakpoint(addr: bigint, present: boolean): void;
  /** A debugger connected: stop (silently; it asks `?`) if running. */
  attach(): void;
  /** End the debugged program (gdb's `kill`). */
  kill(): void;
  /** Forget the debugger: breakpoints go and the program runs on. */
  detach(): void;
}

/** GDB's signal numbers (gdb/signals.def) for Linux signals; the first 6 and a few more agree. */
const LINUX_TO_GDB: Record<number, number> = {
  1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31, 13: 13, 14: 14, 15: 15,
  16: 0, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16, 24: 24, 25: 25, 26: 26, 27: 27, 28: 28,
  29: 23, 30: 32, 31: 12,
};

export function gdbSignal(linux: number): number {
  return LINUX_TO_GDB[linux] ?? 143; // GDB_SIGNAL_UNKNOWN
}

/** The Linux signal for GDB's number, or 0 for none Linux has. */
export function linuxSignal(gdb: number): number {
  for (const [linux, g] of Object.entries(LINUX_TO_GDB)) if (g === gdb && gdb !== 0) return Number(linux);
  return 0;
}

export const GDB_SIGINT = 2;
export const GDB_SIGTRAP = 5;
