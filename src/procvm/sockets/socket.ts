/**
 * What every guest socket is: an open file description (read/write/poll
 * as any file) plus the socket operations the system calls in
 * syscalls/net.ts drive. The subclasses are the families: unix-stream.ts /
 * unix-dgram.ts inside the VM, inet-stream.ts / inet-dgram.ts over the
 * host's node:net and node:dgram, netlink-route.ts answered from the host's
 * interfaces.
 *
 * Operations return a value, a negated errno, or WOULD_BLOCK (the caller
 * parks the thread and calls the same operation again). Operations that
 * start host work which must finish first (bind, listen) return a
 * `Pending` that the caller retries instead.
 */
import { ERRNO } from "../abi.ts";
import { O_NONBLOCK, O_RDWR, OpenFile, WOULD_BLOCK, type FileStat } from "../files.ts";
import {
  AF_UNIX, SOCK_STREAM, SOL_SOCKET, SO_ACCEPTCONN, SO_DOMAIN, SO_ERROR, SO_PASSCRED, SO_PEERCRED, SO_PROTOCOL, SO_TYPE,
} from "./constants.ts";
import { SocketOptions, type OptionSet } from "./options.ts";
import type { SockAddr, SocketName } from "./sockaddr.ts";
import type { UnixNames } from "./unix-names.ts";

export const S_IFSOCK = 0o140000;

/** Who makes a call: for SO_PEERCRED, SCM_CREDENTIALS and the mode of a bound path. */
export interface Caller {
  pid: number;
  uid: number;
  gid: number;
  umask: number;
}

export interface Credentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Completes a started operation: its result, or WOULD_BLOCK while the host works. */
export type Pending = () => number;

export interface Outgoing {
  data: Uint8Array;
  /** sendto's / msg_name's address, or null. */
  to: SockAddr | null;
  /** SCM_RIGHTS: open files to pass (unix only). */
  fds: OpenFile[];
  sender: Credentials;
  flags: number;
}

export interface Incoming {
  data: Uint8Array;
  /** What the message held: more than data.length when it was truncated (MSG_TRUNC). */
  length: number;
  /** The sender's address, or null (msg_namelen 0). */
  from: SocketName | null;
  /** Files passed with the data (SCM_RIGHTS); the receiver owns one reference to each. */
  fds: OpenFile[];
  /** The sender's credentials when the receiver asked for them (SO_PASSCRED). */
  creds: Credentials | null;
  /** msg_flags bits (MSG_TRUNC...). */
  flags: number;
}

/**
 * A getsockopt answer that writes `bytes` and reports another optlen
 * (NETLINK_LIST_MEMBERSHIPS writes what fits and reports the full size).
 */
export interface OptionValue {
  bytes: Uint8Array;
  optlen: number;
}

/** What sockets share across one VM. */
export interface SocketContext {
  /** Host I/O arrived: end an idle scheduler wait so parked threads retry. */
  wake(): void;
  /** The VM's unix-domain names. */
  readonly names: UnixNames<Socket>;
}

let nextIno = 1_000_000n;

/** Drops a reference held by a message in flight (SCM_RIGHTS), releasing the file when it was the last. */
export function dropFileRef(f: OpenFile): void {
  if (--f.refs === 0) f.release();
}

export abstract class Socket extends OpenFile {
  /** Moves whenever readiness may have changed (edge-triggered epoll). */
  protected version = 0;
  /** sk_err: an asynchronous error (positive errno) for SO_ERROR or the next call that reports it. */
  protected error = 0;
  /** RCV_SHUTDOWN / SEND_SHUTDOWN bits. */
  protected shut = 0;
  readonly options: SocketOptions;
  /** The credentials of the last caller, for plain read/write (which do not name one). */
  owner: Credentials;
  private readonly ino: bigint;
  private readonly ctimeNs = process.hrtime.bigint();

  constructor(
    readonly domain: number,
    readonly type: number,
    readonly protocol: number,
    options: OptionSet,
    owner: Credentials,
  ) {
    const ino = nextIno++;
    super(O_RDWR, `socket:[${ino}]`);
    this.ino = ino;
    this.options = new SocketOptions(options);
    this.owner = owner;
  }

  get nonblocking(): boolean {
    return (this.flags & O_NONBLOCK) !== 0;
  }

  /** An address argument for this family, or a negated errno. */
  abstract decodeAddress(raw: Uint8Array): SockAddr | number;
  abstract bind(addr: SockAddr, who: Caller): number | Pending;
  abstract listen(backlog: number, who: Caller): number | Pending;
  /** A connection taken from the listen queue, or -EAGAIN / WOULD_BLOCK / an errno. */
  abstract accept(nonblock: boolean): Socket | number;
  /** Called again with the same arguments while it returns WOULD_BLOCK (and after EINPROGRESS). */
  abstract connect(addr: SockAddr, nonblock: boolean, who: Caller): number;
  abstract send(msg: Outgoing, nonblock: boolean): number;
  abstract recv(max: number, flags: number, nonblock: boolean): Incoming | number;
  abstract shutdown(how: number): number;
  /** getsockname */
  abstract localAddress(): SocketName;
  /** getpeername: the address, or -ENOTCONN */
  abstract peerAddress(): SocketName | number;
  protected abstract get acceptsConnections(): boolean;
  /** A byte stream: no message boundaries (MSG_WAITALL applies), and its EPIPE raises SIGPIPE. */
  get isStream(): boolean {
    return this.type === SOCK_STREAM;
  }

  override get epipeRaisesSigpipe(): boolean {
    return this.isStream;
  }

  /** setsockopt; subclasses apply what concerns them and call this to store it. */
  setOption(level: number, name: number, raw: Uint8Array): number {
    if (level === SOL_SOCKET && name === SO_PASSCRED && this.domain !== AF_UNIX) return -ERRNO.EOPNOTSUPP;
    return this.options.set(level, name, raw);
  }

  /** getsockopt with an optlen of `maxLen`: the value's bytes or a negated errno. */
  getOption(level: number, name: number, _maxLen: number): Uint8Array | OptionValue | number {
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_TYPE: return int32(this.type);
        case SO_DOMAIN: return int32(this.domain);
        case SO_PROTOCOL: return int32(this.protocol);
        case SO_ACCEPTCONN: return int32(this.acceptsConnections ? 1 : 0);
        case SO_ERROR: return int32(this.takeError());
        case SO_PEERCRED: return peerCredentials(null);
      }
    }
    return this.options.get(level, name);
  }

  /** The pending error (positive errno, 0 if none), cleared. */
  takeError(): number {
    const e = this.error;
    if (e !== 0) {
      this.error = 0;
      this.changed();
    }
    return e;
  }

  protected changed(): void {
    this.version++;
  }

  override get readinessVersion(): number {
    return this.version;
  }

  read(buf: Uint8Array): number {
    const r = this.recv(buf.length, 0, this.nonblocking);
    if (typeof r === "number") return r;
    buf.set(r.data);
    for (const f of r.fds) dropFileRef(f);
    return r.data.length;
  }

  write(data: Uint8Array): number {
    return this.send({ data, to: null, fds: [], sender: this.owner, flags: 0 }, this.nonblocking);
  }

  stat(): FileStat {
    const t = this.ctimeNs;
    return {
      dev: 8n, ino: this.ino, mode: S_IFSOCK | 0o777, nlink: 1, uid: this.owner.uid, gid: this.owner.gid,
      rdev: 0n, size: 0n, blksize: 4096, blocks: 0n, atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: 0n,
    };
  }

  /** -EAGAIN when the caller does not wait, else WOULD_BLOCK. */
  protected wait(nonblock: boolean): number {
    return nonblock ? -ERRNO.EAGAIN : WOULD_BLOCK;
  }
}

/** struct ucred for SO_PEERCRED; no peer reads as pid 0, uid and gid -1. */
export function peerCredentials(c: Credentials | null): Uint8Array {
  const out = new Uint8Array(12);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, c?.pid ?? 0, true);
  dv.setInt32(4, c?.uid ?? -1, true);
  dv.setInt32(8, c?.gid ?? -1, true);
  return out;
}

export function int32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v, true);
  return out;
}

/** One buffer holding `chunks` in order. */
export function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].length === total) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
