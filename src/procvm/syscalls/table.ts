/**
 * The system call table: handlers by Linux name, placed at their generic
 * (asm-generic/unistd.h) numbers. A number with no handler gets -ENOSYS.
 */
import { SYSCALL_NAMES } from "../abi.ts";
import type { ProcessVm, SyscallArgs } from "../kernel.ts";
import type { Thread } from "../process.ts";
import { eventSyscalls } from "./events.ts";
import { fsSyscalls } from "./fs.ts";
import { futexSyscalls } from "./futex.ts";
import { mmSyscalls } from "./mm.ts";
import { netSyscalls } from "./net.ts";
import { procSyscalls } from "./proc.ts";
import { signalSyscalls } from "./signal.ts";
import { spliceSyscalls } from "./splice.ts";
import { statfsSyscalls } from "./statfs.ts";
import { timeSyscalls } from "./time.ts";
import { timerSyscalls } from "./timers.ts";

/**
 * Returns the result for a0 (a value or a negated errno), WOULD_BLOCK after
 * `vm.block(...)`, or NO_RETURN when it replaced the thread's context.
 */
export type SyscallHandler = (vm: ProcessVm, t: Thread, a: SyscallArgs) => number;

const byName: Record<string, SyscallHandler> = {
  ...fsSyscalls,
  ...mmSyscalls,
  ...procSyscalls,
  ...signalSyscalls,
  ...timeSyscalls,
  ...futexSyscalls,
  ...netSyscalls,
  ...eventSyscalls,
  ...statfsSyscalls,
  ...spliceSyscalls,
  ...timerSyscalls,
};

export const SYSCALLS: Array<SyscallHandler | undefined> = [];
for (const [nr, name] of Object.entries(SYSCALL_NAMES)) {
  const handler = byName[name];
  if (handler !== undefined) SYSCALLS[Number(nr)] = handler;
}

/** Names with a handler, for tests and docs. */
export function implementedSyscalls(): string[] {
  return Object.keys(byName).filter((n) => Object.values(SYSCALL_NAMES).includes(n));
}
