/**
 * `--net user`: user-mode networking as QEMU's slirp does it, with no root
 * and no host configuration. The guest sees a gateway (10.0.2.2, which also
 * stands for the host's 127.0.0.1), a DNS server (10.0.2.3) and a DHCP
 * server handing out 10.0.2.15; its TCP and UDP leave through host sockets.
 * With ipv6=on (the default) the gateway is also a router on fec0::/64: it
 * answers router solicitations (the guest configures itself by SLAAC) and
 * neighbour solicitations, echo at fec0::2 and fec0::3, DNS at fec0::3, and
 * TCP and UDP over IPv6 share the IPv4 code (fec0::2 stands for ::1).
 *
 * This file demultiplexes frames to the protocol modules and frames their
 * replies. Replies are built in one scratch buffer (the receiver copies
 * them, per the EthernetBackend contract). A frame that breaks a parser is
 * dropped and counted; no exception reaches the device.
 *
 * Offloads (offload.ts): the NAT terminates TCP and UDP itself, so a guest
 * frame with a partial checksum is taken as it is (nothing to verify: it
 * never crossed a wire) and a TCP super-frame is one 64 KiB segment to it.
 * Towards a receiver that takes them, TCP segments carry only the
 * pseudo-header checksum and are up to 64 KiB long (tcp-connection.ts).
 */
import type { EthernetBackend, FrameReceiver } from "../ethernet-backend.ts";
import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, NET_HDR_F_NEEDS_CSUM, NetOffload, OFFLOAD_ALL, OFFLOAD_CSUM } from "../offload.ts";
import { PlainFrames, partialAtTransport } from "../plain-frames.ts";
import { BROADCAST_MAC, gatewayMac, ipPayloadOffset, prefixMask, type IpAddress, type Ipv4 } from "./addresses.ts";
import { isArpRequest, parseArp, writeArpReply } from "./arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER, etherType, sourceMac, writeEthernetHeader } from "./ethernet.ts";
import { IPV4_HEADER, PROTO_ICMP, PROTO_TCP, PROTO_UDP, parseIpv4Packet, writeIpv4Header } from "./ipv4.ts";
import { IPV6_HEADER, PROTO_ICMPV6, parseIpv6Packet, writeIpv6Header, type Ipv6Packet } from "./ipv6.ts";
import { ALL_NODES, ROUTER_LINK_LOCAL, UNSPECIFIED, inIpv6Prefix, isIpv6Multicast, isLinkLocal, multicastMac, type Ipv6 } from "./ipv6-address.ts";
import { ECHO6_REPLY, ECHO6_REQUEST, isEchoRequest, writeEchoReply } from "./icmp.ts";
import { ND_HOP_LIMIT, ROUTER_SOLICITATION, solicitedTarget, writeNeighborAdvertisement, writeRouterAdvertisement } from "./ndp.ts";
import { finishChecksum, pseudoHeaderSum, sumWords } from "./checksum.ts";
import { put16 } from "./bytes.ts";
import { UDP_HEADER, parseUdp, udpDstPort, writeUdpHeader } from "./udp.ts";
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
const ICMPV6_OFFSET = ETH_HEADER + IPV6_HEADER;

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
  /** The NAT takes every offload: it needs no checksum of what it terminates, and makes anything else plain itself. */
  readonly sendOffloads = OFFLOAD_ALL;
  private receiver: FrameReceiver | null = null;
  /** What the receiver takes (OFFLOAD_* bits). */
  private receiverOffloads = 0;
  private readonly outOffload = new NetOffload();
  private readonly plain = new PlainFrames();
  private readonly inputPlain = (frame: Uint8Array): void => {
    if (!this.input(frame, false)) this.stats.dropped++;
  };
  private readonly out = new Uint8Array(65536 + 64);
  private readonly ourMac: Uint8Array;
  /** The MAC of the last guest frame: where frames go when their address has no entry in `macOf`. */
  private guestMac: Uint8Array | null = null;
  /** Guest address → MAC, for several guests behind a switch (bounded: cleared when full). */
  private readonly macOf = new Map<IpAddress, Uint8Array>();
  private ipId = 0;
  private closed = false;

  constructor(config: UserNetConfig = defaultUserNetConfig(), opts: UserNetOptions = {}) {
    this.config = config;
    this.ourMac = gatewayMac(config.host);
    this.dhcp = new DhcpServer(config);
    this.dns = new DnsForwarder(config.host, config.ipv6 ? config.ipv6Host : null, opts.resolve);
    const link = {
      out: this.out,
      offloads: () => this.receiverOffloads,
      sendTcp: (src: IpAddress, dst: IpAddress, length: number, gsoSize = 0) => this.sendTcp(src, dst, length, gsoSize),
      sendUdp: (src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array) => this.sendUdp(src, srcPort, dst, dstPort, data),
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

  onReceive(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  acceptOffloads(mask: number): void {
    this.receiverOffloads = mask;
  }

  /** A guest left the switch this NAT is the uplink of: its lease and address mapping go. */
  forgetStation(mac: Uint8Array): void {
    this.dhcp.release(Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":"));
    for (const [ip, known] of this.macOf) if (known.every((b, i) => b === mac[i])) this.macOf.delete(ip);
  }

  send(frame: Uint8Array, offload?: NetOffload): void {
    this.stats.framesIn++;
    if (this.closed) return;
    try {
      if (offload === undefined || offload.plain) this.inputPlain(frame);
      else if (partialAtTransport(frame, offload)) {
        if (!this.input(frame, true)) this.stats.dropped++;
      } else if (this.plain.convert(frame, offload, this.inputPlain) !== "ok") this.stats.dropped++;
    } catch {
      this.stats.internalErrors++;
      this.stats.dropped++;
    }
  }

  /** Handles one guest frame (`partial`: its TCP/UDP checksum was left to us, partialAtTransport); false when it was dropped. */
  private input(frame: Uint8Array, partial: boolean): boolean {
    const type = etherType(frame);
    if (type < 0) return false;
    const src = sourceMac(frame);
    if ((src[0] & 1) === 0) this.guestMac = src.slice();
    if (type === ETHERTYPE_ARP) return this.arp(frame);
    if (type === ETHERTYPE_IPV4) return this.ipv4(frame, partial);
    if (type === ETHERTYPE_IPV6) return this.config.ipv6 && this.ipv6(frame, partial);
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

  private ipv4(frame: Uint8Array, partial: boolean): boolean {
    const ip = parseIpv4Packet(frame);
    if (typeof ip === "string") return false;
    const { src, dst } = ip;
    if (ip.protocol === PROTO_UDP && ip.payloadLength >= UDP_HEADER && udpDstPort(frame, ip.payload) === DHCP_SERVER_PORT) {
      const udp = parseUdp(frame, ip.payload, ip.payloadLength, src, dst, partial);
      return udp !== null && this.dhcpRequest(frame, udp.data, udp.dataLength);
    }
    if (!this.inNet(src)) return false;
    this.learnMac(src, sourceMac(frame));
    if (ip.protocol === PROTO_ICMP) {
      if ((dst !== this.config.host && dst !== this.config.dns) || !isEchoRequest(frame, ip.payload, ip.payloadLength)) return false;
      writeEchoReply(this.out, UDP_OFFSET, frame, ip.payload, ip.payloadLength);
      this.sendIp(dst, src, PROTO_ICMP, ip.payloadLength);
      return true;
    }
    return this.transport(frame, src, dst, ip.protocol, ip.payload, ip.payloadLength, this.config.host, this.config.dns, partial);
  }

  private ipv6(frame: Uint8Array, partial: boolean): boolean {
    const ip = parseIpv6Packet(frame);
    if (ip === null) return false;
    if (ip.protocol === PROTO_ICMPV6) return this.icmpv6(frame, ip);
    const c = this.config;
    if (!this.inNet6(ip.src)) return false;
    this.learnMac(ip.src, sourceMac(frame));
    return this.transport(frame, ip.src, ip.dst, ip.protocol, ip.payload, ip.payloadLength, c.ipv6Host, c.ipv6Dns, partial);
  }

  /** TCP and UDP from the guest, either IP version: DNS at `dns`, replies to UDP forwards at `gateway`, the rest through host sockets. */
  private transport(frame: Uint8Array, src: IpAddress, dst: IpAddress, protocol: number, start: number, length: number, gateway: IpAddress, dns: IpAddress, partial: boolean): boolean {
    if (protocol === PROTO_TCP) {
      const seg = parseTcp(frame, start, length, src, dst, partial);
      if (seg === null) return false;
      this.tcp.segment(frame, src, dst, seg);
      return true;
    }
    if (protocol !== PROTO_UDP) return false;
    const udp = parseUdp(frame, start, length, src, dst, partial);
    if (udp === null) return false;
    const data = frame.subarray(udp.data, udp.data + udp.dataLength);
    if (dst === dns) {
      if (udp.dstPort !== DNS_PORT || this.config.restrict) return false;
      return this.dns.answer(data.slice(), (reply) => this.sendUdp(dns, DNS_PORT, src, udp.srcPort, reply));
    }
    if (dst === gateway && typeof dst === "number" && this.forwards.replyToPeer(udp.dstPort, data)) return true;
    return this.udp.send(src, udp.srcPort, dst, udp.dstPort, data);
  }

  /** ICMPv6: neighbour and router solicitations (NDP), echo to the gateway's addresses. */
  private icmpv6(frame: Uint8Array, ip: Ipv6Packet): boolean {
    const { src, dst, payload: at, payloadLength: length } = ip;
    const pseudo = pseudoHeaderSum(src, dst, PROTO_ICMPV6, length);
    if (length < 8 || finishChecksum(sumWords(frame, at, at + length, pseudo)) !== 0) return false;
    const c = this.config;
    const type = frame[at];
    if (type === ECHO6_REQUEST) {
      if ((dst !== c.ipv6Host && dst !== c.ipv6Dns) || !this.inNet6(src) || !isEchoRequest(frame, at, length, ECHO6_REQUEST, pseudo)) return false;
      this.learnMac(src, sourceMac(frame));
      writeEchoReply(this.out, ICMPV6_OFFSET, frame, at, length, ECHO6_REPLY, pseudoHeaderSum(dst, src, PROTO_ICMPV6, length));
      this.sendIp(dst, src, PROTO_ICMPV6, length);
      return true;
    }
    // Neighbour discovery comes only from the link itself (RFC 4861 §6.1, §7.1).
    if (ip.hopLimit !== ND_HOP_LIMIT || (src !== UNSPECIFIED && !isLinkLocal(src) && !this.inNet6(src))) return false;
    if (type === ROUTER_SOLICITATION) {
      const n = writeRouterAdvertisement(this.out, ICMPV6_OFFSET, {
        mac: this.ourMac, mtu: MTU, prefix: c.ipv6Prefix, prefixLength: c.ipv6PrefixLength, dns: c.ipv6Dns,
      });
      this.sendIcmpv6(ROUTER_LINK_LOCAL, ALL_NODES, n);
      return true;
    }
    const target = solicitedTarget(frame, at, length);
    if (target === null || (target !== c.ipv6Host && target !== c.ipv6Dns && target !== ROUTER_LINK_LOCAL)) return false;
    if (src !== UNSPECIFIED) this.learnMac(src, sourceMac(frame));
    // An answer to duplicate address detection (from ::) goes to all nodes.
    const n = writeNeighborAdvertisement(this.out, ICMPV6_OFFSET, target, this.ourMac, src !== UNSPECIFIED);
    this.sendIcmpv6(target, src === UNSPECIFIED ? ALL_NODES : src, n);
    return true;
  }

  /** Checksums and sends the ICMPv6 message of `length` bytes at ICMPV6_OFFSET, with the hop limit of NDP. */
  private sendIcmpv6(src: Ipv6, dst: Ipv6, length: number): void {
    put16(this.out, ICMPV6_OFFSET + 2, 0);
    put16(this.out, ICMPV6_OFFSET + 2, finishChecksum(sumWords(this.out, ICMPV6_OFFSET, ICMPV6_OFFSET + length, pseudoHeaderSum(src, dst, PROTO_ICMPV6, length))));
    this.sendIp(src, dst, PROTO_ICMPV6, length, ND_HOP_LIMIT);
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

  private sendUdp(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array): void {
    if (this.closed) return;
    const at = ipPayloadOffset(dst);
    if (at + UDP_HEADER + data.length > ETH_HEADER + MTU) {
      this.stats.dropped++; // would need fragmentation
      return;
    }
    this.out.set(data, at + UDP_HEADER);
    writeUdpHeader(this.out, at, src, srcPort, dst, dstPort, data.length);
    this.sendIp(src, dst, PROTO_UDP, UDP_HEADER + data.length);
  }

  /**
   * Sends the TCP segment of `length` bytes at ipPayloadOffset(dst), whose
   * checksum field holds the pseudo-header's part only: finished here
   * unless the receiver takes checksum offload. A segment with a `gsoSize`
   * stands for segments of that many payload bytes (only sent to a
   * receiver that takes TSO; tcp-connection.ts).
   */
  private sendTcp(src: IpAddress, dst: IpAddress, length: number, gsoSize: number): void {
    const at = ipPayloadOffset(dst);
    if ((this.receiverOffloads & OFFLOAD_CSUM) === 0) {
      put16(this.out, at + 16, finishChecksum(sumWords(this.out, at, at + length)));
      this.sendIp(src, dst, PROTO_TCP, length);
      return;
    }
    const o = this.outOffload;
    o.flags = NET_HDR_F_NEEDS_CSUM;
    o.csumStart = at;
    o.csumOffset = 16;
    o.hdrLen = at + (this.out[at + 12] >> 4) * 4;
    o.gsoSize = gsoSize;
    o.gsoType = gsoSize === 0 ? GSO_NONE : typeof dst === "number" ? GSO_TCPV4 : GSO_TCPV6;
    this.sendIp(src, dst, PROTO_TCP, length, 64, o);
  }

  /** Frames and sends the IP payload of `length` bytes already at ipPayloadOffset(dst) in `out`. */
  private sendIp(src: IpAddress, dst: IpAddress, protocol: number, length: number, hopLimit = 64, offload?: NetOffload): void {
    if (this.closed) return;
    if (typeof src === "number" && typeof dst === "number") {
      writeIpv4Header(this.out, src, dst, protocol, length, this.ipId++);
      writeEthernetHeader(this.out, this.macOf.get(dst) ?? this.guestMac ?? BROADCAST_MAC, this.ourMac, ETHERTYPE_IPV4);
    } else {
      const to = String(dst);
      writeIpv6Header(this.out, String(src), to, protocol, length, hopLimit);
      const mac = isIpv6Multicast(to) ? multicastMac(to) : this.macOf.get(to) ?? this.guestMac ?? BROADCAST_MAC;
      writeEthernetHeader(this.out, mac, this.ourMac, ETHERTYPE_IPV6);
    }
    this.emit(ipPayloadOffset(dst) + length, offload);
  }

  private learnMac(ip: IpAddress, mac: Uint8Array): void {
    if ((mac[0] & 1) !== 0) return;
    const known = this.macOf.get(ip);
    if (known !== undefined && known.every((b, i) => b === mac[i])) return;
    if (this.macOf.size >= MAX_GUEST_ADDRESSES) this.macOf.clear();
    this.macOf.set(ip, mac.slice());
  }

  private emit(length: number, offload?: NetOffload): void {
    this.stats.framesOut++;
    this.receiver?.(this.out.subarray(0, length), offload);
  }

  private inNet(ip: Ipv4): boolean {
    const c = this.config;
    return ((ip & prefixMask(c.prefix)) >>> 0) === c.network && ip !== c.host && ip !== c.dns && ip !== c.network;
  }

  /** A guest address in the advertised prefix (what SLAAC gives it). */
  private inNet6(ip: Ipv6): boolean {
    const c = this.config;
    return inIpv6Prefix(ip, c.ipv6Prefix, c.ipv6PrefixLength) && ip !== c.ipv6Host && ip !== c.ipv6Dns && ip !== c.ipv6Prefix;
  }
}
