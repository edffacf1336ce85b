/**
 * File system and file descriptor system calls: guest fds map to host fds
 * (node:fs) or to in-memory pipes, through the process's fd table.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { performance } from "node:perf_hooks";
import { ERRNO } from "../abi.ts";
import type { ProcessVm, SyscallArgs } from "../kernel.ts";
import {
  FdTable, HostFile, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_TRUNC,
  O_PATH, O_WRONLY, OpenFile, S_IFIFO, POLLERR, POLLHUP, POLLNVAL, Pipe, PipeEnd, S_IFDIR, S_IFMT, WOULD_BLOCK, hostErrno, statFromHost, type FileStat,
} from "../files.ts";
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, closeDirectoryHandle, directoryRemoved,
  openDirectoryHandle,
} from "../paths.ts";
import type { Blocked, Thread } from "../process.ts";
import { SIGPIPE } from "../signals.ts";
import { FifoEnd, makeHostFifo } from "../fifo.ts";
import { MemoryFile } from "../memory-file.ts";
import { procFile } from "../proc-fs.ts";
import { guestTermios, setGuestTermios } from "../terminal.ts";
import { socketIoctl } from "./net.ts";
import { swapInSigmask } from "./signal.ts";
import type { SyscallHandler } from "./table.ts";
import { EBADF, EFAULT, EINVAL, StructWriter, host, isErr, pathArg, put, readTimeout } from "./util.ts";

/** Largest single host read/write chunk. */
const IO_CHUNK = 1 << 20;
/** Linux MAX_RW_COUNT. */
const MAX_RW = 0x7ffff000;
/** Most bytes one write takes (a short count; every libc loops). Bounds host memory per call. */
const MAX_WRITE = 16 << 20;

const F_DUPFD = 0;
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const F_GETLK = 5;
const F_SETLK = 6;
const F_SETLKW = 7;
const F_SETOWN = 8;
const F_GETOWN = 9;
const F_DUPFD_CLOEXEC = 1030;
const F_GETPIPE_SZ = 1032;
const FD_CLOEXEC = 1;

const TCGETS = 0x5401;
const TCSETS = 0x5402;
const TCSETSW = 0x5403;
const TCSETSF = 0x5404;
const TIOCSCTTY = 0x540e;
const TIOCGPGRP = 0x540f;
const TIOCSPGRP = 0x5410;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const FIONREAD = 0x541b;
const TIOCNOTTY = 0x5422;
const FIONBIO = 0x5421;
const FIONCLEX = 0x5450;
const FIOCLEX = 0x5451;

const PATH_MAX = 4096;
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;

function fileOf(t: Thread, fd: number): OpenFile | null {
  return t.process.fds.get(fd);
}

function count(a: SyscallArgs, n: number): number {
  return Math.min(a.u[n], MAX_RW);
}

/** Earliest time one of `files` may become ready by itself (an armed timerfd), else Infinity. */
function nextTimedEvent(files: Array<OpenFile | null>): number {
  let at = Infinity;
  for (const f of files) if (f !== null) at = Math.min(at, f.nextTimedEvent());
  return at;
}

/** Runs `attempt` (I/O on `files`) now; if it would block, parks the thread to retry it. */
export function blocking(vm: ProcessVm, t: Thread, attempt: () => number, ...files: OpenFile[]): number {
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  const wait: Blocked = {
    retry: () => {
      const r = attempt();
      wait.deadline = nextTimedEvent(files);
      return r;
    },
    deadline: nextTimedEvent(files),
    restartable: true,
    pollsHost: files.some((f) => f.isTty),
  };
  return vm.block(t, wait);
}

/** Reads up to `n` bytes from `f` into guest `va`. */
function readTo(t: Thread, f: OpenFile, va: number, n: number, pos: number | null): number {
  if (n > 0 && t.process.space.ensurePage(va, "write") < 0) return EFAULT;
  let done = 0;
  while (done < n) {
    const chunk = new Uint8Array(Math.min(IO_CHUNK, n - done));
    const r = pos === null ? f.read(chunk) : f.pread(chunk, pos + done);
    if (r === WOULD_BLOCK || r < 0) return done > 0 ? done : r;
    if (r > 0 && !t.process.space.write(va + done, chunk.subarray(0, r))) return done > 0 ? done : EFAULT;
    done += r;
    // Only regular files fill a large buffer in several host reads.
    if (r < chunk.length || !(f instanceof HostFile) || !f.seekable) break;
  }
  return done;
}

export function writeFrom(vm: ProcessVm, t: Thread, f: OpenFile, data: Uint8Array, pos: number | null): number {
  const r = pos === null ? f.write(data) : f.pwrite(data, pos);
  if (r === -ERRNO.EPIPE && f.epipeRaisesSigpipe) {
    vm.sendToThread(t, { signo: SIGPIPE, code: 0, pid: t.process.pid, uid: vm.creds.uid });
  }
  return r;
}

/** Gathers an iovec array: [base, len] pairs, or -errno. */
function iovecs(t: Thread, va: number, n: number): Array<[number, number]> | number {
  if (n < 0 || n > 1024) return EINVAL;
  const raw = t.process.space.read(va, n * 16);
  if (raw === null) return EFAULT;
  const dv = new DataView(raw.buffer);
  const out: Array<[number, number]> = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const base = Number(dv.getBigUint64(i * 16, true));
    const len = Number(dv.getBigUint64(i * 16 + 8, true));
    if (len > MAX_RW) return EINVAL;
    total += len;
    out.push([base, len]);
  }
  return total > MAX_RW ? EINVAL : out;
}

export function encodeStat(s: FileStat): Uint8Array {
  const sec = (ns: bigint) => ns / 1_000_000_000n;
  const nsec = (ns: bigint) => ns % 1_000_000_000n;
  return new StructWriter(128)
    .u64(0, s.dev).u64(8, s.ino).u32(16, s.mode).u32(20, s.nlink).u32(24, s.uid).u32(28, s.gid)
    .u64(32, s.rdev).u64(48, s.size).i32(56, s.blksize).u64(64, s.blocks)
    .u64(72, sec(s.atimeNs)).u64(80, nsec(s.atimeNs))
    .u64(88, sec(s.mtimeNs)).u64(96, nsec(s.mtimeNs))
    .u64(104, sec(s.ctimeNs)).u64(112, nsec(s.ctimeNs)).bytes;
}

function devMajor(dev: bigint): number {
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
}

function devMinor(dev: bigint): number {
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)) >>> 0;
}

function encodeStatx(s: FileStat): Uint8Array {
  const w = new StructWriter(256);
  const ts = (off: number, ns: bigint) => w.u64(off, ns / 1_000_000_000n).u32(off + 8, Number(ns % 1_000_000_000n));
  w.u32(0, 0x7ff | (s.birthtimeNs > 0n ? 0x800 : 0)).u32(4, s.blksize).u32(16, s.nlink).u32(20, s.uid)
    .u32(24, s.gid).u16(28, s.mode).u64(32, s.ino).u64(40, s.size).u64(48, s.blocks);
  ts(64, s.atimeNs);
  ts(80, s.birthtimeNs);
  ts(96, s.ctimeNs);
  ts(112, s.mtimeNs);
  w.u32(128, devMajor(s.rdev)).u32(132, devMinor(s.rdev)).u32(136, devMajor(s.dev)).u32(140, devMinor(s.dev));
  return w.bytes;
}

/** stat of a path or (AT_EMPTY_PATH) of dirfd itself. */
function statAt(vm: ProcessVm, t: Thread, dirfd: number, pathVa: number, flags: number): FileStat | number {
  const path = pathArg(t, pathVa);
  if (typeof path === "number") return path;
  if (path === "" && (flags & AT_EMPTY_PATH) !== 0 && dirfd !== AT_FDCWD) {
    const f = fileOf(t, dirfd);
    return f === null ? EBADF : f.stat();
  }
  const hostPath = vm.paths.resolveAt(t.process, dirfd, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof hostPath === "number") return hostPath;
  const r = host(() => ((flags & AT_SYMLINK_NOFOLLOW) !== 0 ? fs.lstatSync : fs.statSync)(hostPath, { bigint: true }));
  return typeof r === "number" ? r : statFromHost(r as fs.BigIntStats);
}

function resolved(vm: ProcessVm, t: Thread, dirfd: number, pathVa: number): string | number {
  const path = pathArg(t, pathVa);
  if (typeof path === "number") return path;
  return vm.paths.resolveAt(t.process, dirfd, path);
}

function openAt(vm: ProcessVm, t: Thread, dirfd: number, pathVa: number, flags: number, mode: number): number {
  const p = t.process;
  const path = pathArg(t, pathVa);
  if (typeof path === "number") return path;
  const hostPath = vm.paths.resolveAt(p, dirfd, path);
  if (typeof hostPath === "number") return hostPath;
  const synthetic = hostPath.startsWith("/proc/") ? procFile(vm, t, hostPath) : null;
  if (synthetic !== null) {
    // Mode 0444: only root (which bypasses it) may open one for writing; writes then fail.
    if ((flags & O_ACCMODE) !== O_RDONLY && vm.creds.euid !== 0) return -ERRNO.EACCES;
    const keep = flags & (O_ACCMODE | O_APPEND | O_NONBLOCK);
    return p.fds.install(new MemoryFile(synthetic, keep, hostPath), (flags & O_CLOEXEC) !== 0);
  }
  const st = host(() => fs.statSync(hostPath, { bigint: true, throwIfNoEntry: false }));
  // A FIFO joins the VM's pipe for it; O_PATH, O_DIRECTORY (ENOTDIR) and O_CREAT|O_EXCL (EEXIST) fail or succeed on the host at once.
  const hostDecides = (flags & (O_PATH | O_DIRECTORY)) !== 0 || (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
  if (typeof st === "object" && st !== undefined && st.isFIFO() && !hostDecides) return openFifo(vm, t, hostPath, st, flags);
  const hostFlags = flags & ~O_CLOEXEC;
  const fd = host(() => fs.openSync(hostPath, hostFlags, mode & ~p.umask & 0o7777));
  if (isErr(fd)) return fd;
  const file = new HostFile(fd as number, flags & ~(O_CREAT | O_TRUNC | O_CLOEXEC), hostPath, true);
  file.refs = 0;
  const gfd = p.fds.install(file, (flags & O_CLOEXEC) !== 0);
  if (gfd < 0) file.release();
  return gfd;
}

/** Opens a FIFO (fifo.ts): now, or once the other end has been opened. */
function openFifo(vm: ProcessVm, t: Thread, hostPath: string, st: fs.BigIntStats, flags: number): number {
  const fds = t.process.fds;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const install = (end: OpenFile): number => {
    const fd = fds.install(end, cloexec);
    if (fd < 0 && end.refs === 0) end.release();
    return fd;
  };
  const r = vm.fifos.open(hostPath, st, flags);
  if (typeof r === "number") return r;
  if (r instanceof FifoEnd) return install(r);
  return vm.block(t, {
    retry: () => {
      const end = r.wait();
      return end === null ? WOULD_BLOCK : install(end);
    },
    deadline: Infinity,
    restartable: true,
    cancel: r.cancel,
  });
}

const DT_TYPES: Array<[(d: fs.Dirent) => boolean, number]> = [
  [(d) => d.isFIFO(), 1], [(d) => d.isCharacterDevice(), 2], [(d) => d.isDirectory(), 4],
  [(d) => d.isBlockDevice(), 6], [(d) => d.isFile(), 8], [(d) => d.isSymbolicLink(), 10], [(d) => d.isSocket(), 12],
];

function loadDirectory(vm: ProcessVm, f: HostFile): number {
  const entries: Array<{ name: string; ino: bigint; type: number }> = [];
  const ino = (p: string) => {
    try {
      return fs.lstatSync(p, { bigint: true }).ino;
    } catch {
      return 1n;
    }
  };
  // The host's own order (as getdents gives it): fs.readdirSync would sort the names.
  const list = host(() => {
    const dir = fs.opendirSync(f.path);
    const out: fs.Dirent[] = [];
    try {
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) out.push(d);
    } finally {
      dir.closeSync();
    }
    return out;
  });
  if (isErr(list)) return list;
  entries.push({ name: ".", ino: ino(f.path), type: 4 }, { name: "..", ino: ino(f.path + "/.."), type: 4 });
  for (const d of list as fs.Dirent[]) {
    const type = DT_TYPES.find(([test]) => test(d))?.[1] ?? 0;
    entries.push({ name: d.name, ino: ino(`${f.path}/${d.name}`), type });
  }
  // /proc lists the guest's processes too (their /proc/<pid> files are the VM's: proc-fs.ts), so pidof and ps find them.
  if (f.path === "/proc") {
    const listed = new Set(entries.map((e) => e.name));
    for (const p of vm.processes.values()) {
      if (p.alive && !listed.has(String(p.pid))) entries.push({ name: String(p.pid), ino: BigInt(p.pid), type: 4 });
    }
  }
  f.dirEntries = entries;
  f.dirIndex = 0;
  return 0;
}

function getdents64(vm: ProcessVm, t: Thread, fd: number, va: number, size: number): number {
  const f = fileOf(t, fd);
  if (f === null) return EBADF;
  if (!(f instanceof HostFile) || !f.isDirectory) return -ERRNO.ENOTDIR;
  if (f.dirEntries === null) {
    const r = loadDirectory(vm, f);
    if (r < 0) return r;
  }
  const out = new Uint8Array(Math.min(size, 1 << 20));
  const dv = new DataView(out.buffer);
  const enc = new TextEncoder();
  let at = 0;
  const entries = f.dirEntries!;
  while (f.dirIndex < entries.length) {
    const e = entries[f.dirIndex];
    const name = enc.encode(e.name);
    const reclen = (19 + name.length + 1 + 7) & ~7;
    if (at + reclen > out.length) {
      if (at === 0) return EINVAL;
      break;
    }
    dv.setBigUint64(at, e.ino, true);
    dv.setBigInt64(at + 8, BigInt(f.dirIndex + 1), true);
    dv.setUint16(at + 16, reclen, true);
    out[at + 18] = e.type;
    out.set(name, at + 19);
    at += reclen;
    f.dirIndex++;
  }
  return put(t, va, out.subarray(0, at)) < 0 ? EFAULT : at;
}

function ioctl(vm: ProcessVm, t: Thread, fd: number, req: number, arg: number): number {
  const p = t.process;
  const f = fileOf(t, fd);
  if (f === null) return EBADF;
  const bySocket = socketIoctl(t, f, req, arg);
  if (bySocket !== null) return bySocket;
  switch (req) {
    case FIONBIO: {
      const on = p.space.readU32(arg);
      if (on === null) return EFAULT;
      f.flags = on !== 0 ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    }
    case FIOCLEX:
    case FIONCLEX:
      p.fds.setCloexec(fd, req === FIOCLEX);
      return 0;
    case FIONREAD: {
      let n = f.available();
      if (n < 0) {
        const s = f.stat();
        n = f instanceof HostFile && typeof s !== "number" && (s.mode & S_IFMT) === 0o100000
          ? Math.max(0, Number(s.size) - f.position)
          : 0;
      }
      return p.space.writeU32(arg, n) ? 0 : EFAULT;
    }
  }
  if (!f.isTty) return -ERRNO.ENOTTY;
  switch (req) {
    case TCGETS:
      return put(t, arg, guestTermios(f.hostFd));
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      const b = p.space.read(arg, 36);
      if (b === null) return EFAULT;
      setGuestTermios(f.hostFd, b);
      return 0;
    }
    case TIOCGWINSZ: {
      const out = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : null;
      const rows = out?.rows ?? 24;
      const cols = out?.columns ?? 80;
      return put(t, arg, new StructWriter(8).u16(0, rows).u16(2, cols).bytes);
    }
    case TIOCSWINSZ:
    case TIOCSCTTY:
    case TIOCNOTTY:
      return 0;
    // The terminal's foreground process group gets Ctrl-C (kernel.ts, terminalSignal).
    case TIOCSPGRP: {
      const b = p.space.read(arg, 4);
      if (b === null) return EFAULT;
      const pgid = new DataView(b.buffer).getInt32(0, true);
      if (pgid < 0) return EINVAL;
      for (const q of vm.processes.values()) {
        if (q.alive && q.pgid === pgid) {
          vm.foregroundPgid = pgid;
          return 0;
        }
      }
      return -ERRNO.ESRCH;
    }
    case TIOCGPGRP:
      return p.space.writeU32(arg, vm.foregroundGroup()) ? 0 : EFAULT;
    default:
      return EINVAL;
  }
}

function fcntl(t: Thread, fd: number, cmd: number, arg: number): number {
  const fds = t.process.fds;
  const f = fds.get(fd);
  if (f === null) return EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      if (arg < 0 || arg >= fds.limit) return EINVAL;
      return fds.install(f, cmd === F_DUPFD_CLOEXEC, arg);
    case F_GETFD:
      return fds.isCloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      fds.setCloexec(fd, (arg & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      return f.flags;
    case F_SETFL:
      f.flags = (f.flags & ~(O_APPEND | O_NONBLOCK)) | (arg & (O_APPEND | O_NONBLOCK));
      return 0;
    case F_GETLK: {
      // No other process holds locks on our files: report the region unlocked (l_type = F_UNLCK).
      return put(t, arg, new Uint8Array([2, 0]));
    }
    case F_SETLK:
    case F_SETLKW:
      return 0;
    case F_GETOWN:
    case F_SETOWN:
      return 0;
    case F_GETPIPE_SZ:
      return f instanceof PipeEnd || f instanceof FifoEnd ? 65536 : EINVAL;
    default:
      return EINVAL;
  }
}

/** poll(2)'s revents: the requested events that hold, plus POLLERR and POLLHUP always. */
function pollEvents(f: OpenFile | null, events: number): number {
  if (f === null) return POLLNVAL;
  return f.pollMask() & (events | POLLERR | POLLHUP);
}

function ppoll(vm: ProcessVm, t: Thread, fdsVa: number, nfds: number, tmoVa: number, maskVa: number, maskSize: number): number {
  if (nfds > t.process.fds.limit) return EINVAL;
  const sp = t.process.space;
  const raw = sp.read(fdsVa, nfds * 8);
  if (raw === null) return EFAULT;
  const deadline = readTimeout(t, tmoVa);
  if (deadline < 0) return deadline;
  if (maskVa !== 0) {
    const r = swapInSigmask(t, maskVa, maskSize);
    if (r < 0) return r;
  }
  const dv = new DataView(raw.buffer);
  const files = (): Array<OpenFile | null> => Array.from({ length: nfds }, (_, i) => fileOf(t, dv.getInt32(i * 8, true)));
  const attempt = (): number => {
    let ready = 0;
    for (let i = 0; i < nfds; i++) {
      const fd = dv.getInt32(i * 8, true);
      const rev = fd < 0 ? 0 : pollEvents(fileOf(t, fd), dv.getInt16(i * 8 + 4, true));
      dv.setInt16(i * 8 + 6, rev, true);
      if (rev !== 0) ready++;
    }
    if (ready > 0 || performance.now() >= deadline) return sp.write(fdsVa, raw) ? ready : EFAULT;
    wait.deadline = Math.min(deadline, nextTimedEvent(files()));
    return WOULD_BLOCK;
  };
  const wait: Blocked = { retry: attempt, deadline, restartable: false, pollsHost: files().some((f) => f?.isTty === true) };
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  return vm.block(t, wait);
}

function pselect6(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const nfds = a.i[0];
  if (nfds < 0 || nfds > 1024) return EINVAL;
  const sp = t.process.space;
  const bytes = Math.ceil(nfds / 64) * 8;
  const sets = [a.u[1], a.u[2], a.u[3]].map((va) => (va === 0 ? null : sp.read(va, bytes)));
  if (sets.some((s, i) => s === null && [a.u[1], a.u[2], a.u[3]][i] !== 0)) return EFAULT;
  const deadline = readTimeout(t, a.u[4]);
  if (deadline < 0) return deadline;
  const watched: OpenFile[] = [];
  for (let fd = 0; fd < nfds; fd++) {
    if (!sets.some((s) => s !== null && ((s[fd >> 3] >> (fd & 7)) & 1) !== 0)) continue;
    const f = fileOf(t, fd);
    if (f === null) return EBADF;
    watched.push(f);
  }
  if (a.u[5] !== 0) {
    // The sixth argument points at { const sigset_t *ss; size_t ss_len }.
    const arg = sp.read(a.u[5], 16);
    if (arg === null) return EFAULT;
    const dv = new DataView(arg.buffer);
    const maskVa = Number(dv.getBigUint64(0, true));
    if (maskVa !== 0) {
      const r = swapInSigmask(t, maskVa, Number(dv.getBigUint64(8, true)));
      if (r < 0) return r;
    }
  }
  const vas = [a.u[1], a.u[2], a.u[3]];
  const attempt = (): number => {
    const out = sets.map((s) => (s === null ? null : new Uint8Array(s.length)));
    let ready = 0;
    for (let fd = 0; fd < nfds; fd++) {
      for (let k = 0; k < 2; k++) {
        const s = sets[k];
        if (s === null || ((s[fd >> 3] >> (fd & 7)) & 1) === 0) continue;
        const rev = pollEvents(fileOf(t, fd), k === 0 ? 1 : 4);
        if ((rev & (k === 0 ? 0x19 : 0xc)) !== 0) {
          out[k]![fd >> 3] |= 1 << (fd & 7);
          ready++;
        }
      }
    }
    if (ready === 0 && performance.now() < deadline) {
      wait.deadline = Math.min(deadline, nextTimedEvent(watched));
      return WOULD_BLOCK;
    }
    for (let k = 0; k < 3; k++) {
      const va = vas[k];
      if (va !== 0 && !sp.write(va, out[k]!)) return EFAULT;
    }
    return ready;
  };
  const wait: Blocked = { retry: attempt, deadline, restartable: false, pollsHost: watched.some((f) => f.isTty) };
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  return vm.block(t, wait);
}

function utimens(vm: ProcessVm, t: Thread, dirfd: number, pathVa: number, timesVa: number, flags: number): number {
  let target: { fd: number } | { path: string };
  if (pathVa === 0) {
    const f = fileOf(t, dirfd);
    if (f === null) return EBADF;
    if (f.hostFd < 0) return EINVAL;
    target = { fd: f.hostFd };
  } else {
    const r = resolved(vm, t, dirfd, pathVa);
    if (typeof r === "number") return r;
    target = { path: r };
  }
  const nowS = Date.now() / 1000;
  const times: number[] = [nowS, nowS];
  if (timesVa !== 0) {
    const raw = t.process.space.read(timesVa, 32);
    if (raw === null) return EFAULT;
    const dv = new DataView(raw.buffer);
    const st = host(() => ("fd" in target ? fs.fstatSync(target.fd) : fs.statSync(target.path)));
    for (let i = 0; i < 2; i++) {
      const sec = Number(dv.getBigInt64(i * 16, true));
      const nsec = Number(dv.getBigInt64(i * 16 + 8, true));
      if (nsec === UTIME_NOW) continue;
      if (nsec === UTIME_OMIT) {
        if (typeof st === "number") return st;
        times[i] = (i === 0 ? (st as fs.Stats).atimeMs : (st as fs.Stats).mtimeMs) / 1000;
      } else if (nsec < 0 || nsec >= 1e9) return EINVAL;
      else times[i] = sec + nsec / 1e9;
    }
  }
  const r = host(() => {
    if ("fd" in target) fs.futimesSync(target.fd, times[0], times[1]);
    else if (flags & AT_SYMLINK_NOFOLLOW) fs.lutimesSync(target.path, times[0], times[1]);
    else fs.utimesSync(target.path, times[0], times[1]);
    return 0;
  });
  return r as number;
}

export const fsSyscalls: Record<string, SyscallHandler> = {
  openat: (vm, t, a) => openAt(vm, t, a.i[0], a.u[1], a.i[2], a.i[3]),

  close: (_vm, t, a) => t.process.fds.close(a.i[0]),

  close_range: (_vm, t, a) => {
    const first = a.u[0];
    const last = Math.min(a.u[1], 1 << 20);
    if (first > last) return EINVAL;
    const cloexec = (a.i[2] & 4) !== 0;
    for (const fd of t.process.fds.fds()) {
      if (fd < first || fd > last) continue;
      if (cloexec) t.process.fds.setCloexec(fd, true);
      else t.process.fds.close(fd);
    }
    return 0;
  },

  read: (vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canRead()) return EBADF;
    const n = count(a, 2);
    const va = a.u[1];
    return blocking(vm, t, () => readTo(t, f, va, n, null), f);
  },

  write: (vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canWrite()) return EBADF;
    const data = t.process.space.read(a.u[1], Math.min(count(a, 2), MAX_WRITE));
    if (data === null) return EFAULT;
    return blocking(vm, t, () => writeFrom(vm, t, f, data, null));
  },

  pread64: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canRead()) return EBADF;
    if (a.s(3) < 0) return EINVAL;
    return readTo(t, f, a.u[1], count(a, 2), a.s(3));
  },

  pwrite64: (vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canWrite()) return EBADF;
    if (a.s(3) < 0) return EINVAL;
    const data = t.process.space.read(a.u[1], Math.min(count(a, 2), MAX_WRITE));
    if (data === null) return EFAULT;
    return writeFrom(vm, t, f, data, a.s(3));
  },

  readv: (vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canRead()) return EBADF;
    const iov = iovecs(t, a.u[1], a.i[2]);
    if (typeof iov === "number") return iov;
    return blocking(vm, t, () => scatterRead(t, f, iov, null), f);
  },

  writev: (vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canWrite()) return EBADF;
    const data = gather(t, a.u[1], a.i[2]);
    if (typeof data === "number") return data;
    return blocking(vm, t, () => writeFrom(vm, t, f, data, null));
  },

  preadv: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canRead()) return EBADF;
    const iov = iovecs(t, a.u[1], a.i[2]);
    if (typeof iov === "number") return iov;
    return scatterRead(t, f, iov, a.s(3));
  },

  pwritev: (vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null || !f.canWrite()) return EBADF;
    const data = gather(t, a.u[1], a.i[2]);
    if (typeof data === "number") return data;
    return writeFrom(vm, t, f, data, a.s(3));
  },

  lseek: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (f instanceof HostFile && f.isDirectory) {
      if (a.i[2] !== 0 || a.s(1) < 0) return EINVAL;
      f.dirIndex = a.s(1);
      return f.dirIndex;
    }
    return f.seek(a.s64(1), a.i[2]);
  },

  fstat: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    const s = f.stat();
    return typeof s === "number" ? s : put(t, a.u[1], encodeStat(s));
  },

  fstatat: (vm, t, a) => {
    const s = statAt(vm, t, a.i[0], a.u[1], a.i[3]);
    return typeof s === "number" ? s : put(t, a.u[2], encodeStat(s));
  },

  statx: (vm, t, a) => {
    const s = statAt(vm, t, a.i[0], a.u[1], a.i[2]);
    return typeof s === "number" ? s : put(t, a.u[4], encodeStatx(s));
  },

  getdents64: (vm, t, a) => getdents64(vm, t, a.i[0], a.u[1], a.u[2]),

  readlinkat: (vm, t, a) => {
    const path = pathArg(t, a.u[1]);
    if (typeof path === "number") return path;
    const size = a.i[3];
    if (size <= 0) return EINVAL;
    let target: Uint8Array | number;
    const proc = path.startsWith("/proc/") ? vm.paths.procLink(path.replace(/\/+$/, ""), t.process) : null;
    if (proc !== null) target = new TextEncoder().encode(proc);
    else {
      const hostPath = vm.paths.resolveAt(t.process, a.i[0], path);
      if (typeof hostPath === "number") return hostPath;
      target = host(() => fs.readlinkSync(hostPath, { encoding: "buffer" })) as Uint8Array | number;
      if (typeof target === "number") return target;
    }
    const n = Math.min(size, target.length);
    return put(t, a.u[2], target.subarray(0, n)) < 0 ? EFAULT : n;
  },

  faccessat: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    return host(() => (fs.accessSync(p, a.i[2] & 7), 0)) as number;
  },

  faccessat2: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    return host(() => (fs.accessSync(p, a.i[2] & 7), 0)) as number;
  },

  mkdirat: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    return host(() => (fs.mkdirSync(p, { mode: a.i[2] & ~t.process.umask & 0o7777 }), 0)) as number;
  },

  mknodat: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    if ((a.i[2] & S_IFMT) === S_IFIFO) return makeHostFifo(p, a.i[2] & ~t.process.umask & 0o7777);
    if ((a.i[2] & S_IFMT) !== 0o100000 && (a.i[2] & S_IFMT) !== 0) return -ERRNO.EPERM;
    return host(() => (fs.closeSync(fs.openSync(p, "wx", a.i[2] & ~t.process.umask & 0o7777)), 0)) as number;
  },

  unlinkat: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    return host(() => ((a.i[2] & AT_REMOVEDIR ? fs.rmdirSync(p) : fs.unlinkSync(p)), 0)) as number;
  },

  renameat: (vm, t, a) => rename(vm, t, a.i[0], a.u[1], a.i[2], a.u[3], 0),
  renameat2: (vm, t, a) => rename(vm, t, a.i[0], a.u[1], a.i[2], a.u[3], a.i[4]),

  symlinkat: (vm, t, a) => {
    const target = pathArg(t, a.u[0]);
    if (typeof target === "number") return target;
    const p = resolved(vm, t, a.i[1], a.u[2]);
    if (typeof p === "number") return p;
    return host(() => (fs.symlinkSync(target, p), 0)) as number;
  },

  linkat: (vm, t, a) => {
    const from = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof from === "number") return from;
    const to = resolved(vm, t, a.i[2], a.u[3]);
    if (typeof to === "number") return to;
    const src = a.i[4] & AT_SYMLINK_FOLLOW ? (host(() => fs.realpathSync(from)) as string | number) : from;
    if (typeof src === "number") return src;
    return host(() => (fs.linkSync(src, to), 0)) as number;
  },

  fchmod: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (f.hostFd < 0) return 0;
    return host(() => (fs.fchmodSync(f.hostFd, a.i[1] & 0o7777), 0)) as number;
  },

  fchmodat: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    return host(() => (fs.chmodSync(p, a.i[2] & 0o7777), 0)) as number;
  },

  fchown: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (f.hostFd < 0) return 0;
    return host(() => (fs.fchownSync(f.hostFd, a.i[1], a.i[2]), 0)) as number;
  },

  fchownat: (vm, t, a) => {
    const p = resolved(vm, t, a.i[0], a.u[1]);
    if (typeof p === "number") return p;
    const fn = a.i[4] & AT_SYMLINK_NOFOLLOW ? fs.lchownSync : fs.chownSync;
    return host(() => (fn(p, a.i[2], a.i[3]), 0)) as number;
  },

  utimensat: (vm, t, a) => utimens(vm, t, a.i[0], a.u[1], a.u[2], a.i[3]),

  truncate: (vm, t, a) => {
    const p = resolved(vm, t, AT_FDCWD, a.u[0]);
    if (typeof p === "number") return p;
    if (a.s(1) < 0) return EINVAL;
    return host(() => (fs.truncateSync(p, a.s(1)), 0)) as number;
  },

  ftruncate: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (f.hostFd < 0 || !f.canWrite()) return EINVAL;
    if (a.s(1) < 0) return EINVAL;
    return host(() => (fs.ftruncateSync(f.hostFd, a.s(1)), 0)) as number;
  },

  fallocate: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (a.i[1] !== 0) return -ERRNO.EOPNOTSUPP;
    const s = f.stat();
    if (typeof s === "number") return s;
    const end = a.s(2) + a.s(3);
    if (end <= Number(s.size)) return 0;
    return host(() => (fs.ftruncateSync(f.hostFd, end), 0)) as number;
  },

  fsync: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (f.hostFd < 0) return EINVAL;
    return host(() => (fs.fsyncSync(f.hostFd), 0)) as number;
  },

  fdatasync: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    if (f.hostFd < 0) return EINVAL;
    return host(() => (fs.fdatasyncSync(f.hostFd), 0)) as number;
  },

  sync: () => 0,
  syncfs: (_vm, t, a) => (fileOf(t, a.i[0]) === null ? EBADF : 0),
  fadvise64: (_vm, t, a) => (fileOf(t, a.i[0]) === null ? EBADF : 0),
  flock: (_vm, t, a) => (fileOf(t, a.i[0]) === null ? EBADF : 0),

  fcntl: (_vm, t, a) => fcntl(t, a.i[0], a.i[1], a.i[2]),

  dup: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    return t.process.fds.install(f, false);
  },

  dup3: (_vm, t, a) => {
    const [oldfd, newfd, flags] = [a.i[0], a.i[1], a.i[2]];
    const f = fileOf(t, oldfd);
    if (f === null) return EBADF;
    if (oldfd === newfd || (flags & ~O_CLOEXEC) !== 0) return EINVAL;
    if (newfd < 0 || newfd >= t.process.fds.limit) return EBADF;
    t.process.fds.placeAt(newfd, f, (flags & O_CLOEXEC) !== 0);
    return newfd;
  },

  pipe2: (_vm, t, a) => {
    const flags = a.i[1];
    if ((flags & ~(O_CLOEXEC | O_NONBLOCK | 0o40000)) !== 0) return EINVAL;
    const pipe = new Pipe();
    const fds = t.process.fds;
    const r = new PipeEnd(pipe, true, flags & O_NONBLOCK);
    const w = new PipeEnd(pipe, false, flags & O_NONBLOCK);
    const cloexec = (flags & O_CLOEXEC) !== 0;
    const rfd = fds.install(r, cloexec);
    if (rfd < 0) {
      w.release();
      r.release();
      return rfd;
    }
    const wfd = fds.install(w, cloexec);
    if (wfd < 0) {
      fds.close(rfd);
      w.release();
      return wfd;
    }
    const out = new StructWriter(8).i32(0, rfd).i32(4, wfd).bytes;
    if (put(t, a.u[0], out) < 0) {
      fds.close(rfd);
      fds.close(wfd);
      return EFAULT;
    }
    return 0;
  },

  ioctl: (vm, t, a) => ioctl(vm, t, a.i[0], a.i[1] >>> 0, a.u[2]),

  getcwd: (_vm, t, a) => {
    if (directoryRemoved(t.process.cwdHandle)) return -ERRNO.ENOENT;
    const cwd = new TextEncoder().encode(t.process.cwd + "\0");
    if (cwd.length > PATH_MAX) return -ERRNO.ENAMETOOLONG;
    if (a.u[1] < cwd.length) return -ERRNO.ERANGE;
    return put(t, a.u[0], cwd) < 0 ? EFAULT : cwd.length;
  },

  chdir: (vm, t, a) => {
    const path = pathArg(t, a.u[0]);
    if (typeof path === "number") return path;
    const p = vm.paths.resolveAt(t.process, AT_FDCWD, path);
    if (typeof p === "number") return p;
    return chdirTo(t, p, path.startsWith("/") ? p : nodePath.posix.resolve(t.process.cwd, path));
  },

  fchdir: (_vm, t, a) => {
    const f = fileOf(t, a.i[0]);
    if (f === null) return EBADF;
    return chdirTo(t, f.hostFd >= 0 ? `/proc/self/fd/${f.hostFd}` : f.path, f.path);
  },

  umask: (_vm, t, a) => {
    const old = t.process.umask;
    t.process.umask = a.i[0] & 0o777;
    return old;
  },

  ppoll: (vm, t, a) => ppoll(vm, t, a.u[0], a.u[1], a.u[2], a.u[3], a.u[4]),
  pselect6: (vm, t, a) => pselect6(vm, t, a),
};

/** Makes `hostPath` the cwd: a new host handle on it, and `shown` (absolute) for getcwd and /proc/self/cwd. */
function chdirTo(t: Thread, hostPath: string, shown: string): number {
  const handle = openDirectoryHandle(hostPath);
  if (handle < 0) return handle;
  const p = t.process;
  closeDirectoryHandle(p.cwdHandle);
  p.cwdHandle = handle;
  p.cwd = shown.length > 1 ? shown.replace(/\/+$/, "") : shown;
  return 0;
}

function rename(vm: ProcessVm, t: Thread, ofd: number, oldVa: number, nfd: number, newVa: number, flags: number): number {
  const from = resolved(vm, t, ofd, oldVa);
  if (typeof from === "number") return from;
  const to = resolved(vm, t, nfd, newVa);
  if (typeof to === "number") return to;
  if ((flags & ~1) !== 0) return EINVAL;
  if (flags & 1 && fs.existsSync(to)) return -ERRNO.EEXIST;
  return host(() => (fs.renameSync(from, to), 0)) as number;
}

function gather(t: Thread, va: number, n: number): Uint8Array | number {
  const iov = iovecs(t, va, n);
  if (typeof iov === "number") return iov;
  const total = Math.min(iov.reduce((s, [, len]) => s + len, 0), MAX_WRITE);
  const data = new Uint8Array(total);
  let at = 0;
  for (const [base, len] of iov) {
    const n = Math.min(len, total - at);
    if (n === 0) continue;
    if (!t.process.space.readInto(base, data.subarray(at, at + n))) return EFAULT;
    at += n;
  }
  return data;
}

function scatterRead(t: Thread, f: OpenFile, iov: Array<[number, number]>, pos: number | null): number {
  const total = Math.min(iov.reduce((s, [, len]) => s + len, 0), MAX_WRITE);
  const buf = new Uint8Array(total);
  const r = pos === null ? f.read(buf) : f.pread(buf, pos);
  if (r <= 0) return r;
  let at = 0;
  for (const [base, len] of iov) {
    if (at >= r) break;
    const n = Math.min(len, r - at);
    if (!t.process.space.write(base, buf.subarray(at, at + n))) return EFAULT;
    at += n;
  }
  return r;
}

export { FdTable, O_ACCMODE, O_DIRECTORY, O_RDONLY, O_WRONLY, S_IFDIR, hostErrno };
