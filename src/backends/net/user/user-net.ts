/**
 * `--net user`: user-mode networking as QEMU's slirp does it, with no root
 * and no host configuration. The guest sees a gateway (10.0.2.2, which also
 * stands for the host's 127.0.0.1), a DNS server (10.0.2.3) and a DHCP
 * server handing out 10.0.2.15; its TCP and UDP leave through host sockets.
 *
 * This file demultiplexes frames to the protocol modules and frames their
 * replies. Replies are built in one scratch buffer (the receiver copies
 * them, per the EthernetBackend contract). A frame that breaks a parser is
 * dropped and counted; no exception reaches the device.
 */
import type { EthernetBackend } from "../ethernet-backend.ts";
import { BROADCAST_MAC, gatewayMac, prefixMask, type Ipv4 } from "./addresses.ts";
import { isArpRequest, parseArp, writeArpReply } from "./arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER, etherType, sourceMac, writeEthernetHeader } from "./ethernet.ts";
import { IPV4_HEADER, PROTO_ICMP, PROTO_TCP, PROTO_UDP, parseIpv4Packet, writeIpv4Header } from "./ipv4.ts";
import { isEchoRequest, writeEchoReply } from "./icmp.ts";
import { UDP_HEADER, parseUdp, writeUdpHeader } from "./udp.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer } from "./dhcp.ts";
import { DNS_PORT, DnsForwarder } from "./dns.ts";
import { parseTcp } from "./tcp-segment.ts";
import { TcpNat } from "./tcp-nat.ts";
import { UdpNat } from "./udp-nat.ts";
import { PortForwards, type BoundForward } from "./port-forwards.ts";
import { defaultUserNetConfig, type UserNetConfig } from "./options.ts";

const MTU = 1500;
const MAX_GUEST_ADDRESSES = 1024;
const UDP_OFFSET = ETH_HEADER + IPV4_HEADER;

export interface UserNetOptions {
  /** Resolver for the DNS server (tests); default: the host's getaddrinfo. */
  resolve?: (name: string, family: 4 | 6) => Promise<string[] | null>;
}

export class UserNetBackend implements EthernetBackend {
  readonly config: UserNetConfig;
  readonly stats = {
    framesIn: 0,
    framesOut: 0,
    dropped: 0,
    /** Exceptions caught while handling a frame: a bug if ever non-zero. */
    internalErrors: 0,
  };
  readonly tcp: TcpNat;
  readonly udp: UdpNat;
  readonly dhcp: DhcpServer;
  private readonly dns: DnsForwarder;
  private readonly forwards: PortForwards;
  private readonly started: Promise<void>;
  private receiver: ((frame: Uint8Array) => void) | null = null;
  private readonly out = new Uint8Array(65536 + 64);
  private readonly ourMac: Uint8Array;
  /** The MAC of the last guest frame: where frames go when their address has no entry in `macOf`. */
  private guestMac: Uint8Array | null = null;
  /** Guest address → MAC, for several guests behind a switch (bounded: cleared when full). */
  private readonly macOf = new Map<Ipv4, Uint8Array>();
  private ipId = 0;
  private closed = false;

  constructor(config: UserNetConfig = defaultUserNetConfig(), opts: UserNetOptions = {}) {
    this.config = config;
    this.ourMac = gatewayMac(config.host);
    this.dhcp = new DhcpServer(config);
    this.dns = new DnsForwarder(config.host, opts.resolve);
    const link = {
      out: this.out,
      sendTcp: (src: Ipv4, dst: Ipv4, length: number) => this.sendIpv4(src, dst, PROTO_TCP, length),
      sendUdp: (src: Ipv4, srcPort: number, dst: Ipv4, dstPort: number, data: Uint8Array) => this.sendUdp(src, srcPort, dst, dstPort, data),
    };
    this.tcp = new TcpNat(link, config);
    this.udp = new UdpNat(link, config);
    this.forwards = new PortForwards(config.host, (fwd) => fwd.guestAddress ?? config.dhcpStart, this.tcp, link);
    this.started = this.forwards.listen(config.hostForwards);
    this.started.catch(() => {}); // reported through ready()
  }

  /** Resolves once every hostfwd listener is bound; rejects with a one-line reason otherwise. */
  ready(): Promise<void> {
    return this.started;
  }

  /** The forwards with the host ports they listen on. */
  get boundForwards(): readonly BoundForward[] {
    return this.forwards.bound;
  }

  /** Closes listeners, host sockets and timers; the backend drops frames afterwards. */
  close(): void {
    this.closed = true;
    this.forwards.close();
    this.tcp.close();
    this.udp.close();
  }

  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** A guest left the switch this NAT is the uplink of: its lease and address mapping go. */
  forgetStation(mac: Uint8Array): void {
    this.dhcp.release(Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":"));
    for (const [ip, known] of this.macOf) if (known.every((b, i) => b === mac[i])) this.macOf.delete(ip);
  }

  send(frame: Uint8Array): void {
    this.stats.framesIn++;
    if (this.closed) return;
    try {
      if (!this.input(frame)) this.stats.dropped++;
    } catch {
      this.stats.internalErrors++;
      this.stats.dropped++;
    }
  }

  /** Handles one guest frame; false when it was dropped. */
  private input(frame: Uint8Array): boolean {
    const type = etherType(frame);
    if (type < 0) return false;
    const src = sourceMac(frame);
    if ((src[0] & 1) === 0) this.guestMac = src.slice();
    if (type === ETHERTYPE_ARP) return this.arp(frame);
    if (type === ETHERTYPE_IPV4) return this.ipv4(frame);
    return false;
  }

  private arp(frame: Uint8Array): boolean {
    const p = parseArp(frame);
    if (p === null) return false;
    if (this.inNet(p.senderIp)) this.learnMac(p.senderIp, p.senderMac);
    if (!isArpRequest(p) || (p.targetIp !== this.config.host && p.targetIp !== this.config.dns)) return false;
    const mac = gatewayMac(p.targetIp);
    writeArpReply(this.out, p, mac);
    writeEthernetHeader(this.out, p.senderMac, mac, ETHERTYPE_ARP);
    this.emit(ETH_HEADER + 28);
    return true;
  }

  private ipv4(frame: Uint8Array): boolean {
    const ip = parseIpv4Packet(frame);
    if (typeof ip === "string") return false;
    const { src, dst } = ip;
    if (ip.protocol === PROTO_UDP) {
      const udp = parseUdp(frame, ip.payload, ip.payloadLength, src, dst);
      if (udp === null) return false;
      const data = frame.subarray(udp.data, udp.data + udp.dataLength);
      if (udp.dstPort === DHCP_SERVER_PORT) return this.dhcpRequest(frame, udp.data, udp.dataLength);
      if (!this.inNet(src)) return false;
      this.learnMac(src, sourceMac(frame));
      if (dst === this.config.dns) {
        if (udp.dstPort !== DNS_PORT || this.config.restrict) return false;
        const copy = data.slice();
        return this.dns.answer(copy, (reply) => this.sendUdp(this.config.dns, DNS_PORT, src, udp.srcPort, reply));
      }
      if (dst === this.config.host && this.forwards.replyToPeer(udp.dstPort, data)) return true;
      return this.udp.send(src, udp.srcPort, dst, udp.dstPort, data);
    }
    if (!this.inNet(src)) return false;
    this.learnMac(src, sourceMac(frame));
    if (ip.protocol === PROTO_TCP) {
      const seg = parseTcp(frame, ip.payload, ip.payloadLength, src, dst);
      if (seg === null) return false;
      this.tcp.segment(frame, src, dst, seg);
      return true;
    }
    if (ip.protocol === PROTO_ICMP) {
      if ((dst !== this.config.host && dst !== this.config.dns) || !isEchoRequest(frame, ip.payload, ip.payloadLength)) return false;
      writeEchoReply(this.out, UDP_OFFSET, frame, ip.payload, ip.payloadLength);
      this.sendIpv4(dst, src, PROTO_ICMP, ip.payloadLength);
      return true;
    }
    return false;
  }

  private dhcpRequest(frame: Uint8Array, start: number, length: number): boolean {
    const at = UDP_OFFSET + UDP_HEADER;
    const reply = this.dhcp.handle(frame, start, length, this.out, at);
    if (reply === null) return false;
    const dst = reply.broadcast ? 0xffffffff : reply.yiaddr;
    writeUdpHeader(this.out, UDP_OFFSET, this.config.host, DHCP_SERVER_PORT, dst, DHCP_CLIENT_PORT, reply.length);
    writeIpv4Header(this.out, this.config.host, dst, PROTO_UDP, UDP_HEADER + reply.length, this.ipId++);
    writeEthernetHeader(this.out, reply.broadcast ? BROADCAST_MAC : reply.clientMac, this.ourMac, ETHERTYPE_IPV4);
    this.emit(UDP_OFFSET + UDP_HEADER + reply.length);
    return true;
  }

  private sendUdp(src: Ipv4, srcPort: number, dst: Ipv4, dstPort: number, data: Uint8Array): void {
    if (this.closed) return;
    if (data.length > MTU - IPV4_HEADER - UDP_HEADER) {
      this.stats.dropped++; // would need fragmentation
      return;
    }
    this.out.set(data, UDP_OFFSET + UDP_HEADER);
    writeUdpHeader(this.out, UDP_OFFSET, src, srcPort, dst, dstPort, data.length);
    this.sendIpv4(src, dst, PROTO_UDP, UDP_HEADER + data.length);
  }

  /** Frames and sends the IPv4 payload of `length` bytes already at UDP_OFFSET in `out`. */
  private sendIpv4(src: Ipv4, dst: Ipv4, protocol: number, length: number): void {
    if (this.closed) return;
    writeIpv4Header(this.out, src, dst, protocol, length, this.ipId++);
    writeEthernetHeader(this.out, this.macOf.get(dst) ?? this.guestMac ?? BROADCAST_MAC, this.ourMac, ETHERTYPE_IPV4);
    this.emit(UDP_OFFSET + length);
  }

  private learnMac(ip: Ipv4, mac: Uint8Array): void {
    if ((mac[0] & 1) !== 0) return;
    const known = this.macOf.get(ip);
    if (known !== undefined && known.every((b, i) => b === mac[i])) return;
    if (this.macOf.size >= MAX_GUEST_ADDRESSES) this.macOf.clear();
    this.macOf.set(ip, mac.slice());
  }

  private emit(length: number): void {
    this.stats.framesOut++;
    this.receiver?.(this.out.subarray(0, length));
  }

  private inNet(ip: Ipv4): boolean {
    const c = this.config;
    return ((ip & prefixMask(c.prefix)) >>> 0) === c.network && ip !== c.host && ip !== c.dns && ip !== c.network;
  }
}
