/**
 * Connection-oriented AF_UNIX sockets: SOCK_STREAM (a byte stream) and
 * SOCK_SEQPACKET (the same connections, with message boundaries).
 *
 * As in Linux, connect() completes at once: it makes the server's end of
 * the connection (an "embryo") and queues it on the listener, where
 * accept() picks it up; the client may write before that. Closing one end
 * shuts the other down completely (reads drain, then EOF; writes EPIPE),
 * with ECONNRESET first when the closed end left data unread.
 */
import { ERRNO } from "../abi.ts";
import { POLLHUP, POLLIN, POLLRDNORM, type OpenFile } from "../files.ts";
import {
  AF_UNSPEC, MSG_OOB, MSG_PEEK, MSG_TRUNC, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, SOCK_SEQPACKET, SOCK_STREAM,
  SOL_SOCKET, SO_PASSCRED,
} from "./constants.ts";
import type { SockAddr, UnixAddress } from "./sockaddr.ts";
import { concat, type Caller, type Credentials, type Incoming, type Outgoing, type SocketContext } from "./socket.ts";
import { STREAM_CHUNK, UnixSocket, datagramTruesize, streamTruesize, type UnixMessage } from "./unix-socket.ts";

type State = "unconnected" | "listening" | "connected";

function sameCreds(a: Credentials, b: Credentials): boolean {
  return a.pid === b.pid && a.uid === b.uid && a.gid === b.gid;
}

export class UnixStream extends UnixSocket {
  state: State = "unconnected";
  peer: UnixStream | null = null;
  /** Connections made to this listener, not yet accepted. */
  private readonly backlog: UnixStream[] = [];
  private maxBacklog = 0;
  /** SO_PEERCRED of the connections made to this listener: who called listen(). */
  private listenerCreds: Credentials | null = null;

  constructor(ctx: SocketContext, type: typeof SOCK_STREAM | typeof SOCK_SEQPACKET, owner: Credentials) {
    super(ctx, type, owner);
  }

  /** socketpair: two connected ends, each with the creator as peer credentials. */
  static pair(ctx: SocketContext, type: typeof SOCK_STREAM | typeof SOCK_SEQPACKET, who: Credentials): [UnixStream, UnixStream] {
    const a = new UnixStream(ctx, type, who);
    const b = new UnixStream(ctx, type, who);
    a.connectTo(b, who);
    b.connectTo(a, who);
    return [a, b];
  }

  private connectTo(peer: UnixStream, creds: Credentials): void {
    this.peer = peer;
    this.state = "connected";
    this.peerCreds = creds;
    this.changed();
  }

  protected get acceptsConnections(): boolean {
    return this.state === "listening";
  }

  listen(backlog: number, who: Caller): number {
    if (this.name.length === 0) return -ERRNO.EINVAL;
    if (this.state === "connected") return -ERRNO.EINVAL;
    this.maxBacklog = backlog;
    if (this.state !== "listening") {
      this.state = "listening";
      this.listenerCreds = { pid: who.pid, uid: who.uid, gid: who.gid };
    }
    this.changed();
    return 0;
  }

  connect(addr: SockAddr, nonblock: boolean, who: Caller): number {
    if (addr.family === AF_UNSPEC) return -ERRNO.EINVAL;
    const target = this.lookup(addr);
    if (typeof target === "number") return target;
    if (!(target instanceof UnixStream) || target.type !== this.type) return -ERRNO.EPROTOTYPE;
    if (target.state !== "listening" || (target.shut & RCV_SHUTDOWN) !== 0) return -ERRNO.ECONNREFUSED;
    if (target.backlog.length > target.maxBacklog) return this.wait(nonblock);
    if (this.state === "connected") return -ERRNO.EISCONN;
    if (this.state !== "unconnected") return -ERRNO.EINVAL;
    const creds = { pid: who.pid, uid: who.uid, gid: who.gid };
    const embryo = new UnixStream(this.ctx, this.type as typeof SOCK_STREAM, target.owner);
    embryo.name = target.name;
    embryo.connectTo(this, creds);
    this.connectTo(embryo, target.listenerCreds ?? creds);
    target.backlog.push(embryo);
    target.changed();
    return 0;
  }

  accept(nonblock: boolean): UnixStream | number {
    if (this.state !== "listening") return -ERRNO.EINVAL;
    const next = this.backlog.shift();
    if (next === undefined) return this.wait(nonblock);
    this.changed();
    return next;
  }

  peerAddress(): UnixAddress | number {
    if (this.peer === null) return -ERRNO.ENOTCONN;
    return this.peer.localAddress();
  }

  send(msg: Outgoing, nonblock: boolean): number {
    if (msg.flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (this.type === SOCK_SEQPACKET) return this.sendPacket(msg, nonblock);
    if (msg.to !== null) return this.state === "connected" ? -ERRNO.EISCONN : -ERRNO.EOPNOTSUPP;
    const peer = this.peer;
    if (peer === null) return -ERRNO.ENOTCONN;
    if (this.shut & SEND_SHUTDOWN) return -ERRNO.EPIPE;
    if (peer.closed || (peer.shut & RCV_SHUTDOWN) !== 0) return -ERRNO.EPIPE;
    const data = msg.data;
    const limit = Math.min(STREAM_CHUNK, (this.sendBuffer >> 1) - 64);
    let sent = 0;
    let fds: OpenFile[] | null = msg.fds.length > 0 ? msg.fds : null;
    while (sent < data.length) {
      // Linux waits for room before each chunk; a blocking writer here waits only before the first and then queues all.
      if (this.wmem >= this.sendBuffer && (sent === 0 || nonblock)) {
        if (sent > 0) break;
        return this.wait(nonblock);
      }
      const n = Math.min(data.length - sent, limit);
      peer.enqueue(this, data.slice(sent, sent + n), fds, msg.sender, streamTruesize(n));
      fds = null;
      sent += n;
    }
    return sent;
  }

  private sendPacket(msg: Outgoing, nonblock: boolean): number {
    const peer = this.peer;
    if (this.state !== "connected" || peer === null) return -ERRNO.ENOTCONN;
    if (this.shut & SEND_SHUTDOWN) return -ERRNO.EPIPE;
    if (msg.data.length > this.sendBuffer - 32) return -ERRNO.EMSGSIZE;
    if (this.wmem >= this.sendBuffer) return this.wait(nonblock);
    if (peer.closed || (peer.shut & RCV_SHUTDOWN) !== 0) return -ERRNO.EPIPE;
    peer.enqueue(this, msg.data, msg.fds.length > 0 ? msg.fds : null, msg.sender, datagramTruesize(msg.data.length));
    return msg.data.length;
  }

  recv(max: number, flags: number, nonblock: boolean): Incoming | number {
    if (flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (this.state !== "connected") return this.type === SOCK_SEQPACKET ? -ERRNO.ENOTCONN : -ERRNO.EINVAL;
    if (this.rx.length === 0) {
      if (this.error !== 0) return -this.takeError();
      if (this.shut & RCV_SHUTDOWN) return { data: new Uint8Array(0), length: 0, from: null, fds: [], creds: null, flags: 0 };
      return this.wait(nonblock);
    }
    return this.type === SOCK_SEQPACKET ? this.recvPacket(max, flags) : this.recvStream(max, flags);
  }

  /** unix_stream_read_generic: reads across messages, stopping after one that carried files. */
  private recvStream(max: number, flags: number): Incoming {
    const peek = (flags & MSG_PEEK) !== 0;
    const passcred = this.options.int(SOL_SOCKET, SO_PASSCRED) !== 0;
    const out: Incoming = { data: new Uint8Array(0), length: 0, from: null, fds: [], creds: null, flags: 0 };
    const chunks: Uint8Array[] = [];
    let copied = 0;
    let first: UnixMessage | null = null;
    for (let i = 0; copied < max && i < this.rx.length; ) {
      const m = this.rx[i];
      if (first !== null && passcred && !sameCreds(first.creds, m.creds)) break;
      first ??= m;
      const n = Math.min(m.data.length - m.offset, max - copied);
      chunks.push(m.data.slice(m.offset, m.offset + n));
      copied += n;
      const hadFds = m.fds !== null;
      this.attach(out, m, peek);
      if (peek) {
        if (hadFds) break;
        i++;
        continue;
      }
      m.offset += n;
      this.rxBytes -= n;
      if (m.offset < m.data.length) break;
      this.dequeue();
      if (hadFds) break;
    }
    if (first !== null) out.from = first.sender.name.length > 0 ? first.sender.localAddress() : null;
    out.data = chunks.length === 1 ? chunks[0] : concat(chunks, copied);
    out.length = copied;
    if (!peek) this.changed();
    return out;
  }

  private recvPacket(max: number, flags: number): Incoming {
    const peek = (flags & MSG_PEEK) !== 0;
    const m = this.rx[0];
    const n = Math.min(m.data.length, max);
    const out: Incoming = {
      data: m.data.slice(0, n), length: m.data.length, from: null, fds: [], creds: null,
      flags: n < m.data.length ? MSG_TRUNC : 0,
    };
    this.attach(out, m, peek);
    if (m.sender.name.length > 0) out.from = m.sender.localAddress();
    if (!peek) this.dequeue();
    return out;
  }

  override shutdown(how: number): number {
    const bits = how + 1;
    super.shutdown(how);
    const peer = this.peer;
    if (peer !== null && !peer.closed) {
      const mirrored = (bits & RCV_SHUTDOWN ? SEND_SHUTDOWN : 0) | (bits & SEND_SHUTDOWN ? RCV_SHUTDOWN : 0);
      peer.peerShut(mirrored, 0);
    }
    return 0;
  }

  /** unix_poll; a listener is never writable (Linux 6.10 on). */
  override pollMask(): number {
    let mask = this.baseMask();
    if (this.state === "listening") return mask | (this.backlog.length > 0 ? POLLIN | POLLRDNORM : 0);
    if (this.state === "unconnected") mask |= POLLHUP;
    return mask | this.writableMask();
  }

  override release(): void {
    const unread = this.hadUnread;
    super.release();
    for (const embryo of this.backlog.splice(0)) embryo.dropEmbryo();
    const peer = this.peer;
    if (peer !== null && !peer.closed) peer.peerShut(SHUTDOWN_MASK, unread ? ERRNO.ECONNRESET : 0);
  }

  /** An unaccepted connection whose listener went away: its client sees a reset. */
  private dropEmbryo(): void {
    super.release();
    this.peer?.peerShut(SHUTDOWN_MASK, ERRNO.ECONNRESET);
  }
}
