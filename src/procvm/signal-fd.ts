/**
 * signalfd(2): the process's pending signals in `mask`, read as 128-byte
 * signalfd_siginfo records instead of delivered to handlers (the program
 * blocks them first). Signals are taken from the creating process: the
 * process-wide queue first, then its threads' own queues. (Linux reads the
 * reader's queues; the two differ only for a signalfd inherited by a child.)
 */
import { ERRNO } from "./abi.ts";
import { AnonFile } from "./anon-file.ts";
import { POLLIN, POLLRDNORM } from "./files.ts";
import type { Process } from "./process.ts";
import { UNBLOCKABLE, sigBit, type SigInfo } from "./signals.ts";

export const SIGNALFD_SIGINFO_SIZE = 128;

export class SignalFd extends AnonFile {
  private mask: bigint;

  constructor(
    readonly owner: Process,
    mask: bigint,
    nonblock: number,
  ) {
    super(nonblock, "[signalfd]");
    this.mask = mask & ~UNBLOCKABLE;
  }

  setMask(mask: bigint): void {
    this.mask = mask & ~UNBLOCKABLE;
  }

  private queues(): SigInfo[][] {
    return [this.owner.pending, ...this.owner.threads.map((t) => t.pending)];
  }

  private take(): SigInfo | null {
    for (const q of this.queues()) {
      const i = q.findIndex((s) => (sigBit(s.signo) & this.mask) !== 0n);
      if (i >= 0) return q.splice(i, 1)[0];
    }
    return null;
  }

  read(buf: Uint8Array): number {
    if (buf.length < SIGNALFD_SIGINFO_SIZE) return -ERRNO.EINVAL;
    let n = 0;
    while (n + SIGNALFD_SIGINFO_SIZE <= buf.length) {
      const info = this.take();
      if (info === null) break;
      buf.set(encodeSignalfdSiginfo(info), n);
      n += SIGNALFD_SIGINFO_SIZE;
    }
    return n > 0 ? n : this.mustWait();
  }

  override pollMask(): number {
    for (const q of this.queues()) if (q.some((s) => (sigBit(s.signo) & this.mask) !== 0n)) return POLLIN | POLLRDNORM;
    return 0;
  }

  override get readinessVersion(): number {
    return this.owner.signalsQueued;
  }
}

/** struct signalfd_siginfo (linux/signalfd.h). */
export function encodeSignalfdSiginfo(info: SigInfo): Uint8Array {
  const b = new Uint8Array(SIGNALFD_SIGINFO_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, info.signo, true);
  dv.setInt32(4, info.errno ?? 0, true);
  dv.setInt32(8, info.code, true);
  dv.setUint32(12, info.pid ?? 0, true);
  dv.setUint32(16, info.uid ?? 0, true);
  dv.setUint32(24, info.timerId ?? 0, true);
  dv.setUint32(32, info.overrun ?? 0, true);
  dv.setInt32(40, info.status ?? 0, true);
  if (info.value !== undefined) {
    dv.setInt32(44, Number(BigInt.asIntN(32, info.value)), true);
    dv.setBigUint64(48, BigInt.asUintN(64, info.value), true);
  }
  if (info.addr !== undefined) dv.setBigUint64(72, BigInt(info.addr), true);
  return b;
}
