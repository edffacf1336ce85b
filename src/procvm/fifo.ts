/**
 * Named pipes (mkfifo, mknodat S_IFIFO). The FIFO's inode is a real host
 * FIFO, so the guest sees it in the file system (stat, ls, unlink), but its
 * data flows through an in-VM Pipe shared by every guest open of that inode
 * (opening a host FIFO would block node's one thread while the peer is a
 * guest process on that same thread). Opens follow Linux's fifo_open:
 *  - read-only waits until a writer has opened (O_NONBLOCK: succeeds at once);
 *  - write-only waits until a reader has opened (O_NONBLOCK: ENXIO without one);
 *  - read-write never waits.
 * The buffer lives while anyone holds the FIFO open, as the kernel's pipe
 * inode does. Host processes outside the VM are not connected to it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { ERRNO } from "./abi.ts";
import { O_ACCMODE, O_APPEND, O_NONBLOCK, O_RDONLY, O_WRONLY, OpenFile, Pipe, PipeEnd, POLLERR, POLLHUP, hostErrno, statFromHost, type FileStat } from "./files.ts";

/** One open of a FIFO: a reading end, a writing end, or both (O_RDWR). */
export class FifoEnd extends OpenFile {
  private readonly reading: PipeEnd | null;
  private readonly writing: PipeEnd | null;
  /** Writer opens seen when this reader opened: POLLHUP waits for a writer to come (and go), as pipe_poll's f_version. */
  private readonly writerOpensAtOpen: number;

  constructor(
    readonly pipe: Pipe,
    flags: number,
    path: string,
    private readonly onLastClose: () => void,
  ) {
    super(flags, path);
    const acc = flags & O_ACCMODE;
    this.reading = acc !== O_WRONLY ? new PipeEnd(pipe, true, flags) : null;
    this.writing = acc !== O_RDONLY ? new PipeEnd(pipe, false, flags) : null;
    this.writerOpensAtOpen = pipe.writerOpens;
  }

  read(buf: Uint8Array): number {
    if (this.reading === null) return -ERRNO.EBADF;
    this.reading.flags = this.flags;
    return this.reading.read(buf);
  }

  write(data: Uint8Array): number {
    if (this.writing === null) return -ERRNO.EBADF;
    this.writing.flags = this.flags;
    return this.writing.write(data);
  }

  stat(): FileStat | number {
    try {
      return statFromHost(fs.statSync(this.path, { bigint: true }));
    } catch (e) {
      return hostErrno(e);
    }
  }

  override pollMask(): number {
    let mask = 0;
    if (this.reading !== null) {
      mask |= this.reading.pollMask() & ~POLLHUP;
      if (this.pipe.writers === 0 && this.pipe.writerOpens !== this.writerOpensAtOpen) mask |= POLLHUP;
    }
    if (this.writing !== null) mask |= this.writing.pollMask() & ~POLLHUP;
    return this.reading !== null && this.writing !== null ? mask & ~POLLERR : mask;
  }

  override get readinessVersion(): number {
    return this.pipe.version;
  }

  override available(): number {
    return this.reading !== null ? this.pipe.length : -1;
  }

  override release(): void {
    this.reading?.release();
    this.writing?.release();
    if (this.pipe.readers === 0 && this.pipe.writers === 0) this.onLastClose();
  }
}

/** The VM's open FIFOs, by host inode. */
export class Fifos {
  private readonly pipes = new Map<string, Pipe>();

  /**
   * Opens the host FIFO `path` (stat `st`): the open end, -ENXIO, or a
   * `wait` that the caller retries until it yields the end (the peer opened).
   */
  open(path: string, st: fs.BigIntStats, flags: number): FifoEnd | number | { wait: () => FifoEnd | null; cancel: () => void } {
    const key = `${st.dev}:${st.ino}`;
    const acc = flags & O_ACCMODE;
    const nonblock = (flags & O_NONBLOCK) !== 0;
    let pipe = this.pipes.get(key);
    if (acc === O_WRONLY && nonblock && (pipe === undefined || pipe.readers === 0)) return -ERRNO.ENXIO;
    if (pipe === undefined) {
      pipe = new Pipe();
      this.pipes.set(key, pipe);
    }
    const p = pipe;
    const end = new FifoEnd(p, flags & (O_ACCMODE | O_NONBLOCK | O_APPEND), path, () => {
      if (this.pipes.get(key) === p) this.pipes.delete(key);
    });
    if (nonblock || acc !== O_RDONLY && acc !== O_WRONLY) return end;
    // Wait for a partner to open (its counter moves), as wait_for_partner.
    const counterOf = () => (acc === O_RDONLY ? p.writerOpens : p.readerOpens);
    const partnerThere = acc === O_RDONLY ? p.writers > 0 : p.readers > 0;
    if (partnerThere) return end;
    const seen = counterOf();
    return {
      wait: () => (counterOf() !== seen ? end : null),
      cancel: () => end.release(),
    };
  }
}

const HOST_MKFIFO = ["/usr/bin/mkfifo", "/bin/mkfifo"];

/** Host strerror texts from mkfifo(1), back to errnos. */
const MKFIFO_ERRORS: Array<[RegExp, number]> = [
  [/File exists/, ERRNO.EEXIST], [/No such file/, ERRNO.ENOENT], [/Permission denied/, ERRNO.EACCES],
  [/Not a directory/, ERRNO.ENOTDIR], [/Read-only/, ERRNO.EROFS], [/No space/, ERRNO.ENOSPC],
  [/name too long/, ERRNO.ENAMETOOLONG], [/many levels of symbolic links/, ERRNO.ELOOP],
];

/** Makes a host FIFO with exactly `mode` (node has no mkfifo: coreutils' mkfifo does it): 0 or a negated errno. */
export function makeHostFifo(path: string, mode: number): number {
  // The host's own mkfifo, by absolute path: typevisor's PATH may well list the guest's (riscv64) programs first.
  const tool = HOST_MKFIFO.find((p) => fs.existsSync(p));
  if (tool === undefined) return -ERRNO.EPERM;
  const r = spawnSync(tool, ["-m", (mode & 0o7777).toString(8), "--", path], { encoding: "utf8", env: { LC_ALL: "C" } });
  if (r.error !== undefined) return -ERRNO.EIO;
  if (r.status === 0) return 0;
  const known = MKFIFO_ERRORS.find(([text]) => text.test(r.stderr));
  return -(known?.[1] ?? ERRNO.EIO);
}
