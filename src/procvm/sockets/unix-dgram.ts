/**
 * AF_UNIX datagram sockets: messages addressed by name (sendto) or to a
 * connected peer, each read whole (truncated with MSG_TRUNC when the
 * buffer is short). A receiver that is not connected back to its sender
 * takes another message only while it holds at most net.unix.max_dgram_qlen
 * (10); the sender waits (EAGAIN) otherwise, as on Linux.
 */
import { ERRNO } from "../abi.ts";
import { AF_UNSPEC, MSG_OOB, MSG_PEEK, MSG_TRUNC, RCV_SHUTDOWN, SEND_SHUTDOWN, SOCK_DGRAM } from "./constants.ts";
import type { SockAddr, UnixAddress } from "./sockaddr.ts";
import type { Caller, Credentials, Incoming, Outgoing, SocketContext } from "./socket.ts";
import { UnixSocket, datagramTruesize } from "./unix-socket.ts";

/** net.unix.max_dgram_qlen's default. */
const MAX_DGRAM_QLEN = 10;

export class UnixDgram extends UnixSocket {
  /** connect()'s default destination (and the only sender it accepts), or null. */
  peer: UnixDgram | null = null;

  constructor(ctx: SocketContext, owner: Credentials) {
    super(ctx, SOCK_DGRAM, owner);
  }

  static pair(ctx: SocketContext, who: Credentials): [UnixDgram, UnixDgram] {
    const a = new UnixDgram(ctx, who);
    const b = new UnixDgram(ctx, who);
    a.peer = b;
    b.peer = a;
    a.peerCreds = b.peerCreds = who;
    return [a, b];
  }

  protected get acceptsConnections(): boolean {
    return false;
  }

  listen(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  accept(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  /** unix_may_send: a socket connected elsewhere takes nothing from us. */
  private mayReach(target: UnixDgram): boolean {
    return target.peer === null || target.peer === this;
  }

  connect(addr: SockAddr, _nonblock: boolean, _who: Caller): number {
    let target: UnixDgram | null = null;
    if (addr.family !== AF_UNSPEC) {
      const found = this.lookup(addr);
      if (typeof found === "number") return found;
      if (!(found instanceof UnixDgram)) return -ERRNO.EPROTOTYPE;
      if (!this.mayReach(found)) return -ERRNO.EPERM;
      target = found;
    }
    const old = this.peer;
    this.peer = target;
    if (old !== null && old !== target) this.disconnected(old);
    this.changed();
    return 0;
  }

  /**
   * unix_dgram_disconnected: leaving a peer that was connected back to us
   * breaks a two-way pipe: what it sent us is dropped and it gets ECONNRESET.
   */
  private disconnected(old: UnixDgram): void {
    if (old.closed || old.peer !== this) return;
    this.purge();
    old.peerShut(0, ERRNO.ECONNRESET);
  }

  peerAddress(): UnixAddress | number {
    return this.peer === null ? -ERRNO.ENOTCONN : this.peer.localAddress();
  }

  send(msg: Outgoing, nonblock: boolean): number {
    if (msg.flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (msg.to === null && this.peer === null) return -ERRNO.ENOTCONN;
    if (msg.to !== null && msg.to.family === AF_UNSPEC) return -ERRNO.EINVAL;
    if (msg.data.length > this.sendBuffer - 32) return -ERRNO.EMSGSIZE;
    if (this.wmem >= this.sendBuffer) return this.wait(nonblock);
    let target: UnixSocket | number = msg.to === null ? this.peer! : this.lookup(msg.to);
    if (typeof target === "number") return target;
    if (!(target instanceof UnixDgram)) return -ERRNO.EPROTOTYPE;
    if (!this.mayReach(target)) return -ERRNO.EPERM;
    if (target.closed) {
      // The connected peer went away: ECONNREFUSED once, then not connected.
      if (this.peer === target) this.peer = null;
      return -ERRNO.ECONNREFUSED;
    }
    if (this.shut & SEND_SHUTDOWN || target.shut & RCV_SHUTDOWN) return -ERRNO.EPIPE;
    if (target.peer !== this && target.rx.length > MAX_DGRAM_QLEN) return this.wait(nonblock);
    target.enqueue(this, msg.data, msg.fds.length > 0 ? msg.fds : null, msg.sender, datagramTruesize(msg.data.length));
    return msg.data.length;
  }

  recv(max: number, flags: number, nonblock: boolean): Incoming | number {
    if (flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (this.rx.length === 0) {
      if (this.error !== 0) return -this.takeError();
      if (this.shut & RCV_SHUTDOWN) return { data: new Uint8Array(0), length: 0, from: null, fds: [], creds: null, flags: 0 };
      return this.wait(nonblock);
    }
    const peek = (flags & MSG_PEEK) !== 0;
    const m = this.rx[0];
    const n = Math.min(m.data.length, max);
    const out: Incoming = {
      data: m.data.slice(0, n), length: m.data.length, fds: [], creds: null, flags: n < m.data.length ? MSG_TRUNC : 0,
      from: m.sender.name.length > 0 ? m.sender.localAddress() : null,
    };
    this.attach(out, m, peek);
    if (!peek) this.dequeue();
    return out;
  }

  /** FIONREAD: the size of the next datagram. */
  override available(): number {
    return this.rx.length > 0 ? this.rx[0].data.length : 0;
  }

  override pollMask(): number {
    let writable = this.writableMask();
    const peer = this.peer;
    if (peer !== null && peer.peer !== this && peer.rx.length > MAX_DGRAM_QLEN) writable = 0;
    return this.baseMask() | writable;
  }
}
