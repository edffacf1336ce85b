/**
 * Files with no path of their own (eventfd, timerfd, signalfd, epoll): what
 * Linux calls anonymous inodes. They share one stat and their
 * /proc/self/fd name, `anon_inode:[kind]`.
 */
import { ERRNO } from "./abi.ts";
import { O_NONBLOCK, O_RDWR, OpenFile, WOULD_BLOCK, type FileStat } from "./files.ts";

const ANON_INODE_INO = 1n;

export abstract class AnonFile extends OpenFile {
  /** `nonblock`: the O_NONBLOCK bit of the creating call's flags. */
  constructor(nonblock: number, kind: string) {
    super(O_RDWR | (nonblock & O_NONBLOCK), `anon_inode:${kind}`);
  }

  stat(): FileStat {
    // An anonymous inode has permission bits only, no file type (as Linux's anon_inode_fs).
    return {
      dev: 14n, ino: ANON_INODE_INO, mode: 0o600, nlink: 1, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
      rdev: 0n, size: 0n, blksize: 4096, blocks: 0n, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, birthtimeNs: 0n,
    };
  }

  write(_data: Uint8Array): number {
    return -ERRNO.EINVAL;
  }

  /** What a read or write returns when it must wait: -EAGAIN under O_NONBLOCK, else WOULD_BLOCK. */
  protected mustWait(): number {
    return (this.flags & O_NONBLOCK) !== 0 ? -ERRNO.EAGAIN : WOULD_BLOCK;
  }
}
