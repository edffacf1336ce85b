/**
 * Open file descriptions of the process VM: host files (a host fd behind a
 * guest fd), in-memory pipes between guest processes, and the per-process
 * fd table that points at them.
 *
 * Operations return a byte count / value, a negated Linux errno, or
 * WOULD_BLOCK when the caller must wait and try again (the syscall layer
 * then parks the thread; see kernel.ts). Host errors are translated by name.
 */
import * as fs from "node:fs";
import * as tty from "node:tty";
import { ERRNO } from "./abi.ts";
import { hostNofileLimit } from "./host-limits.ts";
import { takeSignalCharacters } from "./terminal.ts";

/** Not an errno: "nothing yet, block and retry". */
export const WOULD_BLOCK = -0x10000;

// asm-generic/fcntl.h (identical on riscv64 and x86-64)
export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;

export const S_IFMT = 0o170000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFDIR = 0o040000;
export const S_IFBLK = 0o060000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

// poll(2) / epoll(7) event bits (identical on riscv64 and x86-64)
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLWRNORM = 0x100;
export const POLLRDHUP = 0x2000;

export const PIPE_BUF = 4096;
export const PIPE_CAPACITY = 65536;

/** The Linux errno for a host error thrown by node:fs, negated. */
export function hostErrno(e: unknown): number {
  const code = (e as { code?: string }).code;
  if (code !== undefined && code in ERRNO) return -ERRNO[code as keyof typeof ERRNO];
  if (code === "EWOULDBLOCK") return -ERRNO.EAGAIN;
  return -ERRNO.EIO;
}

/** What fstat/statx report, in Linux terms. */
export interface FileStat {
  dev: bigint;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: bigint;
  blksize: number;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;
}

export function statFromHost(s: fs.BigIntStats): FileStat {
  return {
    dev: s.dev, ino: s.ino, mode: Number(s.mode), nlink: Number(s.nlink), uid: Number(s.uid), gid: Number(s.gid),
    rdev: s.rdev, size: s.size, blksize: Number(s.blksize), blocks: s.blocks,
    atimeNs: s.atimeNs, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, birthtimeNs: s.birthtimeNs,
  };
}

let syntheticIno = 1n;

/** Sleeps the host thread (used while a host fd says EAGAIN under a blocking guest fd). */
export function hostSleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export abstract class OpenFile {
  /** Guest fds (across processes) that refer to this description. */
  refs = 0;
  constructor(
    /** Access mode and status flags (O_APPEND, O_NONBLOCK, ...). */
    public flags: number,
    /** Host path, for fchdir, *at() on a directory fd and /proc/self/fd. */
    readonly path: string,
  ) {}

  abstract read(buf: Uint8Array): number;
  abstract write(data: Uint8Array): number;
  abstract stat(): FileStat | number;
  pread(_buf: Uint8Array, _pos: number): number {
    return -ERRNO.ESPIPE;
  }
  pwrite(_data: Uint8Array, _pos: number): number {
    return -ERRNO.ESPIPE;
  }
  seek(_offset: bigint, _whence: number): number {
    return -ERRNO.ESPIPE;
  }
  /**
   * What poll/epoll see now: POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP
   * bits. The default builds it from the three questions below.
   */
  pollMask(): number {
    return (
      (this.pollReadable() ? POLLIN | POLLRDNORM : 0) |
      (this.pollWritable() ? POLLOUT | POLLWRNORM : 0) |
      (this.pollHangup() ? POLLHUP : 0)
    );
  }
  /**
   * A counter that moves whenever this file's readiness may have changed
   * (data arrived or was taken, a peer went away). Edge-triggered epoll
   * reports a ready file again only after it moves.
   */
  get readinessVersion(): number {
    return 0;
  }
  /** Whether epoll may watch it (regular files and directories: EPERM, as Linux). */
  get pollable(): boolean {
    return true;
  }
  /**
   * Host time (performance.now() ms) at which this file may become ready
   * by itself (an armed timerfd); Infinity when only guest or host I/O can.
   */
  nextTimedEvent(): number {
    return Infinity;
  }
  /** Readiness for poll: data (or EOF) to read / room to write / hung up. */
  pollReadable(): boolean {
    return true;
  }
  pollWritable(): boolean {
    return true;
  }
  pollHangup(): boolean {
    return false;
  }
  /** Whether a write that fails with EPIPE also raises SIGPIPE (pipes, stream sockets; not datagram sockets). */
  get epipeRaisesSigpipe(): boolean {
    return true;
  }
  /** Bytes available to read (FIONREAD), or -1 when unknown. */
  available(): number {
    return -1;
  }
  get isTty(): boolean {
    return false;
  }
  get hostFd(): number {
    return -1;
  }
  /** Called when the last guest fd goes away. */
  release(): void {}
  canRead(): boolean {
    return (this.flags & O_ACCMODE) !== O_WRONLY;
  }
  canWrite(): boolean {
    return (this.flags & O_ACCMODE) !== O_RDONLY;
  }
}

/**
 * A host file descriptor. Files the guest opened are read and written at a
 * position we track (node has no lseek); inherited stdio uses the host's own
 * offset so it stays shared with whatever else writes there (`2>&1`).
 */
export class HostFile extends OpenFile {
  private fd: number;
  position = 0;
  private trackPosition: boolean;
  private readonly tty: boolean;
  private readonly regular: boolean;
  /** Terminals: our own non-blocking description of it (-1 until first read) and bytes read ahead. */
  private ttyReader = -1;
  private lookahead: Uint8Array | null = null;
  /** The terminal said end of file (Ctrl-D) during a readiness check: the next read returns 0. */
  private eofAhead = false;
  /** Moves whenever terminal input arrives (edge-triggered epoll). */
  private inputVersion = 0;
  dirEntries: Array<{ name: string; ino: bigint; type: number }> | null = null;
  dirIndex = 0;

  constructor(fd: number, flags: number, path: string, readonly owned: boolean) {
    super(flags, path);
    this.fd = fd;
    this.tty = tty.isatty(fd);
    let mode = 0;
    try {
      mode = Number(fs.fstatSync(fd).mode);
    } catch {
      mode = 0;
    }
    this.regular = (mode & S_IFMT) === S_IFREG || (mode & S_IFMT) === S_IFBLK || (mode & S_IFMT) === S_IFDIR;
    this.trackPosition = owned && this.regular;
  }

  override get isTty(): boolean {
    return this.tty;
  }

  override get pollable(): boolean {
    return !this.regular;
  }

  override get readinessVersion(): number {
    return this.inputVersion;
  }

  override get hostFd(): number {
    return this.fd;
  }

  /** Regular file, directory or block device: has a position. */
  get seekable(): boolean {
    return this.regular;
  }

  get isDirectory(): boolean {
    const s = this.stat();
    return typeof s !== "number" && (s.mode & S_IFMT) === S_IFDIR;
  }

  read(buf: Uint8Array): number {
    if (!this.canRead()) return -ERRNO.EBADF;
    if (this.trackPosition) {
      const n = this.pread(buf, this.position);
      if (n > 0) this.position += n;
      return n;
    }
    if (this.tty) return this.readTerminal(buf);
    for (;;) {
      try {
        return fs.readSync(this.fd, buf, 0, buf.length, null);
      } catch (e) {
        const err = hostErrno(e);
        if (err === -ERRNO.EAGAIN && (this.flags & O_NONBLOCK) === 0) {
          hostSleep(2);
          continue;
        }
        if ((e as { code?: string }).code === "EOF") return 0;
        return err;
      }
    }
  }

  /**
   * A terminal is read through a private non-blocking description of it, so
   * a guest waiting for input parks its thread (WOULD_BLOCK) instead of
   * blocking the host thread: the host's event loop keeps turning and Ctrl-C
   * reaches the guest. Bytes taken by a readiness check come first.
   */
  private readTerminal(buf: Uint8Array): number {
    if (buf.length === 0) return 0;
    const r = this.pollTerminal();
    if (r !== 0) return r === -ERRNO.EAGAIN && (this.flags & O_NONBLOCK) === 0 ? WOULD_BLOCK : r;
    if (this.lookahead === null) {
      this.eofAhead = false;
      return 0;
    }
    const ahead: Uint8Array = this.lookahead;
    const n = Math.min(buf.length, ahead.length);
    buf.set(ahead.subarray(0, n));
    this.lookahead = n < ahead.length ? ahead.subarray(n) : null;
    return n;
  }

  /** Fills `lookahead` from the terminal: 0 (data, or an end of file: `eofAhead`) or a negated errno. */
  private pollTerminal(): number {
    if (this.lookahead !== null || this.eofAhead) return 0;
    if (this.ttyReader < 0) {
      try {
        this.ttyReader = fs.openSync(`/proc/self/fd/${this.fd}`, O_RDONLY | O_NONBLOCK | O_NOCTTY);
      } catch {
        this.ttyReader = this.fd; // cannot reopen it: read it as it is (may block)
      }
    }
    const chunk = new Uint8Array(4096);
    try {
      const n = fs.readSync(this.ttyReader, chunk, 0, chunk.length, null);
      this.inputVersion++;
      if (n === 0) {
        this.eofAhead = true;
        return 0;
      }
      const input = takeSignalCharacters(chunk.subarray(0, n));
      if (input.length === 0) return -ERRNO.EAGAIN;
      this.lookahead = input;
      return 0;
    } catch (e) {
      if ((e as { code?: string }).code === "EOF") {
        this.inputVersion++;
        this.eofAhead = true;
        return 0;
      }
      return hostErrno(e);
    }
  }

  override pollReadable(): boolean {
    if (!this.tty || !this.canRead()) return true;
    return this.pollTerminal() !== -ERRNO.EAGAIN;
  }

  override available(): number {
    if (!this.tty || !this.canRead()) return -1;
    this.pollTerminal();
    return this.lookahead?.length ?? 0;
  }

  write(data: Uint8Array): number {
    if (!this.canWrite()) return -ERRNO.EBADF;
    if (this.trackPosition) {
      if (this.flags & O_APPEND) {
        const s = this.stat();
        if (typeof s !== "number") this.position = Number(s.size);
      }
      const n = this.pwrite(data, this.position);
      if (n > 0) this.position += n;
      return n;
    }
    let done = 0;
    for (;;) {
      try {
        done += fs.writeSync(this.fd, data, done, data.length - done, null);
        if (done === data.length) return done;
      } catch (e) {
        const err = hostErrno(e);
        if (err === -ERRNO.EAGAIN && (this.flags & O_NONBLOCK) === 0) {
          hostSleep(1);
          continue;
        }
        return done > 0 ? done : err;
      }
    }
  }

  override pread(buf: Uint8Array, pos: number): number {
    if (!this.regular) return -ERRNO.ESPIPE;
    if (!this.canRead()) return -ERRNO.EBADF;
    try {
      return fs.readSync(this.fd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErrno(e);
    }
  }

  override pwrite(data: Uint8Array, pos: number): number {
    if (!this.regular) return -ERRNO.ESPIPE;
    if (!this.canWrite()) return -ERRNO.EBADF;
    try {
      let done = 0;
      while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, pos + done);
      return done;
    } catch (e) {
      return hostErrno(e);
    }
  }

  override seek(offset: bigint, whence: number): number {
    if (!this.regular) return -ERRNO.ESPIPE;
    if (!this.trackPosition) {
      const current = inheritedPosition(this.fd);
      if (whence === 1 && offset === 0n) return current;
      // Leave the shared host offset alone: continue on a private description.
      try {
        const fd = fs.openSync(`/proc/self/fd/${this.fd}`, this.flags & (O_ACCMODE | O_APPEND));
        this.fd = fd;
        this.position = current;
        this.trackPosition = true;
      } catch {
        return -ERRNO.ESPIPE;
      }
    }
    let base: number;
    switch (whence) {
      case 0: base = 0; break; // SEEK_SET
      case 1: base = this.position; break; // SEEK_CUR
      case 2: // SEEK_END
      case 3: // SEEK_DATA
      case 4: { // SEEK_HOLE
        const s = this.stat();
        if (typeof s === "number") return s;
        const size = Number(s.size);
        if (whence === 2) base = size;
        else {
          const at = Number(offset);
          if (at < 0 || at >= size) return -ERRNO.ENXIO;
          this.position = whence === 3 ? at : size;
          return this.position;
        }
        break;
      }
      default: return -ERRNO.EINVAL;
    }
    const target = base + Number(offset);
    if (!(target >= 0) || !Number.isSafeInteger(target)) return -ERRNO.EINVAL;
    this.position = target;
    return target;
  }

  stat(): FileStat | number {
    try {
      return statFromHost(fs.fstatSync(this.fd, { bigint: true }));
    } catch (e) {
      return hostErrno(e);
    }
  }

  override release(): void {
    if (this.ttyReader >= 0 && this.ttyReader !== this.fd) {
      try {
        fs.closeSync(this.ttyReader);
      } catch {
        // already gone
      }
      this.ttyReader = -1;
    }
    if (!this.owned) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already gone: nothing to report to anyone
    }
  }
}

/** The host offset of an inherited fd (Linux /proc/self/fdinfo), 0 when unknown. */
function inheritedPosition(fd: number): number {
  try {
    const m = /^pos:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "latin1"));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** An in-memory pipe between guest processes: a 64 KiB ring. */
export class Pipe {
  readonly buf = new Uint8Array(PIPE_CAPACITY);
  head = 0;
  length = 0;
  readers = 0;
  writers = 0;
  readonly ino = syntheticIno++;
  readonly ctimeNs = process.hrtime.bigint();
  /** Moves on every read, write and close of either end (edge-triggered epoll). */
  version = 0;
  /** Opens of each end so far (a FIFO's open waits for the other count to move: r_counter / w_counter). */
  readerOpens = 0;
  writerOpens = 0;

  get room(): number {
    return PIPE_CAPACITY - this.length;
  }

  /** Copies the first `n` buffered bytes (at most what is there) without taking them: splice and tee. */
  peek(n: number): Uint8Array {
    n = Math.min(n, this.length);
    const out = new Uint8Array(n);
    const first = Math.min(n, PIPE_CAPACITY - this.head);
    out.set(this.buf.subarray(this.head, this.head + first), 0);
    if (n > first) out.set(this.buf.subarray(0, n - first), first);
    return out;
  }

  /** Drops the first `n` buffered bytes (after a peek). */
  consume(n: number): void {
    this.head = (this.head + n) % PIPE_CAPACITY;
    this.length -= n;
    this.version++;
    if (this.length === 0) this.head = 0;
  }

  /** Appends `data`, which must fit (data.length <= room). */
  push(data: Uint8Array): void {
    const tail = (this.head + this.length) % PIPE_CAPACITY;
    const first = Math.min(data.length, PIPE_CAPACITY - tail);
    this.buf.set(data.subarray(0, first), tail);
    if (data.length > first) this.buf.set(data.subarray(first), 0);
    this.length += data.length;
    this.version++;
  }
}

export class PipeEnd extends OpenFile {
  constructor(
    readonly pipe: Pipe,
    readonly reader: boolean,
    flags: number,
  ) {
    super((flags & ~O_ACCMODE) | (reader ? O_RDONLY : O_WRONLY), `pipe:[${pipe.ino}]`);
    if (reader) {
      pipe.readers++;
      pipe.readerOpens++;
    } else {
      pipe.writers++;
      pipe.writerOpens++;
    }
  }

  read(buf: Uint8Array): number {
    if (!this.reader) return -ERRNO.EBADF;
    const p = this.pipe;
    if (buf.length === 0) return 0;
    if (p.length === 0) {
      if (p.writers === 0) return 0;
      return this.flags & O_NONBLOCK ? -ERRNO.EAGAIN : WOULD_BLOCK;
    }
    const data = p.peek(buf.length);
    buf.set(data);
    p.consume(data.length);
    return data.length;
  }

  /**
   * Writes what fits. A write of at most PIPE_BUF bytes is atomic (all or
   * wait); a larger one may return short, which every libc loop handles.
   * -EPIPE (and SIGPIPE, by the caller) when nobody can read.
   */
  write(data: Uint8Array): number {
    if (this.reader) return -ERRNO.EBADF;
    const p = this.pipe;
    if (p.readers === 0) return -ERRNO.EPIPE;
    if (data.length === 0) return 0;
    const room = PIPE_CAPACITY - p.length;
    if (room === 0 || (data.length <= PIPE_BUF && room < data.length)) {
      return this.flags & O_NONBLOCK ? -ERRNO.EAGAIN : WOULD_BLOCK;
    }
    const n = Math.min(room, data.length);
    p.push(data.subarray(0, n));
    return n;
  }

  stat(): FileStat {
    const t = this.pipe.ctimeNs;
    return {
      dev: 12n, ino: this.pipe.ino, mode: S_IFIFO | 0o600, nlink: 1, uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0, rdev: 0n, size: 0n, blksize: 4096, blocks: 0n,
      atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: 0n,
    };
  }

  /** Data to read; end of file shows as POLLHUP alone, as Linux's pipe_poll. */
  override pollReadable(): boolean {
    return this.reader && this.pipe.length > 0;
  }

  override pollWritable(): boolean {
    return !this.reader && (this.pipe.readers === 0 || PIPE_CAPACITY - this.pipe.length >= PIPE_BUF);
  }

  override pollHangup(): boolean {
    return this.reader ? this.pipe.writers === 0 : false;
  }

  /** A write end with no reader left also shows POLLERR, as Linux's pipe_poll. */
  override pollMask(): number {
    const broken = !this.reader && this.pipe.readers === 0;
    return super.pollMask() | (broken ? POLLERR : 0);
  }

  override get readinessVersion(): number {
    return this.pipe.version;
  }

  override available(): number {
    return this.reader ? this.pipe.length : -1;
  }

  override release(): void {
    if (this.reader) this.pipe.readers--;
    else this.pipe.writers--;
    this.pipe.version++;
  }
}

/** A process's file descriptor table (shared by its threads). */
export class FdTable {
  private readonly files: Array<OpenFile | null> = [];
  private readonly cloexec: boolean[] = [];
  /** RLIMIT_NOFILE's soft limit: fds from here on are refused (EMFILE). */
  limit = hostNofileLimit().soft;

  get(fd: number): OpenFile | null {
    return fd >= 0 && fd < this.files.length ? this.files[fd] : null;
  }

  isCloexec(fd: number): boolean {
    return this.cloexec[fd] === true;
  }

  setCloexec(fd: number, on: boolean): void {
    this.cloexec[fd] = on;
  }

  /** Installs `file` at the lowest free fd >= `min`; -EMFILE when full. */
  install(file: OpenFile, cloexec: boolean, min = 0): number {
    let fd = min;
    while (fd < this.files.length && this.files[fd] !== null) fd++;
    if (fd >= this.limit) return -ERRNO.EMFILE;
    this.placeAt(fd, file, cloexec);
    return fd;
  }

  /** Puts `file` at exactly `fd`, closing what was there (dup2/dup3). */
  placeAt(fd: number, file: OpenFile, cloexec: boolean): void {
    while (this.files.length <= fd) this.files.push(null);
    file.refs++;
    const old = this.files[fd];
    this.files[fd] = file;
    this.cloexec[fd] = cloexec;
    if (old !== null) dropRef(old);
  }

  close(fd: number): number {
    const f = this.get(fd);
    if (f === null) return -ERRNO.EBADF;
    this.files[fd] = null;
    this.cloexec[fd] = false;
    dropRef(f);
    return 0;
  }

  /** A copy for fork: same open file descriptions. */
  clone(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    this.files.forEach((f, fd) => {
      if (f !== null) t.placeAt(fd, f, this.cloexec[fd] === true);
    });
    return t;
  }

  closeOnExec(): void {
    this.files.forEach((f, fd) => {
      if (f !== null && this.cloexec[fd]) this.close(fd);
    });
  }

  closeAll(): void {
    this.files.forEach((f, fd) => {
      if (f !== null) this.close(fd);
    });
  }

  /** Open fds in ascending order. */
  fds(): number[] {
    const out: number[] = [];
    this.files.forEach((f, fd) => {
      if (f !== null) out.push(fd);
    });
    return out;
  }
}

function dropRef(f: OpenFile): void {
  if (--f.refs === 0) f.release();
}
