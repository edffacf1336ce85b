/**
 * AF_UNIX sockets between guest processes, entirely inside the VM: what
 * the stream / seqpacket and datagram kinds share (unix-stream.ts,
 * unix-dgram.ts): names, the receive queue of messages carrying data,
 * passed files (SCM_RIGHTS) and the sender's credentials, and Linux's
 * send-buffer accounting.
 *
 * A message costs its sender what Linux charges for the skb (its
 * "truesize": data rounded to the allocator's sizes plus the sk_buff)
 * until the receiver takes it; a sender may queue more while that total
 * is below its SO_SNDBUF. So as many messages fit in a socketpair as on
 * Linux (278 one-byte datagrams with the default 212992).
 */
import { ERRNO } from "../abi.ts";
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM, type OpenFile } from "../files.ts";
import {
  AF_UNIX, RCV_SHUTDOWN, SHUTDOWN_MASK, SOL_SOCKET, SO_PASSCRED, SO_PEERCRED, SO_SNDBUF,
} from "./constants.ts";
import { UNIX_OPTIONS } from "./options.ts";
import { decodeUnix, type SockAddr, type UnixAddress } from "./sockaddr.ts";
import { Socket, dropFileRef, peerCredentials, type Caller, type Credentials, type Incoming, type OptionValue, type SocketContext } from "./socket.ts";

const POLLWRBAND = 0x200;

export interface UnixMessage {
  data: Uint8Array;
  /** Bytes already read (a stream reads a message in parts). */
  offset: number;
  /** Files passed with it (one in-flight reference each), or null. */
  fds: OpenFile[] | null;
  creds: Credentials;
  sender: UnixSocket;
  /** What it is charged to its sender's send buffer. */
  truesize: number;
}

const SKB_OVERHEAD = 256; // SKB_TRUESIZE's sk_buff part on 64-bit
const SHINFO = 320; // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
const PAGE = 4096;

function pow2(n: number): number {
  let p = 32;
  while (p < n) p *= 2;
  return p;
}

const align64 = (n: number) => (n + 63) & ~63;
const pageAlign = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** truesize of an skb with a `head`-byte linear part and `paged` bytes in page fragments. */
function truesize(head: number, paged: number): number {
  return SKB_OVERHEAD + pow2(align64(head) + SHINFO) + paged;
}

/** A datagram / seqpacket message (unix_dgram_sendmsg: linear up to SKB_MAX_ALLOC, then pages). */
export function datagramTruesize(len: number): number {
  const maxLinear = 4 * PAGE - SHINFO;
  if (len <= maxLinear) return truesize(len, 0);
  const paged = pageAlign(Math.min(len - maxLinear, 17 * PAGE));
  return truesize(len - paged, paged);
}

/** Most bytes one stream skb carries (SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ). */
export const STREAM_CHUNK = PAGE - SHINFO + 32768;

export function streamTruesize(len: number): number {
  const paged = Math.min(len, pageAlign(Math.max(0, len - (PAGE - SHINFO))));
  return truesize(len - paged, paged);
}

export abstract class UnixSocket extends Socket {
  /** The bound name; empty while unnamed. */
  name: Uint8Array = new Uint8Array(0);
  private nameKey: string | null = null;
  protected readonly rx: UnixMessage[] = [];
  protected rxBytes = 0;
  /** Send-buffer use: truesize of this socket's messages still queued at receivers. */
  wmem = 0;
  /** SO_PEERCRED: the peer's credentials at connect / socketpair time. */
  peerCreds: Credentials | null = null;
  /** Released (SOCK_DEAD). */
  closed = false;

  constructor(
    protected readonly ctx: SocketContext,
    type: number,
    owner: Credentials,
  ) {
    super(AF_UNIX, type, 0, UNIX_OPTIONS, owner);
  }

  decodeAddress(raw: Uint8Array): SockAddr | number {
    return decodeUnix(raw);
  }

  /** A path is created before the socket is found already bound (EADDRINUSE wins), as unix_bind_bsd does. */
  bind(addr: SockAddr, who: Caller): number {
    if (addr.family !== AF_UNIX) return -ERRNO.EINVAL;
    let name = addr.name;
    let key: string | number;
    if (name.length > 0 && name[0] !== 0) {
      const hostPath = addr.hostPath;
      if (hostPath === undefined) return -ERRNO.ENOENT;
      if (this.nameKey !== null) {
        const r = this.ctx.names.createFile(hostPath, 0o777 & ~who.umask);
        if (r === 0) this.ctx.names.removeFile(hostPath);
        return r < 0 ? r : -ERRNO.EINVAL;
      }
      key = this.ctx.names.bindPath(hostPath, 0o777 & ~who.umask, this);
    } else {
      if (this.nameKey !== null) return -ERRNO.EINVAL;
      if (name.length === 0) name = this.ctx.names.autobindName();
      key = this.ctx.names.bindAbstract(name, this);
    }
    if (typeof key === "number") return key;
    this.nameKey = key;
    this.name = name;
    return 0;
  }

  /** The socket a name refers to: -EINVAL for an unnamed address, -ENOENT / -ECONNREFUSED when none. */
  protected lookup(addr: SockAddr): UnixSocket | number {
    if (addr.family !== AF_UNIX || addr.name.length === 0) return -ERRNO.EINVAL;
    let found: Socket | number;
    if (addr.name[0] === 0) found = this.ctx.names.lookupAbstract(addr.name);
    else {
      const hostPath = addr.hostPath;
      if (hostPath === undefined) return -ERRNO.ENOENT;
      found = this.ctx.names.lookupPath(hostPath);
    }
    if (typeof found === "number") return found;
    return found instanceof UnixSocket && !found.closed ? found : -ERRNO.ECONNREFUSED;
  }

  localAddress(): UnixAddress {
    return { family: AF_UNIX, name: this.name };
  }

  get sendBuffer(): number {
    return this.options.int(SOL_SOCKET, SO_SNDBUF);
  }

  /** unix_writable: at most a quarter of the send buffer in flight. */
  protected get writable(): boolean {
    return this.wmem * 4 <= this.sendBuffer;
  }

  /** Queues a message from `sender` (who is charged for it). */
  enqueue(sender: UnixSocket, data: Uint8Array, fds: OpenFile[] | null, creds: Credentials, size: number): void {
    if (fds !== null) for (const f of fds) f.refs++;
    this.rx.push({ data, offset: 0, fds, creds, sender, truesize: size });
    this.rxBytes += data.length;
    sender.wmem += size;
    sender.changed();
    this.changed();
  }

  /** Takes the first message off the queue: its sender gets the room back. */
  protected dequeue(): void {
    const m = this.rx.shift()!;
    this.rxBytes -= m.data.length - m.offset;
    m.sender.wmem -= m.truesize;
    m.sender.changed();
    this.changed();
  }

  /** The receiver's part of a message's files and credentials. */
  protected attach(into: Incoming, m: UnixMessage, peek: boolean): void {
    if (this.options.int(SOL_SOCKET, SO_PASSCRED) !== 0 && into.creds === null) into.creds = m.creds;
    if (m.fds === null) return;
    if (peek) {
      for (const f of m.fds) f.refs++;
      into.fds.push(...m.fds);
    } else {
      into.fds.push(...m.fds);
      m.fds = null;
    }
  }

  /** Unix sockets have socket-level options only (no protocol level: EOPNOTSUPP). */
  override getOption(level: number, name: number, maxLen: number): Uint8Array | OptionValue | number {
    if (level !== SOL_SOCKET) return -ERRNO.EOPNOTSUPP;
    if (name === SO_PEERCRED) return peerCredentials(this.peerCreds);
    return super.getOption(level, name, maxLen);
  }

  override setOption(level: number, name: number, raw: Uint8Array): number {
    return level === SOL_SOCKET ? super.setOption(level, name, raw) : -ERRNO.EOPNOTSUPP;
  }

  override available(): number {
    return this.rxBytes;
  }

  /** unix_poll / unix_dgram_poll, less the connection checks the kinds add. */
  protected baseMask(): number {
    let mask = 0;
    if (this.error !== 0) mask |= POLLERR;
    if (this.shut === SHUTDOWN_MASK) mask |= POLLHUP;
    if (this.shut & RCV_SHUTDOWN) mask |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (this.rx.length > 0) mask |= POLLIN | POLLRDNORM;
    return mask;
  }

  protected writableMask(): number {
    return this.writable ? POLLOUT | POLLWRNORM | POLLWRBAND : 0;
  }

  /** sk_shutdown bits of its own; the connection-oriented kind mirrors them to its peer. */
  shutdown(how: number): number {
    this.shut |= how + 1;
    this.changed();
    return 0;
  }

  /** A peer's shutdown or close reached this side. */
  peerShut(bits: number, error: number): void {
    this.shut |= bits;
    if (error !== 0) this.error = error;
    this.changed();
  }

  /** The message queue held unread data when the socket went away (unix_release_sock's ECONNRESET). */
  protected get hadUnread(): boolean {
    return this.rx.length > 0;
  }

  /** Drops every queued message (and the files they carry). */
  protected purge(): void {
    while (this.rx.length > 0) {
      const fds = this.rx[0].fds;
      this.dequeue();
      if (fds !== null) for (const f of fds) dropFileRef(f);
    }
  }

  override release(): void {
    this.closed = true;
    if (this.nameKey !== null) this.ctx.names.unbind(this.nameKey, this);
    this.purge();
    this.changed();
  }
}
