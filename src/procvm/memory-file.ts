/**
 * A file whose bytes were made when it was opened (as qemu-user does): the
 * synthetic /proc files (proc-fs.ts). It has a position, pread and lseek like a
 * regular file; stat says what procfs says (a regular file of size 0).
 */
import { ERRNO } from "./abi.ts";
import { OpenFile, S_IFREG, type FileStat } from "./files.ts";

let nextIno = 0x7000_0000n;

export class MemoryFile extends OpenFile {
  private position = 0;
  private readonly ino = nextIno++;
  private readonly createdNs = BigInt(Date.now()) * 1_000_000n;

  constructor(
    private readonly content: Uint8Array,
    flags: number,
    path: string,
  ) {
    super(flags, path);
  }

  read(buf: Uint8Array): number {
    const n = this.pread(buf, this.position);
    if (n > 0) this.position += n;
    return n;
  }

  override pread(buf: Uint8Array, pos: number): number {
    if (pos >= this.content.length) return 0;
    const n = Math.min(buf.length, this.content.length - pos);
    buf.set(this.content.subarray(pos, pos + n));
    return n;
  }

  /** Opened for writing (root may: it bypasses the 0444 mode), it still takes no writes, as procfs. */
  write(_data: Uint8Array): number {
    return this.canWrite() ? -ERRNO.EINVAL : -ERRNO.EBADF;
  }

  override seek(offset: bigint, whence: number): number {
    const base = whence === 0 ? 0 : whence === 1 ? this.position : whence === 2 ? this.content.length : NaN;
    if (Number.isNaN(base)) return -ERRNO.EINVAL;
    const target = base + Number(offset);
    if (target < 0 || !Number.isSafeInteger(target)) return -ERRNO.EINVAL;
    this.position = target;
    return target;
  }

  stat(): FileStat {
    const t = this.createdNs;
    return {
      dev: 0x16n, ino: this.ino, mode: S_IFREG | 0o444, nlink: 1, uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0, rdev: 0n, size: 0n, blksize: 1024, blocks: 0n,
      atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: 0n,
    };
  }

  override get pollable(): boolean {
    return false;
  }
}
