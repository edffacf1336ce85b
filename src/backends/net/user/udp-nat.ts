/**
 * The gateway's UDP, IPv4 and IPv6 alike: one host socket (node:dgram, udp4
 * or udp6) per guest source address and port, which sends to whatever the
 * guest addresses and passes every reply back (a cone NAT, as slirp).
 * Datagrams to the gateway address go to the host's loopback
 * (host-target.ts), and replies from the host's loopback come back from the
 * gateway address. Sessions idle for a minute are closed, and the table is
 * bounded (the oldest session makes room).
 */
import { createSocket, type Socket } from "node:dgram";
import { isLoopback, parseIpv4, type IpAddress } from "./addresses.ts";
import { canonicalIpv6, LOOPBACK6 } from "./ipv6-address.ts";
import { hostTarget } from "./host-target.ts";
import type { UserNetConfig } from "./options.ts";

export const MAX_UDP_SESSIONS = 256;
export const UDP_IDLE_MS = 60_000;

export interface UdpNatLink {
  /** Sends `data` to the guest as a datagram from src:srcPort to dst:dstPort. */
  sendUdp(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array): void;
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
  send(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array): boolean {
    const target = hostTarget(dst, this.config);
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

  private session(guestIp: IpAddress, guestPort: number): Session {
    const key = `${guestIp}/${guestPort}`;
    const found = this.sessions.get(key);
    if (found !== undefined) return found;
    if (this.sessions.size >= MAX_UDP_SESSIONS) {
      const [oldestKey, oldest] = this.sessions.entries().next().value as [string, Session];
      this.closeSession(oldest);
      this.sessions.delete(oldestKey);
    }
    const socket = createSocket(typeof guestIp === "number" ? "udp4" : "udp6");
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
      const from = this.guestView(rinfo.address);
      if (from === null) return;
      session.idle.refresh();
      this.link.sendUdp(from, rinfo.port, guestIp, guestPort, msg);
    });
    this.sessions.set(key, session);
    return session;
  }

  /** A host peer's address as the guest sees it: the host's loopback is the gateway. */
  private guestView(address: string): IpAddress | null {
    const v4 = parseIpv4(address);
    if (v4 !== null) return isLoopback(v4) ? this.config.host : v4;
    const v6 = canonicalIpv6(address);
    return v6 === LOOPBACK6 ? this.config.ipv6Host : v6;
  }

  private closeSession(s: Session): void {
    clearTimeout(s.idle);
    s.socket.close();
  }
}
