/**
 * AF_INET / AF_INET6 SOCK_DGRAM (UDP) sockets, carried by the host's UDP
 * through node:dgram.
 *
 * The host socket is made when the guest binds, connects or first sends
 * (an unbound socket is bound to the any address, port 0, first, as Linux
 * autobinds); binding and connecting wait for node's 'listening' /
 * 'connect'. Arriving datagrams queue up to SO_RCVBUF (each charged its
 * length plus an skb's overhead) and are dropped beyond it, as UDP does.
 * Sends are handed to node at once; SO_SNDBUF bounds what may be in
 * flight. connect() uses node's connect, so the host kernel filters
 * other senders and getsockname shows the local address the route chose.
 */
import * as dgram from "node:dgram";
import { ERRNO } from "../abi.ts";
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM, WOULD_BLOCK, hostErrno } from "../files.ts";
import {
  AF_INET, AF_INET6, AF_UNSPEC, IPPROTO_IP, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP, IPV6_UNICAST_HOPS,
  IPV6_V6ONLY, IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_MULTICAST_LOOP, IP_MULTICAST_TTL, IP_TTL, MSG_OOB, MSG_PEEK,
  MSG_TRUNC, RCV_SHUTDOWN, SHUTDOWN_MASK, SOCK_DGRAM, SOL_SOCKET, SO_BROADCAST, SO_RCVBUF, SO_REUSEADDR, SO_SNDBUF,
} from "./constants.ts";
import { UDP4_OPTIONS, UDP6_OPTIONS } from "./options.ts";
import { InetSocket } from "./inet-socket.ts";
import { anyAddress, ipText, isAny, textToInet, type InetAddress, type SockAddr } from "./sockaddr.ts";
import type { Caller, Credentials, Incoming, Outgoing, Pending, SocketContext } from "./socket.ts";

/** What a queued datagram costs beyond its bytes (roughly an skb's truesize overhead). */
const DATAGRAM_OVERHEAD = 768;
/** Largest UDP payload: 65535 less the IP (v4 only) and UDP headers. */
const MAX_PAYLOAD_V4 = 65507;
const MAX_PAYLOAD_V6 = 65527;

type State = "fresh" | "binding" | "bound" | "connecting" | "connected";

interface Datagram {
  data: Buffer;
  from: InetAddress;
}

function sameAddress(a: InetAddress, b: InetAddress): boolean {
  return a.port === b.port && a.ip.length === b.ip.length && a.ip.every((x, i) => x === b.ip[i]);
}

export class InetDgram extends InetSocket {
  private sock: dgram.Socket | null = null;
  private state: State = "fresh";
  /** The result of a bind or connect that the host finished, for the call waiting on it (errno, 0 = none). */
  private hostError = 0;
  private local: InetAddress | null = null;
  private remote: InetAddress | null = null;
  /** Where a connect in progress goes. */
  private connectingTo: InetAddress | null = null;
  private readonly rx: Datagram[] = [];
  private rxCost = 0;
  /** Bytes handed to node whose send has not completed. */
  private inflight = 0;

  constructor(ctx: SocketContext, domain: typeof AF_INET | typeof AF_INET6, protocol: number, owner: Credentials) {
    super(ctx, domain, SOCK_DGRAM, protocol, domain === AF_INET ? UDP4_OPTIONS : UDP6_OPTIONS, owner);
  }


  protected get acceptsConnections(): boolean {
    return false;
  }

  /** An address argument as this family's address; AF_UNSPEC reads as AF_INET (udp_sendmsg, inet_bind). */
  private inet(addr: SockAddr, anyOnly: boolean): InetAddress | number {
    if (addr.family === this.family) return addr as InetAddress;
    if (addr.family === AF_UNSPEC && this.family === AF_INET && addr.asInet !== null && (!anyOnly || isAny(addr.asInet.ip))) {
      return { ...addr.asInet, family: AF_INET };
    }
    return -ERRNO.EAFNOSUPPORT;
  }

  bind(addr: SockAddr, _who: Caller): number | Pending {
    const at = this.inet(addr, true);
    if (typeof at === "number") return at;
    if (this.state !== "fresh") return -ERRNO.EINVAL;
    this.open(at);
    return () => this.settled("binding");
  }

  /** The result of a host operation once the state has left `waiting`. */
  private settled(waiting: State): number {
    if (this.state === waiting) return WOULD_BLOCK;
    const err = this.hostError;
    this.hostError = 0;
    return err !== 0 ? -err : 0;
  }

  /** Makes the host socket and binds it to `at`. */
  private open(at: InetAddress): void {
    const ipv6Only = this.family === AF_INET6 && this.options.int(IPPROTO_IPV6, IPV6_V6ONLY) !== 0;
    const sock = dgram.createSocket({
      type: this.family === AF_INET ? "udp4" : "udp6", reuseAddr: this.options.int(SOL_SOCKET, SO_REUSEADDR) !== 0, ipv6Only,
    });
    this.sock = sock;
    this.state = "binding";
    sock.on("message", (data, rinfo) => {
      const cost = data.length + DATAGRAM_OVERHEAD;
      if (this.rxCost + cost > this.options.int(SOL_SOCKET, SO_RCVBUF) && this.rx.length > 0) return; // full: dropped
      this.rx.push({ data, from: textToInet(rinfo.address, rinfo.port, this.family) });
      this.rxCost += cost;
      this.hostEvent();
    });
    sock.on("error", (e) => {
      if (this.state === "binding") {
        this.state = "fresh";
        this.sock = null;
        this.hostError = -hostErrno(e);
      } else this.error = -hostErrno(e);
      this.hostEvent();
    });
    sock.on("listening", () => {
      this.state = "bound";
      this.learnLocal();
      this.applyOptions();
      this.hostEvent();
    });
    sock.unref();
    try {
      sock.bind({ address: ipText(at.ip), port: at.port, exclusive: true });
    } catch (e) {
      this.state = "fresh";
      this.sock = null;
      this.hostError = -hostErrno(e);
    }
  }

  private learnLocal(): void {
    try {
      const a = this.sock!.address();
      this.local = textToInet(a.address, a.port, this.family);
    } catch {
      // not bound after all
    }
  }

  connect(addr: SockAddr, _nonblock: boolean, _who: Caller): number {
    if (addr.family === AF_UNSPEC) {
      if (this.state === "connected") this.sock!.disconnect();
      if (this.state === "connected" || this.state === "connecting") this.state = "bound";
      this.remote = null;
      this.connectingTo = null;
      this.changed();
      return 0;
    }
    const to = this.inet(addr, false);
    if (typeof to === "number") return to;
    if (this.hostError !== 0) return this.settled("binding");
    switch (this.state) {
      case "fresh":
        this.open(anyAddress(this.family));
        return this.settled("binding");
      case "binding":
        return WOULD_BLOCK;
      case "connecting":
        if (this.connectingTo !== null && sameAddress(this.connectingTo, to)) return WOULD_BLOCK;
        break;
      case "connected":
        if (this.remote !== null && sameAddress(this.remote, to)) return 0;
        this.sock!.disconnect();
        this.state = "bound";
        break;
    }
    const sock = this.sock!;
    this.state = "connecting";
    this.connectingTo = to;
    try {
      // node calls back with the error when the connect fails (its typings omit the argument)
      const done = (err?: Error) => {
        if (this.sock !== sock || this.connectingTo !== to) return;
        this.connectingTo = null;
        if (err) {
          this.state = "bound";
          this.hostError = -hostErrno(err);
        } else {
          this.state = "connected";
          this.remote = to;
          this.learnLocal();
        }
        this.hostEvent();
      };
      sock.connect(to.port, ipText(to.ip), done as () => void);
    } catch (e) {
      this.state = "bound";
      this.connectingTo = null;
      return hostErrno(e);
    }
    return WOULD_BLOCK;
  }

  accept(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  listen(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  send(msg: Outgoing, nonblock: boolean): number {
    if (msg.flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    let to: InetAddress | null = null;
    if (msg.to !== null) {
      const t = this.inet(msg.to, false);
      if (typeof t === "number") return t;
      to = t;
    }
    if (to === null && this.state !== "connected") return -ERRNO.EDESTADDRREQ;
    if (msg.data.length > (this.family === AF_INET ? MAX_PAYLOAD_V4 : MAX_PAYLOAD_V6)) return -ERRNO.EMSGSIZE;
    if (this.hostError !== 0) return this.settled("binding");
    switch (this.state) {
      case "fresh":
        this.open(anyAddress(this.family));
        return this.settled("binding");
      case "binding":
      case "connecting":
        return WOULD_BLOCK;
    }
    if (this.error !== 0) return -this.takeError();
    if (this.inflight >= this.options.int(SOL_SOCKET, SO_SNDBUF)) return this.wait(nonblock);
    const sock = this.sock!;
    // node refuses an address on a connected socket: one naming the peer is sent as a plain send
    if (to !== null && this.state === "connected") {
      if (this.remote === null || !sameAddress(to, this.remote)) return -ERRNO.EISCONN;
      to = null;
    }
    const len = msg.data.length;
    this.inflight += len;
    const done = (err: Error | null) => {
      this.inflight -= len;
      if (err) this.error = -hostErrno(err);
      this.hostEvent();
    };
    try {
      if (to === null) sock.send(msg.data, done);
      else sock.send(msg.data, to.port, ipText(to.ip), done);
    } catch (e) {
      this.inflight -= len;
      return hostErrno(e);
    }
    return len;
  }

  recv(max: number, flags: number, nonblock: boolean): Incoming | number {
    if (flags & MSG_OOB) return -ERRNO.EINVAL;
    const d = this.rx[0];
    if (d === undefined) {
      if (this.error !== 0) return -this.takeError();
      if (this.shut & RCV_SHUTDOWN) return { data: new Uint8Array(0), length: 0, from: null, fds: [], creds: null, flags: 0 };
      return this.wait(nonblock);
    }
    const n = Math.min(d.data.length, max);
    const out: Incoming = {
      data: d.data.subarray(0, n), length: d.data.length, from: d.from, fds: [], creds: null,
      flags: n < d.data.length ? MSG_TRUNC : 0,
    };
    if ((flags & MSG_PEEK) === 0) {
      this.rx.shift();
      this.rxCost -= d.data.length + DATAGRAM_OVERHEAD;
      this.changed();
    }
    return out;
  }

  shutdown(how: number): number {
    this.shut |= how + 1;
    this.changed();
    return this.state === "connected" ? 0 : -ERRNO.ENOTCONN;
  }

  localAddress(): InetAddress {
    return this.local ?? anyAddress(this.family);
  }

  peerAddress(): InetAddress | number {
    return this.state === "connected" && this.remote !== null ? this.remote : -ERRNO.ENOTCONN;
  }

  /** FIONREAD: the size of the next datagram. */
  override available(): number {
    return this.rx.length > 0 ? this.rx[0].data.length : 0;
  }

  /** udp_poll / datagram_poll */
  override pollMask(): number {
    let mask = 0;
    if (this.error !== 0) mask |= POLLERR;
    if (this.shut & RCV_SHUTDOWN) mask |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (this.shut === SHUTDOWN_MASK) mask |= POLLHUP;
    if (this.rx.length > 0) mask |= POLLIN | POLLRDNORM;
    if (this.inflight < this.options.int(SOL_SOCKET, SO_SNDBUF)) mask |= POLLOUT | POLLWRNORM;
    return mask;
  }

  override setOption(level: number, name: number, raw: Uint8Array): number {
    if (level === IPPROTO_IP && (name === IP_ADD_MEMBERSHIP || name === IP_DROP_MEMBERSHIP)) return this.membership(name, raw);
    const r = super.setOption(level, name, raw);
    if (r === 0) this.applyOptions();
    return r;
  }

  /** IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP with a struct ip_mreq (or ip_mreqn). */
  private membership(name: number, raw: Uint8Array): number {
    if (raw.length < 8) return -ERRNO.EINVAL;
    if (this.sock === null || this.state === "binding") return -ERRNO.EINVAL;
    const group = ipText(raw.subarray(0, 4));
    const iface = isAny(raw.subarray(4, 8)) ? undefined : ipText(raw.subarray(4, 8));
    try {
      if (name === IP_ADD_MEMBERSHIP) this.sock.addMembership(group, iface);
      else this.sock.dropMembership(group, iface);
      return 0;
    } catch (e) {
      return hostErrno(e);
    }
  }

  /** What node can apply, once the host socket is bound. */
  private applyOptions(): void {
    const s = this.sock;
    if (s === null || this.state === "fresh" || this.state === "binding") return;
    const o = this.options;
    const v6 = this.family === AF_INET6;
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch {
        // the host refused a value Linux would keep: the guest still reads back what it set
      }
    };
    attempt(() => s.setBroadcast(o.int(SOL_SOCKET, SO_BROADCAST) !== 0));
    attempt(() => s.setTTL(v6 ? o.int(IPPROTO_IPV6, IPV6_UNICAST_HOPS) : o.int(IPPROTO_IP, IP_TTL)));
    attempt(() => s.setMulticastTTL(v6 ? o.int(IPPROTO_IPV6, IPV6_MULTICAST_HOPS) : o.int(IPPROTO_IP, IP_MULTICAST_TTL)));
    attempt(() => s.setMulticastLoopback((v6 ? o.int(IPPROTO_IPV6, IPV6_MULTICAST_LOOP) : o.int(IPPROTO_IP, IP_MULTICAST_LOOP)) !== 0));
    attempt(() => s.setRecvBufferSize(o.int(SOL_SOCKET, SO_RCVBUF) / 2));
    attempt(() => s.setSendBufferSize(o.int(SOL_SOCKET, SO_SNDBUF) / 2));
  }

  override release(): void {
    const s = this.sock;
    this.sock = null;
    this.state = "fresh";
    if (s === null) return;
    try {
      s.close();
    } catch {
      // already closed
    }
  }
}
