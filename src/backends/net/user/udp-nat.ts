/**
 * The gateway's UDP: one host socket (node:dgram) per guest source port,
 * which sends to whatever the guest addresses and passes every reply back
 * (a cone NAT, as slirp). Datagrams to the gateway address go to the host's
 * 127.0.0.1, and replies from the host's loopback come back from the
 * gateway address. Sessions idle for a minute are closed, and the table is
 * bounded (the oldest session makes room).
 */
import { createSocket, type Socket } from "node:dgram";
import { formatIpv4, isLoopback, parseIpv4, prefixMask, type Ipv4 } from "./addresses.ts";
import type { UserNetConfig } from "./options.ts";

export const MAX_UDP_SESSIONS = 256;
export const UDP_IDLE_MS = 60_000;

export interface UdpNatLink {
  /** Sends `data` to the guest as a datagram from src:srcPort to dst:dstPort. */
  sendUdp(src: Ipv4, srcPort: number, dst: Ipv4, dstPort: number, data: Uint8Array): void;
}

interface Session {
  socket: Socket;
  idle: ReturnType<typeof setTimeout>;
}

export class UdpNat {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly link: UdpNatLink, private readonly config: UserNetConfig) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** A datagram from the guest to an address outside; false if it was dropped. */
  send(src: Ipv4, srcPort: number, dst: Ipv4, dstPort: number, data: Uint8Array): boolean {
    const target = this.targetOf(dst);
    if (target === null || dstPort === 0) return false;
    const session = this.session(src, srcPort);
    session.idle.refresh();
    session.socket.send(Buffer.from(data), dstPort, target);
    return true;
  }

  close(): void {
    for (const s of this.sessions.values()) this.closeSession(s);
    this.sessions.clear();
  }

  private targetOf(dst: Ipv4): string | null {
    const c = this.config;
    if (dst === c.host) return "127.0.0.1";
    if (c.restrict || ((dst & prefixMask(c.prefix)) >>> 0) === c.network) return null;
    const first = dst >>> 24;
    if (first === 0 || first === 127 || first >= 224) return null;
    return formatIpv4(dst);
  }

  private session(guestIp: Ipv4, guestPort: number): Session {
    const key = `${guestIp}:${guestPort}`;
    const found = this.sessions.get(key);
    if (found !== undefined) return found;
    if (this.sessions.size >= MAX_UDP_SESSIONS) {
      const [oldestKey, oldest] = this.sessions.entries().next().value as [string, Session];
      this.closeSession(oldest);
      this.sessions.delete(oldestKey);
    }
    const socket = createSocket("udp4");
    const session: Session = {
      socket,
      idle: setTimeout(() => {
        this.closeSession(session);
        this.sessions.delete(key);
      }, UDP_IDLE_MS),
    };
    socket.on("error", () => {
      // e.g. ICMP port unreachable surfacing as ECONNREFUSED: the guest sees silence, as on a lossy net
    });
    socket.on("message", (msg, rinfo) => {
      const from = parseIpv4(rinfo.address);
      if (from === null) return;
      session.idle.refresh();
      this.link.sendUdp(isLoopback(from) ? this.config.host : from, rinfo.port, guestIp, guestPort, msg);
    });
    this.sessions.set(key, session);
    return session;
  }

  private closeSession(s: Session): void {
    clearTimeout(s.idle);
    s.socket.close();
  }
}
