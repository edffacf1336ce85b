/**
 * The BSD socket system calls: guest memory in and out (addresses,
 * msghdr/iovec/cmsghdr, option values) around the socket objects of
 * procvm/sockets. A call that must wait parks the thread with a retry
 * closure, as the pipe calls do; SO_RCVTIMEO / SO_SNDTIMEO bound those
 * waits. Plain read/write/poll on a socket fd go through fs.ts like any
 * other file.
 */
import { performance } from "node:perf_hooks";
import { ERRNO } from "../abi.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDWR, WOULD_BLOCK, type OpenFile } from "../files.ts";
import type { ProcessVm, SyscallArgs } from "../kernel.ts";
import { AT_FDCWD } from "../paths.ts";
import type { Blocked, Thread } from "../process.ts";
import { SIGPIPE } from "../signals.ts";
import {
  AF_NETLINK, AF_UNIX, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, SCM_CREDENTIALS,
  SCM_MAX_FD, SCM_RIGHTS, SOCK_TYPE_MASK, SOL_SOCKET, SOMAXCONN, SO_RCVTIMEO, SO_SNDTIMEO,
} from "../sockets/constants.ts";
import { createPair, createSocket } from "../sockets/create.ts";
import { IFCONF_SIZE, IFREQ_SIZE, SIOCGIFCONF, interfaceList, interfaceRequest, isSocketRequest } from "../sockets/interface-ioctl.ts";
import { SOCKADDR_MAX, encodeSockaddr, type SockAddr, type SocketName } from "../sockets/sockaddr.ts";
import { Socket, dropFileRef, type Caller, type Credentials, type Incoming, type SocketContext } from "../sockets/socket.ts";
import { UnixNames } from "../sockets/unix-names.ts";
import type { SyscallHandler } from "./table.ts";
import { EBADF, EFAULT, EINVAL, StructWriter, put } from "./util.ts";

/** Linux MAX_RW_COUNT, and the most bytes one send takes from the guest at a time (as write does). */
const MAX_RW = 0x7ffff000;
const MAX_SEND = 16 << 20;
const UIO_MAXIOV = 1024;
const MSGHDR_SIZE = 56;
const MMSGHDR_SIZE = 64;
const CMSGHDR_SIZE = 16;
/** The largest option value we read from the guest. */
const MAX_OPTLEN = 256;

const contexts = new WeakMap<ProcessVm, SocketContext>();

/** The VM's socket state: its unix name space and the scheduler's wake-up. */
function contextOf(vm: ProcessVm): SocketContext {
  let ctx = contexts.get(vm);
  if (ctx === undefined) {
    ctx = { wake: () => vm.notifyHostEvent(), names: new UnixNames<Socket>() };
    contexts.set(vm, ctx);
  }
  return ctx;
}

function caller(vm: ProcessVm, t: Thread): Caller {
  return { pid: t.process.pid, uid: vm.creds.euid, gid: vm.creds.egid, umask: t.process.umask };
}

function sockOf(t: Thread, fd: number): Socket | number {
  const f = t.process.fds.get(fd);
  if (f === null) return EBADF;
  return f instanceof Socket ? f : -ERRNO.ENOTSOCK;
}

/**
 * Runs `attempt` now; if it would block, parks the thread to retry it.
 * With a timeout (SO_RCVTIMEO / SO_SNDTIMEO) the wait ends with
 * `onTimeout` and a signal interrupts instead of restarting (as Linux).
 */
function park(vm: ProcessVm, t: Thread, attempt: () => number, timeoutMs = 0, onTimeout = -ERRNO.EAGAIN): number {
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  return vm.block(t, waitFor(attempt, timeoutMs, onTimeout));
}

function waitFor(attempt: () => number, timeoutMs: number, onTimeout: number): Blocked {
  const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
  const retry = () => {
    const r = attempt();
    return r === WOULD_BLOCK && performance.now() >= deadline ? onTimeout : r;
  };
  return { retry, deadline, restartable: timeoutMs === 0 };
}

// ---- addresses -------------------------------------------------------------------

/** An address argument of `len` bytes at `va`; a unix path also gets its host path. */
function readAddress(vm: ProcessVm, t: Thread, s: Socket, va: number, len: number): SockAddr | number {
  if (len < 0 || len > SOCKADDR_MAX) return EINVAL;
  const raw = t.process.space.read(va, len);
  if (raw === null) return EFAULT;
  const addr = s.decodeAddress(raw);
  if (typeof addr === "number" || addr.family !== AF_UNIX || addr.name.length === 0 || addr.name[0] === 0) return addr;
  const hostPath = vm.paths.resolveAt(t.process, AT_FDCWD, new TextDecoder().decode(addr.name));
  if (typeof hostPath === "number") return hostPath;
  return { ...addr, hostPath };
}

function encoded(addr: SocketName | null): Uint8Array {
  return addr === null ? new Uint8Array(0) : encodeSockaddr(addr);
}

/** move_addr_to_user: at most *lenVa bytes of `bytes` to `va`, then the full length to *lenVa. */
function putAddress(t: Thread, va: number, lenVa: number, bytes: Uint8Array): number {
  if (va === 0) return 0;
  const sp = t.process.space;
  const len = sp.readU32(lenVa);
  if (len === null) return EFAULT;
  if (len | 0) {
    if ((len | 0) < 0) return EINVAL;
    if (!sp.write(va, bytes.subarray(0, Math.min(len, bytes.length)))) return EFAULT;
  }
  return sp.writeU32(lenVa, bytes.length) ? 0 : EFAULT;
}

// ---- msghdr, iovecs, control messages ------------------------------------------

interface MsgHeader {
  name: number;
  namelen: number;
  iov: Array<[number, number]>;
  total: number;
  control: number;
  controllen: number;
}

function readMsghdr(t: Thread, va: number): MsgHeader | number {
  const raw = t.process.space.read(va, MSGHDR_SIZE);
  if (raw === null) return EFAULT;
  const dv = new DataView(raw.buffer);
  const iovlen = Number(dv.getBigUint64(24, true));
  if (iovlen > UIO_MAXIOV) return -ERRNO.EMSGSIZE;
  const namelen = dv.getInt32(8, true);
  if (namelen < 0) return EINVAL;
  const iovVa = Number(dv.getBigUint64(16, true));
  const iov: Array<[number, number]> = [];
  let total = 0;
  if (iovlen > 0) {
    const vec = t.process.space.read(iovVa, iovlen * 16);
    if (vec === null) return EFAULT;
    const vv = new DataView(vec.buffer);
    for (let i = 0; i < iovlen; i++) {
      const len = vv.getBigInt64(i * 16 + 8, true);
      if (len < 0n) return EINVAL;
      const n = Math.min(Number(len), MAX_RW - total);
      iov.push([Number(vv.getBigUint64(i * 16, true)), n]);
      total += n;
    }
  }
  const name = Number(dv.getBigUint64(0, true));
  return {
    name, namelen: name === 0 ? 0 : Math.min(namelen, SOCKADDR_MAX), iov, total,
    control: Number(dv.getBigUint64(32, true)), controllen: Number(dv.getBigUint64(40, true)),
  };
}

function gather(t: Thread, iov: Array<[number, number]>, total: number): Uint8Array | number {
  const data = new Uint8Array(Math.min(total, MAX_SEND));
  let at = 0;
  for (const [base, len] of iov) {
    const n = Math.min(len, data.length - at);
    if (n === 0) continue;
    if (!t.process.space.readInto(base, data.subarray(at, at + n))) return EFAULT;
    at += n;
  }
  return data;
}

function scatter(t: Thread, iov: Array<[number, number]>, data: Uint8Array): number {
  let at = 0;
  for (const [base, len] of iov) {
    if (at >= data.length) break;
    const n = Math.min(len, data.length - at);
    if (!t.process.space.write(base, data.subarray(at, at + n))) return EFAULT;
    at += n;
  }
  return 0;
}

/** sendmsg's control messages: files to pass and credentials to claim. */
function readControl(t: Thread, s: Socket, va: number, len: number): { fds: OpenFile[]; creds: Credentials | null } | number {
  const out = { fds: [] as OpenFile[], creds: null as Credentials | null };
  if (len > 0x7fffffff) return -ERRNO.ENOBUFS;
  if (len < CMSGHDR_SIZE) return out;
  const raw = t.process.space.read(va, len);
  if (raw === null) return EFAULT;
  const dv = new DataView(raw.buffer);
  for (let off = 0; off + CMSGHDR_SIZE <= len; ) {
    const cmsgLen = Number(dv.getBigUint64(off, true));
    const level = dv.getInt32(off + 8, true);
    const type = dv.getInt32(off + 12, true);
    if (cmsgLen < CMSGHDR_SIZE || cmsgLen > len - off) return EINVAL;
    if (level === SOL_SOCKET) {
      if (s.domain !== AF_UNIX) return EINVAL;
      const body = cmsgLen - CMSGHDR_SIZE;
      if (type === SCM_RIGHTS) {
        const n = Math.floor(body / 4);
        if (out.fds.length + n > SCM_MAX_FD) return EINVAL;
        for (let i = 0; i < n; i++) {
          const f = t.process.fds.get(dv.getInt32(off + CMSGHDR_SIZE + 4 * i, true));
          if (f === null) return EBADF;
          out.fds.push(f);
        }
      } else if (type === SCM_CREDENTIALS) {
        if (body !== 12) return EINVAL;
        const at = off + CMSGHDR_SIZE;
        out.creds = { pid: dv.getInt32(at, true), uid: dv.getInt32(at + 4, true), gid: dv.getInt32(at + 8, true) };
      } else return EINVAL;
    }
    off += (cmsgLen + 7) & ~7;
  }
  return out;
}

/** recvmsg's control buffer being filled: put_cmsg and scm_detach_fds. */
class ControlWriter {
  used = 0;
  truncated = false;
  constructor(
    private readonly t: Thread,
    private readonly va: number,
    private readonly size: number,
  ) {}

  private get left(): number {
    return this.size - this.used;
  }

  /** One control message; a short buffer keeps what fits and reports MSG_CTRUNC. */
  put(level: number, type: number, data: Uint8Array): number {
    if (this.va === 0 || this.left < CMSGHDR_SIZE) {
      this.truncated = true;
      return 0;
    }
    const full = CMSGHDR_SIZE + data.length;
    const len = Math.min(full, this.left);
    if (len < full) this.truncated = true;
    const w = new StructWriter(len);
    w.u64(0, full).i32(8, level).i32(12, type);
    w.bytes.set(data.subarray(0, len - CMSGHDR_SIZE), CMSGHDR_SIZE);
    if (put(this.t, this.va + this.used, w.bytes) < 0) return EFAULT;
    this.used += Math.min((full + 7) & ~7, this.left);
    return 0;
  }

  /** Installs as many passed files as the buffer has room for; the rest are closed (MSG_CTRUNC). */
  files(files: OpenFile[], cloexec: boolean): number {
    const room = this.va === 0 || this.left <= CMSGHDR_SIZE ? 0 : Math.floor((this.left - CMSGHDR_SIZE) / 4);
    const fds: number[] = [];
    let i = 0;
    for (; i < files.length && fds.length < room; i++) {
      const fd = this.t.process.fds.install(files[i], cloexec);
      if (fd < 0) break;
      dropFileRef(files[i]);
      fds.push(fd);
    }
    for (const f of files.slice(i)) dropFileRef(f);
    if (i < files.length) this.truncated = true;
    if (fds.length === 0) return 0;
    const body = new StructWriter(4 * fds.length);
    fds.forEach((fd, k) => body.i32(4 * k, fd));
    return this.put(SOL_SOCKET, SCM_RIGHTS, body.bytes);
  }
}

// ---- sending and receiving -------------------------------------------------------

function nonblocking(s: Socket, flags: number): boolean {
  return s.nonblocking || (flags & MSG_DONTWAIT) !== 0;
}

/** A stream socket's EPIPE raises SIGPIPE unless MSG_NOSIGNAL. */
function sent(vm: ProcessVm, t: Thread, s: Socket, flags: number, r: number): number {
  if (r === -ERRNO.EPIPE && s.isStream && (flags & MSG_NOSIGNAL) === 0) {
    vm.sendToThread(t, { signo: SIGPIPE, code: 0, pid: t.process.pid, uid: vm.creds.uid });
  }
  return r;
}

/** One sendmsg's worth of work, read from the guest once; `attempt` may run many times. */
function prepareSendmsg(vm: ProcessVm, t: Thread, s: Socket, msgVa: number, flags: number): (() => number) | number {
  const h = readMsghdr(t, msgVa);
  if (typeof h === "number") return h;
  const data = gather(t, h.iov, h.total);
  if (typeof data === "number") return data;
  const ctl = readControl(t, s, h.control, h.controllen);
  if (typeof ctl === "number") return ctl;
  let to: SockAddr | null = null;
  if (h.namelen > 0) {
    const a = readAddress(vm, t, s, h.name, h.namelen);
    if (typeof a === "number") return a;
    to = a;
  }
  const who = caller(vm, t);
  const sender = ctl.creds ?? { pid: who.pid, uid: who.uid, gid: who.gid };
  const nonblock = nonblocking(s, flags);
  return () => sent(vm, t, s, flags, s.send({ data, to, fds: ctl.fds, sender, flags }, nonblock));
}

interface RecvTarget {
  iov: Array<[number, number]>;
  total: number;
  nameVa: number;
  /** Where the address length goes: recvfrom's socklen_t*, or recvmsg's msg_namelen. */
  nameLenVa: number;
  control: ControlWriter | null;
  /** recvmsg: where msg_controllen and msg_flags are written back. */
  msgVa: number;
}

/** Delivers one received message into the guest's buffers; the call's result. */
function deliver(t: Thread, s: Socket, r: Incoming, flags: number, into: RecvTarget): number {
  const err = scatter(t, into.iov, r.data);
  if (err < 0) {
    for (const f of r.fds) dropFileRef(f);
    return err;
  }
  let msgFlags = r.flags | (flags & MSG_CMSG_CLOEXEC);
  const ctl = into.control;
  if (ctl !== null) {
    if (r.creds !== null) {
      const c = new StructWriter(12).i32(0, r.creds.pid).i32(4, r.creds.uid).i32(8, r.creds.gid).bytes;
      if (ctl.put(SOL_SOCKET, SCM_CREDENTIALS, c) < 0) return EFAULT;
    }
    if (r.fds.length > 0 && ctl.files(r.fds, (flags & MSG_CMSG_CLOEXEC) !== 0) < 0) return EFAULT;
    if (ctl.truncated) msgFlags |= MSG_CTRUNC;
  } else {
    if (r.fds.length > 0) msgFlags |= MSG_CTRUNC;
    for (const f of r.fds) dropFileRef(f);
  }
  if (into.nameVa !== 0 && putAddress(t, into.nameVa, into.nameLenVa, encoded(r.from)) < 0) return EFAULT;
  if (into.msgVa !== 0) {
    const sp = t.process.space;
    if (!sp.writeU64(into.msgVa + 40, ctl?.used ?? 0) || !sp.writeU32(into.msgVa + 48, msgFlags)) return EFAULT;
  }
  return (flags & MSG_TRUNC) !== 0 && !s.isStream ? r.length : r.data.length;
}

/**
 * A receive call: one message, or with MSG_WAITALL on a stream, bytes
 * until the buffers are full (or EOF / an error / a signal ends it early
 * with what was read).
 */
function receive(vm: ProcessVm, t: Thread, s: Socket, flags: number, into: RecvTarget): number {
  const nonblock = nonblocking(s, flags);
  const timeout = s.options.timeoutMs(SO_RCVTIMEO);
  const waitAll = (flags & MSG_WAITALL) !== 0 && (flags & MSG_PEEK) === 0 && s.isStream && !nonblock;
  if (!waitAll) {
    return park(vm, t, () => {
      const r = s.recv(into.total, flags, nonblock);
      return typeof r === "number" ? r : deliver(t, s, r, flags, into);
    }, timeout);
  }
  let got = 0;
  let wait: Blocked | null = null;
  const attempt = (): number => {
    for (;;) {
      const r = s.recv(into.total - got, flags, false);
      if (typeof r === "number") return got > 0 && r !== WOULD_BLOCK ? got : r;
      const done = deliver(t, s, r, flags, { ...into, iov: advance(into.iov, got) });
      if (done < 0) return got > 0 ? got : done;
      got += done;
      if (wait !== null) {
        // Bytes already taken must not be lost: a signal now ends the call with them.
        wait.restartable = false;
        wait.interruptedResult = got;
      }
      if (done === 0 || got >= into.total) return got;
    }
  };
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  wait = waitFor(attempt, timeout, -ERRNO.EAGAIN);
  if (got > 0) {
    wait.restartable = false;
    wait.interruptedResult = got;
  }
  const retry = wait.retry;
  wait.retry = () => {
    const x = retry();
    return x === -ERRNO.EAGAIN && got > 0 ? got : x;
  };
  return vm.block(t, wait);
}

/** The iovecs past their first `skip` bytes. */
function advance(iov: Array<[number, number]>, skip: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [base, len] of iov) {
    if (skip >= len) {
      skip -= len;
      continue;
    }
    out.push([base + skip, len - skip]);
    skip = 0;
  }
  return out;
}

function recvmsgTarget(t: Thread, msgVa: number): RecvTarget | number {
  const h = readMsghdr(t, msgVa);
  if (typeof h === "number") return h;
  return {
    iov: h.iov, total: h.total, nameVa: h.name, nameLenVa: msgVa + 8, msgVa,
    control: new ControlWriter(t, h.controllen > 0 ? h.control : 0, Math.min(h.controllen, 0x7fffffff)),
  };
}

// ---- the calls -------------------------------------------------------------------

function install(t: Thread, s: Socket, typeFlags: number): number {
  s.flags = O_RDWR | (typeFlags & O_NONBLOCK);
  const fd = t.process.fds.install(s, (typeFlags & O_CLOEXEC) !== 0);
  if (fd < 0) s.release();
  return fd;
}

function socket(vm: ProcessVm, t: Thread, domain: number, typeArg: number, protocol: number): number {
  const flags = typeArg & ~SOCK_TYPE_MASK;
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) !== 0) return EINVAL;
  const who = caller(vm, t);
  const s = createSocket(contextOf(vm), domain, typeArg & SOCK_TYPE_MASK, protocol, who);
  return typeof s === "number" ? s : install(t, s, flags);
}

function socketpair(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const flags = a.i[1] & ~SOCK_TYPE_MASK;
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) !== 0) return EINVAL;
  const pair = createPair(contextOf(vm), a.i[0], a.i[1] & SOCK_TYPE_MASK, a.i[2], caller(vm, t));
  if (typeof pair === "number") return pair;
  const fd0 = install(t, pair[0], flags);
  if (fd0 < 0) {
    pair[1].release();
    return fd0;
  }
  const fd1 = install(t, pair[1], flags);
  if (fd1 < 0) {
    t.process.fds.close(fd0);
    return fd1;
  }
  if (put(t, a.u[3], new StructWriter(8).i32(0, fd0).i32(4, fd1).bytes) < 0) {
    t.process.fds.close(fd0);
    t.process.fds.close(fd1);
    return EFAULT;
  }
  return 0;
}

function accept(vm: ProcessVm, t: Thread, fd: number, addrVa: number, lenVa: number, flags: number): number {
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) !== 0) return EINVAL;
  const s = sockOf(t, fd);
  if (typeof s === "number") return s;
  const who = caller(vm, t);
  const attempt = (): number => {
    const r = s.accept(s.nonblocking);
    if (typeof r === "number") return r;
    r.owner = who;
    const nfd = install(t, r, flags);
    if (nfd < 0) return nfd;
    const peer = r.peerAddress();
    const err = putAddress(t, addrVa, lenVa, typeof peer === "number" ? new Uint8Array(0) : encodeSockaddr(peer));
    if (err < 0) {
      t.process.fds.close(nfd);
      return err;
    }
    return nfd;
  };
  return park(vm, t, attempt, s.options.timeoutMs(SO_RCVTIMEO));
}

function withSocket(t: Thread, fd: number, fn: (s: Socket) => number): number {
  const s = sockOf(t, fd);
  return typeof s === "number" ? s : fn(s);
}

const FIONREAD = 0x541b;

/**
 * ioctl on a socket: the interface requests (SIOCGIF*, SIOCGIFCONF) any
 * socket answers; null for what is not a socket's to answer (fs.ts goes on
 * with FIONBIO, FIONREAD...).
 */
export function socketIoctl(t: Thread, f: OpenFile, req: number, arg: number): number | null {
  if (!(f instanceof Socket)) return null;
  // netlink_ioctl knows no command at all
  if (req === FIONREAD && f.domain === AF_NETLINK) return -ERRNO.ENOTTY;
  if (!isSocketRequest(req)) return null;
  const sp = t.process.space;
  if (req === SIOCGIFCONF) {
    const ifc = sp.read(arg, IFCONF_SIZE);
    if (ifc === null) return EFAULT;
    const dv = new DataView(ifc.buffer);
    const buf = Number(dv.getBigUint64(8, true));
    const list = interfaceList();
    // a NULL buffer asks only for the size; otherwise as many entries as fit
    const n = buf === 0 ? list.length : Math.min(list.length, Math.floor(Math.max(0, dv.getInt32(0, true)) / IFREQ_SIZE));
    for (let i = 0; i < n && buf !== 0; i++) if (!sp.write(buf + i * IFREQ_SIZE, list[i])) return EFAULT;
    return sp.writeU32(arg, n * IFREQ_SIZE) ? 0 : EFAULT;
  }
  const ifr = sp.read(arg, IFREQ_SIZE);
  if (ifr === null) return EFAULT;
  const r = interfaceRequest(f.domain, req, ifr);
  if (typeof r === "number") return r;
  return put(t, arg, r) < 0 ? EFAULT : 0;
}

export const netSyscalls: Record<string, SyscallHandler> = {
  socket: (vm, t, a) => socket(vm, t, a.i[0], a.i[1], a.i[2]),
  socketpair: (vm, t, a) => socketpair(vm, t, a),

  bind: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const addr = readAddress(vm, t, s, a.u[1], a.i[2]);
    if (typeof addr === "number") return addr;
    const r = s.bind(addr, caller(vm, t));
    return typeof r === "number" ? r : park(vm, t, r);
  }),

  listen: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const backlog = (a.i[1] >>> 0) > SOMAXCONN ? SOMAXCONN : a.i[1];
    const r = s.listen(backlog, caller(vm, t));
    return typeof r === "number" ? r : park(vm, t, r);
  }),

  accept: (vm, t, a) => accept(vm, t, a.i[0], a.u[1], a.u[2], 0),
  accept4: (vm, t, a) => accept(vm, t, a.i[0], a.u[1], a.u[2], a.i[3]),

  connect: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const addr = readAddress(vm, t, s, a.u[1], a.i[2]);
    if (typeof addr === "number") return addr;
    const who = caller(vm, t);
    s.owner = who;
    const nonblock = s.nonblocking;
    return park(vm, t, () => s.connect(addr, nonblock, who), s.options.timeoutMs(SO_SNDTIMEO), -ERRNO.EINPROGRESS);
  }),

  getsockname: (_vm, t, a) => withSocket(t, a.i[0], (s) => {
    if (a.u[1] === 0) return EFAULT;
    return putAddress(t, a.u[1], a.u[2], encodeSockaddr(s.localAddress()));
  }),

  getpeername: (_vm, t, a) => withSocket(t, a.i[0], (s) => {
    const peer = s.peerAddress();
    if (typeof peer === "number") return peer;
    if (a.u[1] === 0) return EFAULT;
    return putAddress(t, a.u[1], a.u[2], encodeSockaddr(peer));
  }),

  sendto: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const flags = a.i[3];
    const data = t.process.space.read(a.u[1], Math.min(a.u[2], MAX_SEND));
    if (data === null) return EFAULT;
    let to: SockAddr | null = null;
    if (a.u[4] !== 0 && a.i[5] !== 0) {
      const addr = readAddress(vm, t, s, a.u[4], a.i[5]);
      if (typeof addr === "number") return addr;
      to = addr;
    }
    const who = caller(vm, t);
    const sender = { pid: who.pid, uid: who.uid, gid: who.gid };
    const nonblock = nonblocking(s, flags);
    const attempt = () => sent(vm, t, s, flags, s.send({ data, to, fds: [], sender, flags }, nonblock));
    return park(vm, t, attempt, s.options.timeoutMs(SO_SNDTIMEO));
  }),

  recvfrom: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const total = Math.min(a.u[2], MAX_RW);
    return receive(vm, t, s, a.i[3], { iov: [[a.u[1], total]], total, nameVa: a.u[4], nameLenVa: a.u[5], control: null, msgVa: 0 });
  }),

  sendmsg: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const attempt = prepareSendmsg(vm, t, s, a.u[1], a.i[2]);
    return typeof attempt === "number" ? attempt : park(vm, t, attempt, s.options.timeoutMs(SO_SNDTIMEO));
  }),

  recvmsg: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const into = recvmsgTarget(t, a.u[1]);
    return typeof into === "number" ? into : receive(vm, t, s, a.i[2], into);
  }),

  sendmmsg: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const vec = a.u[1];
    const vlen = Math.min(a.u[2], UIO_MAXIOV);
    const flags = a.i[3];
    let done = 0;
    let current: (() => number) | null = null;
    const attempt = (): number => {
      while (done < vlen) {
        if (current === null) {
          const p = prepareSendmsg(vm, t, s, vec + done * MMSGHDR_SIZE, flags);
          if (typeof p === "number") return done > 0 ? done : p;
          current = p;
        }
        const r = current();
        if (r === WOULD_BLOCK || r < 0) return done > 0 ? done : r;
        current = null;
        if (!t.process.space.writeU32(vec + done * MMSGHDR_SIZE + MSGHDR_SIZE, r)) return done > 0 ? done : EFAULT;
        done++;
      }
      return done;
    };
    return park(vm, t, attempt, s.options.timeoutMs(SO_SNDTIMEO));
  }),

  // After the first message, recvmmsg returns what has arrived (as with MSG_WAITFORONE).
  recvmmsg: (vm, t, a) => withSocket(t, a.i[0], (s) => {
    const vec = a.u[1];
    const vlen = Math.min(a.u[2], UIO_MAXIOV);
    const flags = a.i[3];
    let done = 0;
    const attempt = (): number => {
      while (done < vlen) {
        const msgVa = vec + done * MMSGHDR_SIZE;
        const into = recvmsgTarget(t, msgVa);
        if (typeof into === "number") return done > 0 ? done : into;
        const r = s.recv(into.total, flags, done > 0 || nonblocking(s, flags));
        if (typeof r === "number") return done > 0 ? done : r;
        const n = deliver(t, s, r, flags, into);
        if (n < 0) return done > 0 ? done : n;
        if (!t.process.space.writeU32(msgVa + MSGHDR_SIZE, n)) return EFAULT;
        done++;
      }
      return done;
    };
    return park(vm, t, attempt, s.options.timeoutMs(SO_RCVTIMEO));
  }),

  shutdown: (_vm, t, a) => withSocket(t, a.i[0], (s) => (a.i[1] < 0 || a.i[1] > 2 ? EINVAL : s.shutdown(a.i[1]))),

  setsockopt: (_vm, t, a) => withSocket(t, a.i[0], (s) => {
    const len = a.i[4];
    if (len < 0) return EINVAL;
    const raw = len === 0 ? new Uint8Array(0) : t.process.space.read(a.u[3], Math.min(len, MAX_OPTLEN));
    if (raw === null) return EFAULT;
    return s.setOption(a.i[1], a.i[2], raw);
  }),

  getsockopt: (_vm, t, a) => withSocket(t, a.i[0], (s) => {
    const sp = t.process.space;
    const len = sp.readU32(a.u[4]);
    if (len === null) return EFAULT;
    if ((len | 0) < 0) return EINVAL;
    const v = s.getOption(a.i[1], a.i[2], len);
    if (typeof v === "number") return v;
    const bytes = v instanceof Uint8Array ? v : v.bytes;
    const n = Math.min(len, bytes.length);
    if (n > 0 && !sp.write(a.u[3], bytes.subarray(0, n))) return EFAULT;
    return sp.writeU32(a.u[4], v instanceof Uint8Array ? n : v.optlen) ? 0 : EFAULT;
  }),
};
