/**
 * AF_INET / AF_INET6 SOCK_STREAM (TCP) sockets, carried by the host's
 * TCP through node:net.
 *
 * Node has no synchronous sockets: the host socket's events ('data',
 * 'connect', 'connection', 'end', 'error', 'close', 'drain') fill this
 * socket's buffers and queues, bump its readiness version and wake the
 * scheduler (`ctx.wake`), and the guest's calls only look at that state —
 * a blocking call returns WOULD_BLOCK and is retried when something moved.
 *
 * bind() really binds: it listens on a node server at once (so EADDRINUSE
 * and port 0's real port are known when bind returns); listen() then only
 * starts handing its connections to accept(). Connections that arrive
 * between the two are reset (Linux would refuse them). A connect() after
 * bind() gives the reservation up and connects from the bound address.
 *
 * Received data is kept up to RX_LIMIT bytes; beyond that the host socket
 * is paused (TCP's own flow control then holds the sender) until the guest
 * has read half of it. Writes go to node's buffer while it holds less than
 * SEND_LIMIT bytes. Host sockets are unref'd: they never keep the host
 * process alive by themselves, and they are closed when the last guest fd
 * goes (with RST when unread data is left, as Linux does).
 */
import * as net from "node:net";
import { ERRNO } from "../abi.ts";
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM, WOULD_BLOCK, hostErrno } from "../files.ts";
import {
  AF_INET, AF_INET6, AF_UNSPEC, IPPROTO_IPV6, IPPROTO_TCP, IPV6_V6ONLY, MSG_OOB, MSG_PEEK, RCV_SHUTDOWN,
  SEND_SHUTDOWN, SHUTDOWN_MASK, SOCK_STREAM, SOL_SOCKET, SO_KEEPALIVE, SO_LINGER, TCP_KEEPIDLE, TCP_NODELAY,
} from "./constants.ts";
import { TCP4_OPTIONS, TCP6_OPTIONS } from "./options.ts";
import { InetSocket } from "./inet-socket.ts";
import { anyAddress, ipText, isAny, textToInet, type InetAddress, type SockAddr } from "./sockaddr.ts";
import { Socket, concat, type Caller, type Credentials, type Incoming, type Outgoing, type Pending, type SocketContext } from "./socket.ts";

/** Received bytes held before the host socket is paused. */
const RX_LIMIT = 256 << 10;
/** Bytes node may hold unsent before writes wait. */
const SEND_LIMIT = 256 << 10;
/** How long a closed connection may take to flush its last writes before it is dropped. */
const FLUSH_MS = 10_000;

type TcpState = "closed" | "binding" | "bound" | "listening" | "connecting" | "established";
/** sock->state as connect() sees it: a finished non-blocking connect reports 0 to one more connect call. */
type ConnectState = "unconnected" | "connecting" | "connected";

export class InetStream extends InetSocket {
  private server: net.Server | null = null;
  private conn: net.Socket | null = null;
  private tcp: TcpState = "closed";
  private connectState: ConnectState = "unconnected";
  /** bind's result while it waits for the host: an errno, 0 = none yet. */
  private bindError = 0;
  /** listen() bound implicitly: go straight to listening once bound. */
  private listenWhenBound = false;
  private bound: InetAddress | null = null;
  private local: InetAddress | null = null;
  private remote: InetAddress | null = null;
  private readonly rx: Buffer[] = [];
  private rxBytes = 0;
  private paused = false;
  /** An error a send already returned (node reports it again as an 'error' event). */
  private reported: Error | null = null;
  private readonly acceptQueue: InetStream[] = [];

  constructor(ctx: SocketContext, domain: typeof AF_INET | typeof AF_INET6, protocol: number, owner: Credentials) {
    super(ctx, domain, SOCK_STREAM, protocol, domain === AF_INET ? TCP4_OPTIONS : TCP6_OPTIONS, owner);
  }


  protected get acceptsConnections(): boolean {
    return this.tcp === "listening";
  }

  // ---- bind / listen / accept --------------------------------------------------

  bind(addr: SockAddr, _who: Caller): number | Pending {
    let at: InetAddress;
    if (addr.family === AF_UNSPEC) {
      // AF_UNSPEC passes as AF_INET with INADDR_ANY only (inet_bind's compatibility rule).
      if (this.family !== AF_INET || addr.asInet === null || !isAny(addr.asInet.ip)) return -ERRNO.EAFNOSUPPORT;
      at = { ...addr.asInet, family: AF_INET };
    } else if (addr.family === AF_INET || addr.family === AF_INET6) at = addr;
    else return -ERRNO.EAFNOSUPPORT;
    if (this.tcp !== "closed" || this.bound !== null) return -ERRNO.EINVAL;
    return this.reserve(at);
  }

  /** Binds a host server to `at`; the Pending completes with 0 or the bind's errno. */
  private reserve(at: InetAddress): Pending {
    const server = net.createServer({ allowHalfOpen: true });
    this.server = server;
    this.tcp = "binding";
    server.on("connection", (c) => this.onConnection(c));
    server.on("error", (e) => {
      if (this.tcp === "binding") {
        this.bindError = -hostErrno(e);
        this.tcp = "closed";
        this.server = null;
        this.listenWhenBound = false;
      }
      this.hostEvent();
    });
    server.unref();
    try {
      const ipv6Only = this.family === AF_INET6 && this.options.int(IPPROTO_IPV6, IPV6_V6ONLY) !== 0;
      server.listen({ host: ipText(at.ip), port: at.port, backlog: 4096, exclusive: true, ipv6Only }, () => {
        const a = server.address();
        this.bound = typeof a === "object" && a !== null ? textToInet(a.address, a.port, this.family) : at;
        this.tcp = this.listenWhenBound ? "listening" : "bound";
        this.hostEvent();
      });
    } catch (e) {
      this.bindError = -hostErrno(e);
      this.tcp = "closed";
      this.server = null;
    }
    return () => {
      if (this.tcp === "binding") return WOULD_BLOCK;
      const err = this.bindError;
      this.bindError = 0;
      return err !== 0 ? -err : 0;
    };
  }

  listen(backlog: number, _who: Caller): number | Pending {
    if (this.connectState !== "unconnected" || this.tcp === "connecting" || this.tcp === "established") return -ERRNO.EINVAL;
    void backlog; // node accepts every connection; the guest's backlog is not enforced
    switch (this.tcp) {
      case "listening":
        return 0;
      case "bound":
        this.tcp = "listening";
        this.changed();
        return 0;
      case "closed":
        this.listenWhenBound = true;
        return this.reserve(anyAddress(this.family));
      default:
        return -ERRNO.EINVAL;
    }
  }

  private onConnection(c: net.Socket): void {
    if (this.tcp !== "listening") {
      c.resetAndDestroy();
      return;
    }
    const s = new InetStream(this.ctx, this.family, this.protocol, this.owner);
    s.options.copyFrom(this.options);
    s.adopt(c);
    this.acceptQueue.push(s);
    this.hostEvent();
  }

  accept(nonblock: boolean): Socket | number {
    if (this.tcp !== "listening") return -ERRNO.EINVAL;
    const next = this.acceptQueue.shift();
    if (next === undefined) return this.wait(nonblock);
    this.changed();
    return next;
  }

  // ---- connections -------------------------------------------------------------

  /** Takes over a connected host socket (accepted, or our own once connected). */
  private adopt(c: net.Socket): void {
    this.conn = c;
    this.tcp = "established";
    this.connectState = "connected";
    this.wire(c);
    this.learnAddresses(c);
    this.applyOptions();
  }

  private learnAddresses(c: net.Socket): void {
    this.local = textToInet(c.localAddress, c.localPort, this.family);
    this.remote = textToInet(c.remoteAddress, c.remotePort, this.family);
  }

  private wire(c: net.Socket): void {
    c.unref();
    c.on("data", (d: Buffer) => {
      this.rx.push(d);
      this.rxBytes += d.length;
      if (this.rxBytes >= RX_LIMIT && !this.paused) {
        this.paused = true;
        c.pause();
      }
      this.hostEvent();
    });
    c.on("end", () => {
      this.shut |= RCV_SHUTDOWN;
      this.hostEvent();
    });
    c.on("error", (e) => {
      if (e !== this.reported) this.error = -hostErrno(e);
      this.shut = SHUTDOWN_MASK;
      if (this.tcp === "connecting") this.tcp = "closed";
      this.hostEvent();
    });
    c.on("drain", () => this.hostEvent());
    c.on("close", () => this.hostEvent());
  }

  private applyOptions(): void {
    const c = this.conn;
    if (c === null) return;
    c.setNoDelay(this.options.int(IPPROTO_TCP, TCP_NODELAY) !== 0);
    c.setKeepAlive(this.options.int(SOL_SOCKET, SO_KEEPALIVE) !== 0, this.options.int(IPPROTO_TCP, TCP_KEEPIDLE) * 1000);
  }

  override setOption(level: number, name: number, raw: Uint8Array): number {
    const r = super.setOption(level, name, raw);
    if (r === 0 && this.tcp === "established") this.applyOptions();
    return r;
  }

  connect(addr: SockAddr, nonblock: boolean, _who: Caller): number {
    if (addr.family === AF_UNSPEC) return this.disconnect();
    if (addr.family !== this.family) return -ERRNO.EAFNOSUPPORT;
    switch (this.connectState) {
      case "connected":
        return -ERRNO.EISCONN;
      case "connecting":
        if (this.tcp === "connecting") return nonblock ? -ERRNO.EALREADY : WOULD_BLOCK;
        if (this.tcp === "established") {
          this.connectState = "connected";
          return 0;
        }
        // the connection failed: reported once, then the socket starts over (tcp_disconnect)
        this.connectState = "unconnected";
        this.shut = 0;
        this.changed();
        return -(this.takeError() || ERRNO.ECONNABORTED);
    }
    if (this.tcp === "listening" || this.tcp === "established") return -ERRNO.EISCONN;
    const from = this.bound;
    if (this.server !== null) {
      this.server.close();
      this.server = null;
    }
    const c = new net.Socket({ allowHalfOpen: true });
    this.conn = c;
    this.tcp = "connecting";
    this.connectState = "connecting";
    this.shut = 0;
    this.error = 0;
    this.wire(c);
    c.once("connect", () => {
      if (this.conn !== c) return;
      this.tcp = "established";
      this.learnAddresses(c);
      this.applyOptions();
      this.hostEvent();
    });
    try {
      c.connect({
        host: ipText(addr.ip), port: addr.port, family: this.family === AF_INET ? 4 : 6,
        localAddress: from !== null ? ipText(from.ip) : undefined, localPort: from !== null && from.port !== 0 ? from.port : undefined,
      });
    } catch (e) {
      this.conn = null;
      this.tcp = "closed";
      this.connectState = "unconnected";
      return hostErrno(e);
    }
    this.changed();
    return nonblock ? -ERRNO.EINPROGRESS : WOULD_BLOCK;
  }

  /** connect(AF_UNSPEC): drop the connection (with RST) and start over. */
  private disconnect(): number {
    this.conn?.resetAndDestroy();
    this.conn = null;
    if (this.tcp === "connecting" || this.tcp === "established") this.tcp = "closed";
    this.connectState = "unconnected";
    this.shut = 0;
    this.rx.length = 0;
    this.rxBytes = 0;
    this.remote = null;
    this.changed();
    return 0;
  }

  // ---- data --------------------------------------------------------------------

  send(msg: Outgoing, nonblock: boolean): number {
    if (this.tcp === "connecting") return this.wait(nonblock);
    const c = this.conn;
    if (this.tcp !== "established" || c === null || this.error !== 0 || (this.shut & SEND_SHUTDOWN) !== 0 || c.destroyed) {
      return -(this.takeError() || ERRNO.EPIPE);
    }
    if (msg.flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (c.writableLength >= SEND_LIMIT) return this.wait(nonblock);
    if (msg.data.length === 0) return 0;
    c.write(msg.data);
    // A write the host refused at once (EPIPE, ECONNRESET) is known now; node emits its 'error' later.
    const failed = c.errored;
    if (failed !== null) {
      this.reported = failed;
      this.shut = SHUTDOWN_MASK;
      this.changed();
      return hostErrno(failed);
    }
    return msg.data.length;
  }

  recv(max: number, flags: number, nonblock: boolean): Incoming | number {
    if (this.tcp === "listening" || this.tcp === "binding" || this.tcp === "bound") return -ERRNO.ENOTCONN;
    if (flags & MSG_OOB) return -ERRNO.EINVAL;
    if (this.rxBytes === 0) {
      if (this.error !== 0) return -this.takeError();
      if (this.shut & RCV_SHUTDOWN) return { data: new Uint8Array(0), length: 0, from: null, fds: [], creds: null, flags: 0 };
      if (this.tcp === "closed") return -ERRNO.ENOTCONN;
      return this.wait(nonblock);
    }
    const data = this.take(max, (flags & MSG_PEEK) !== 0);
    return { data, length: data.length, from: null, fds: [], creds: null, flags: 0 };
  }

  private take(max: number, peek: boolean): Uint8Array {
    const chunks: Uint8Array[] = [];
    let got = 0;
    for (let i = 0; got < max && i < this.rx.length; i++) {
      const b = this.rx[i];
      const n = Math.min(b.length, max - got);
      chunks.push(b.subarray(0, n));
      got += n;
    }
    const out = concat(chunks, got);
    if (peek) return out;
    let left = got;
    while (left > 0) {
      const b = this.rx[0];
      if (b.length <= left) {
        this.rx.shift();
        left -= b.length;
      } else {
        this.rx[0] = b.subarray(left);
        left = 0;
      }
    }
    this.rxBytes -= got;
    if (this.paused && this.rxBytes < RX_LIMIT / 2) {
      this.paused = false;
      this.conn?.resume();
    }
    this.changed();
    return out;
  }

  shutdown(how: number): number {
    const bits = how + 1;
    switch (this.tcp) {
      case "listening":
        if ((bits & RCV_SHUTDOWN) === 0) return 0;
        this.stopListening();
        return 0;
      case "connecting":
        this.disconnect();
        return 0;
      case "established":
        if (bits & SEND_SHUTDOWN && (this.shut & SEND_SHUTDOWN) === 0 && this.conn !== null && !this.conn.destroyed) this.conn.end();
        this.shut |= bits;
        this.changed();
        return 0;
      default:
        this.shut |= bits;
        this.changed();
        return -ERRNO.ENOTCONN;
    }
  }

  private stopListening(): void {
    this.server?.close();
    this.server = null;
    for (const s of this.acceptQueue.splice(0)) s.conn?.resetAndDestroy();
    this.tcp = "closed";
    this.bound = null;
    this.changed();
  }

  // ---- names, readiness, close -------------------------------------------------

  localAddress(): InetAddress {
    return this.local ?? this.bound ?? anyAddress(this.family);
  }

  peerAddress(): InetAddress | number {
    return this.tcp === "established" && this.remote !== null ? this.remote : -ERRNO.ENOTCONN;
  }

  override available(): number {
    return this.rxBytes;
  }

  /** tcp_poll */
  override pollMask(): number {
    if (this.tcp === "listening") return this.acceptQueue.length > 0 ? POLLIN | POLLRDNORM : 0;
    let mask = 0;
    const closed = this.tcp === "closed" || this.tcp === "binding" || this.tcp === "bound";
    if (this.shut === SHUTDOWN_MASK || closed) mask |= POLLHUP;
    if (this.shut & RCV_SHUTDOWN) mask |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (this.tcp !== "connecting") {
      if (this.rxBytes > 0) mask |= POLLIN | POLLRDNORM;
      const c = this.conn;
      if ((this.shut & SEND_SHUTDOWN) !== 0 || c === null || c.writableLength < SEND_LIMIT) mask |= POLLOUT | POLLWRNORM;
    }
    if (this.error !== 0) mask |= POLLERR;
    return mask;
  }

  /** SO_LINGER on with a zero timeout: close() aborts the connection (RST). */
  private get lingerZero(): boolean {
    const v = this.options.get(SOL_SOCKET, SO_LINGER);
    if (typeof v === "number") return false;
    const dv = new DataView(v.buffer);
    return dv.getInt32(0, true) !== 0 && dv.getInt32(4, true) === 0;
  }

  override release(): void {
    if (this.server !== null) this.stopListening();
    const c = this.conn;
    this.conn = null;
    if (c === null || c.destroyed) return;
    if (this.rxBytes > 0 || this.lingerZero) {
      c.resetAndDestroy();
      return;
    }
    c.end(() => c.destroy());
    setTimeout(() => c.destroy(), FLUSH_MS).unref();
  }
}
