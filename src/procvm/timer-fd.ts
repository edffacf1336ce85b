/**
 * timerfd(2): a timer on a clock, read as the number of expirations since
 * the last read. Expiry is kept in host nanoseconds (process.hrtime, the
 * base of every guest clock, see syscalls/time.ts); `nextTimedEvent` tells
 * the scheduler when an idle wait must end.
 */
import { performance } from "node:perf_hooks";
import { ERRNO } from "./abi.ts";
import { AnonFile } from "./anon-file.ts";
import { POLLIN, POLLRDNORM } from "./files.ts";

export class TimerFd extends AnonFile {
  /** Next expiry in host ns (0n = disarmed) and the period (0n = one-shot). */
  private expiry = 0n;
  private interval = 0n;
  /** Expirations not yet read. */
  private ticks = 0n;
  private version = 0;

  constructor(
    readonly clockId: number,
    nonblock: number,
  ) {
    super(nonblock, "[timerfd]");
  }

  /** Arms (value > 0) or disarms the timer; both in host-relative ns. */
  set(valueNs: bigint, intervalNs: bigint, nowNs: bigint): void {
    this.ticks = 0n;
    this.version++;
    this.expiry = valueNs > 0n ? nowNs + valueNs : 0n;
    this.interval = valueNs > 0n ? intervalNs : 0n;
  }

  /** [time to next expiry, interval] in ns, as timerfd_gettime reports them. */
  get(nowNs: bigint): [bigint, bigint] {
    this.advance(nowNs);
    if (this.expiry === 0n) return [0n, this.interval];
    const left = this.expiry - nowNs;
    return [left > 0n ? left : 1n, this.interval];
  }

  /** Counts the expirations up to `now` into `ticks`. */
  private advance(nowNs: bigint): void {
    if (this.expiry === 0n || nowNs < this.expiry) return;
    if (this.interval > 0n) {
      const n = (nowNs - this.expiry) / this.interval + 1n;
      this.ticks += n;
      this.expiry += n * this.interval;
    } else {
      this.ticks += 1n;
      this.expiry = 0n;
    }
    this.version++;
  }

  read(buf: Uint8Array): number {
    if (buf.length < 8) return -ERRNO.EINVAL;
    this.advance(process.hrtime.bigint());
    if (this.ticks === 0n) return this.mustWait();
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, this.ticks, true);
    this.ticks = 0n;
    this.version++;
    return 8;
  }

  override pollMask(): number {
    this.advance(process.hrtime.bigint());
    return this.ticks > 0n ? POLLIN | POLLRDNORM : 0;
  }

  override get readinessVersion(): number {
    this.advance(process.hrtime.bigint());
    return this.version;
  }

  override nextTimedEvent(): number {
    if (this.expiry === 0n || this.ticks > 0n) return Infinity;
    return performance.now() + Number(this.expiry - process.hrtime.bigint()) / 1e6;
  }
}
