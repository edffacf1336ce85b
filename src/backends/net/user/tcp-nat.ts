/**
 * The gateway's TCP, IPv4 and IPv6 alike: a table of guest connections,
 * each bridged to a host socket. A guest SYN to the gateway address
 * connects to the host's loopback, to any other outside address connects
 * there (unless restrict=on; host-target.ts); the SYN-ACK goes out only once the host connect succeeded,
 * and a refused connect becomes a RST, so the guest sees what a real peer
 * would do. Port forwards enter through `accept`. Segments that belong to
 * no connection get a RST (RFC 9293 §3.10.7.1).
 */
import { connect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { ipPayloadOffset, type IpAddress, type Ipv4 } from "./addresses.ts";
import { ACK, RST, SYN, FIN, seqAdd, writeTcpSegment, type TcpSegment } from "./tcp-segment.ts";
import { TcpConnection, type TcpEndpoints, type TcpLink } from "./tcp-connection.ts";
import { hostTarget } from "./host-target.ts";
import { LOOPBACK6 } from "./ipv6-address.ts";
import { SocketHostSide, bridgeSocket } from "./host-socket.ts";
import type { UserNetConfig } from "./options.ts";

/** Connections open at once; SYNs beyond it are refused with a RST. */
export const MAX_TCP_CONNECTIONS = 512;
const FIRST_FORWARD_PORT = 49152;

export interface TcpNatLink {
  readonly out: Uint8Array;
  /** The OFFLOAD_* bits the guest's side takes now. */
  offloads(): number;
  sendTcp(src: IpAddress, dst: IpAddress, length: number, gsoSize?: number): void;
}

export class TcpNat {
  readonly connections = new Map<string, TcpConnection>();
  private nextForwardPort = FIRST_FORWARD_PORT;
  private readonly connLink: TcpLink;

  constructor(private readonly link: TcpNatLink, private readonly config: UserNetConfig) {
    this.connLink = {
      out: link.out,
      offloads: () => link.offloads(),
      sendTcp: (src, dst, length, gsoSize) => link.sendTcp(src, dst, length, gsoSize),
      closed: (conn) => {
        const key = keyOf(conn.ends);
        if (this.connections.get(key) === conn) this.connections.delete(key);
      },
    };
  }

  /** A segment from the guest (src/dst are its IP addresses, either version). */
  segment(frame: Uint8Array, src: IpAddress, dst: IpAddress, seg: TcpSegment): void {
    const ends: TcpEndpoints = { guestIp: src, guestPort: seg.srcPort, remoteIp: dst, remotePort: seg.dstPort };
    const key = keyOf(ends);
    const existing = this.connections.get(key);
    if (existing !== undefined) {
      if (existing.state !== "time-wait" || (seg.flags & (SYN | ACK | RST)) !== SYN) {
        existing.segment(frame, seg);
        return;
      }
      // The guest reuses the port of a connection in TIME-WAIT: end that one, start afresh.
      existing.abort();
      this.connections.delete(key);
    }
    if (seg.flags & RST) return;
    if ((seg.flags & (SYN | ACK)) !== SYN) {
      this.reset(ends, seg);
      return;
    }
    const target = hostTarget(dst, this.config);
    if (target === null || this.connections.size >= MAX_TCP_CONNECTIONS || this.deniedOnHost(target, seg.dstPort)) {
      this.reset(ends, seg);
      return;
    }
    const conn = TcpConnection.fromGuestSyn(this.connLink, ends, seg);
    this.connections.set(key, conn);
    const socket = connect({ host: target, port: seg.dstPort, allowHalfOpen: true });
    socket.once("connect", () => {
      if (conn.state === "closed") {
        socket.destroy();
        return;
      }
      bridgeSocket(socket, conn);
      conn.hostConnected(new SocketHostSide(socket));
    });
    socket.once("error", () => {
      if (conn.state === "connecting") conn.hostFailed();
    });
  }

  /** A host connection accepted by a port forward to guestIp:guestPort. */
  accept(socket: Socket, guestIp: Ipv4, guestPort: number): void {
    if (this.connections.size >= MAX_TCP_CONNECTIONS) {
      socket.destroy();
      return;
    }
    const ends: TcpEndpoints = { guestIp, guestPort, remoteIp: this.config.host, remotePort: this.forwardPort(guestIp, guestPort) };
    const conn = TcpConnection.toGuest(this.connLink, ends, new SocketHostSide(socket));
    this.connections.set(keyOf(ends), conn);
    bridgeSocket(socket, conn);
  }

  /** Drops every connection and its host socket. */
  close(): void {
    for (const conn of this.connections.values()) conn.abort();
    this.connections.clear();
  }

  /** hostdeny=: `port` on the host itself (loopback or one of its own addresses) is closed to the guest. */
  private deniedOnHost(target: string, port: number): boolean {
    if (!this.config.hostDenyPorts.includes(port)) return false;
    if (target === "127.0.0.1" || target === LOOPBACK6) return true;
    return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === target));
  }

  /** A source port on the gateway for a forwarded connection, unused towards that guest port. */
  private forwardPort(guestIp: Ipv4, guestPort: number): number {
    for (;;) {
      const port = this.nextForwardPort;
      this.nextForwardPort = port === 65535 ? FIRST_FORWARD_PORT : port + 1;
      if (!this.connections.has(keyOf({ guestIp, guestPort, remoteIp: this.config.host, remotePort: port }))) return port;
    }
  }

  /** The RST answering a segment that has no connection. */
  private reset(ends: TcpEndpoints, seg: TcpSegment): void {
    const out = this.link.out;
    const at = ipPayloadOffset(ends.guestIp);
    let n: number;
    if (seg.flags & ACK) {
      n = writeTcpSegment(out, at, ends.remoteIp, ends.remotePort, ends.guestIp, ends.guestPort, seg.ack, 0, RST, 0, 0, 0, -1, true);
    } else {
      const ack = seqAdd(seg.seq, seg.dataLength + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0));
      n = writeTcpSegment(out, at, ends.remoteIp, ends.remotePort, ends.guestIp, ends.guestPort, 0, ack, RST | ACK, 0, 0, 0, -1, true);
    }
    this.link.sendTcp(ends.remoteIp, ends.guestIp, n);
  }
}

function keyOf(e: TcpEndpoints): string {
  return `${e.guestIp}:${e.guestPort}>${e.remoteIp}:${e.remotePort}`;
}
