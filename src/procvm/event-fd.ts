/**
 * eventfd(2): a 64-bit counter as a file. write adds to it (waiting while
 * it would pass 2^64 - 2), read takes it all (or 1 in semaphore mode),
 * waiting while it is 0. Go's runtime and libuv wake their pollers with it.
 */
import { ERRNO } from "./abi.ts";
import { AnonFile } from "./anon-file.ts";
import { POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from "./files.ts";

export const EFD_SEMAPHORE = 1;
const MAX = 0xffff_ffff_ffff_fffen;

export class EventFd extends AnonFile {
  private count: bigint;
  private version = 0;

  constructor(
    initial: number,
    nonblock: number,
    private readonly semaphore: boolean,
  ) {
    super(nonblock, "[eventfd]");
    this.count = BigInt(initial >>> 0);
  }

  read(buf: Uint8Array): number {
    if (buf.length < 8) return -ERRNO.EINVAL;
    if (this.count === 0n) return this.mustWait();
    const value = this.semaphore ? 1n : this.count;
    this.count -= value;
    this.version++;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, value, true);
    return 8;
  }

  override write(data: Uint8Array): number {
    if (data.length < 8) return -ERRNO.EINVAL;
    const value = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    if (value === 0xffff_ffff_ffff_ffffn) return -ERRNO.EINVAL;
    if (value > MAX - this.count) return this.mustWait();
    this.count += value;
    this.version++;
    return 8;
  }

  override pollMask(): number {
    let mask = 0;
    if (this.count > 0n) mask |= POLLIN | POLLRDNORM;
    if (this.count < MAX) mask |= POLLOUT | POLLWRNORM;
    if (this.count === 0xffff_ffff_ffff_ffffn) mask |= POLLERR;
    return mask;
  }

  override get readinessVersion(): number {
    return this.version;
  }

  override available(): number {
    return -1;
  }

  /** The counter, for /proc/self/fdinfo and tests. */
  get value(): bigint {
    return this.count;
  }
}
