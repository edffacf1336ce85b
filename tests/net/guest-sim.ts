/**
 * A pretend guest for packet-level tests of the user-mode NAT: it builds
 * frames as a guest kernel would (with correct checksums unless told
 * otherwise), feeds them to the backend, and collects and parses the
 * replies. Waits have a hang guard that fails with what arrived; they are
 * not speed assertions.
 */
import { createServer } from "node:net";
import { once } from "node:events";
import { UserNetBackend, type UserNetOptions } from "../../src/backends/net/user/user-net.ts";
import { defaultUserNetConfig, type UserNetConfig } from "../../src/backends/net/user/options.ts";
import { ipPayloadOffset, parseIpv4, type IpAddress, type Ipv4 } from "../../src/backends/net/user/addresses.ts";
import { put16, put32 } from "../../src/backends/net/user/bytes.ts";
import { finishChecksum, pseudoHeaderSum, sumWords } from "../../src/backends/net/user/checksum.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, etherType } from "../../src/backends/net/user/ethernet.ts";
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, parseIpv4Packet, writeIpv4Header, type Ipv4Packet } from "../../src/backends/net/user/ipv4.ts";
import { PROTO_ICMPV6, parseIpv6Packet, writeIpv6Header, type Ipv6Packet } from "../../src/backends/net/user/ipv6.ts";
import type { Ipv6 } from "../../src/backends/net/user/ipv6-address.ts";
import { parseUdp, writeUdpHeader, type UdpDatagram } from "../../src/backends/net/user/udp.ts";
import { ACK, parseTcp, writeTcpSegment, type TcpSegment } from "../../src/backends/net/user/tcp-segment.ts";

export const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
export const GUEST_IP = ip("10.0.2.15");
export const HOST_IP = ip("10.0.2.2");
export const DNS_IP = ip("10.0.2.3");
export const GATEWAY_MAC = Uint8Array.of(0x52, 0x55, 10, 0, 2, 2);
/** The SLAAC (EUI-64) addresses of GUEST_MAC in fec0::/64 and on the link. */
export const GUEST_IP6: Ipv6 = "fec0::5054:ff:fe12:3456";
export const GUEST_LINK_LOCAL: Ipv6 = "fe80::5054:ff:fe12:3456";
export const HOST_IP6: Ipv6 = "fec0::2";
export const DNS_IP6: Ipv6 = "fec0::3";
const HANG_GUARD_MS = 20_000;

export function ip(text: string): Ipv4 {
  const v = parseIpv4(text);
  if (v === null) throw new Error(`bad address ${text}`);
  return v;
}

/** A received IPv4 or IPv6 frame, parsed. */
export interface Received {
  frame: Uint8Array;
  ip: Ipv4Packet | Ipv6Packet;
  tcp?: TcpSegment;
  udp?: UdpDatagram;
}

export class GuestSim {
  readonly net: UserNetBackend;
  readonly frames: Uint8Array[] = [];
  /** Index of the first frame not yet taken by `next`. */
  private cursor = 0;
  private waiters = new Set<() => void>();

  constructor(config: UserNetConfig = defaultUserNetConfig(), opts: UserNetOptions = {}) {
    this.net = new UserNetBackend(config, opts);
    this.net.onReceive((f) => this.arrive(f));
  }

  /** A frame for the guest (copied); wakes whoever waits in `next`. */
  arrive(frame: Uint8Array): void {
    this.frames.push(frame.slice());
    for (const w of this.waiters) w();
  }

  close(): void {
    this.net.close();
  }

  /** Sends a raw frame. */
  send(frame: Uint8Array): void {
    this.net.send(frame);
  }

  /** Frames that arrived and were not taken yet. */
  pending(): Uint8Array[] {
    return this.frames.slice(this.cursor);
  }

  /** Takes the next frame matching `pred` (skipping others), waiting for it to arrive. */
  async next(pred: (r: Received) => boolean = () => true, what = "a frame"): Promise<Received> {
    const deadline = performance.now() + HANG_GUARD_MS;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++];
        const r = parseReceived(f);
        if (r !== null && pred(r)) return r;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`hang guard: no ${what}; frames so far: ${this.frames.length}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Waits `ms` and returns the frames that arrived meanwhile (all taken). */
  async quiet(ms: number): Promise<Received[]> {
    await new Promise((r) => setTimeout(r, ms));
    const got: Received[] = [];
    while (this.cursor < this.frames.length) {
      const r = parseReceived(this.frames[this.cursor++]);
      if (r !== null) got.push(r);
    }
    return got;
  }

  ipv4Frame(src: Ipv4, dst: Ipv4, protocol: number, payload: Uint8Array, dstMac = GATEWAY_MAC): Uint8Array {
    const f = new Uint8Array(34 + payload.length);
    f.set(dstMac, 0);
    f.set(GUEST_MAC, 6);
    put16(f, 12, ETHERTYPE_IPV4);
    f.set(payload, 34);
    writeIpv4Header(f, src, dst, protocol, payload.length, 1);
    return f;
  }

  ipv6Frame(src: Ipv6, dst: Ipv6, protocol: number, payload: Uint8Array, dstMac = GATEWAY_MAC, hopLimit = 64): Uint8Array {
    const f = new Uint8Array(54 + payload.length);
    f.set(dstMac, 0);
    f.set(GUEST_MAC, 6);
    put16(f, 12, ETHERTYPE_IPV6);
    f.set(payload, 54);
    writeIpv6Header(f, src, dst, protocol, payload.length, hopLimit);
    return f;
  }

  /** An IPv4 or IPv6 frame, by the type of the addresses. */
  ipFrame(src: IpAddress, dst: IpAddress, protocol: number, payload: Uint8Array, dstMac = GATEWAY_MAC): Uint8Array {
    return typeof src === "number" && typeof dst === "number"
      ? this.ipv4Frame(src, dst, protocol, payload, dstMac)
      : this.ipv6Frame(String(src), String(dst), protocol, payload, dstMac);
  }

  udpFrame(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array, dstMac = GATEWAY_MAC): Uint8Array {
    const at = ipPayloadOffset(dst);
    const f = new Uint8Array(at + 8 + data.length);
    f.set(data, at + 8);
    writeUdpHeader(f, at, src, srcPort, dst, dstPort, data.length);
    return this.ipFrame(src, dst, PROTO_UDP, f.subarray(at), dstMac);
  }

  tcpFrame(o: { srcPort: number; dst: IpAddress; dstPort: number; seq: number; ack: number; flags: number; window: number; data?: Uint8Array; mss?: number; wscale?: number; src?: IpAddress }): Uint8Array {
    const data = o.data ?? new Uint8Array(0);
    const src = o.src ?? (typeof o.dst === "number" ? GUEST_IP : GUEST_IP6);
    const at = ipPayloadOffset(o.dst);
    const buf = new Uint8Array(at + 28 + data.length);
    const optLen = o.mss ? (o.wscale !== undefined && o.wscale >= 0 ? 8 : 4) : 0;
    buf.set(data, at + 20 + optLen);
    const n = writeTcpSegment(buf, at, src, o.srcPort, o.dst, o.dstPort, o.seq, o.ack, o.flags, o.window, data.length, o.mss ?? 0, o.wscale ?? -1);
    return this.ipFrame(src, o.dst, PROTO_TCP, buf.subarray(at, at + n));
  }

  /** An ICMPv6 message (type, code 0, `body` after the 4-byte type/code/checksum) with its checksum. */
  icmpv6(src: Ipv6, dst: Ipv6, type: number, body: Uint8Array, opts: { hopLimit?: number; dstMac?: Uint8Array<ArrayBuffer> } = {}): Uint8Array {
    const p = new Uint8Array(4 + body.length);
    p[0] = type;
    p.set(body, 4);
    put16(p, 2, finishChecksum(sumWords(p, 0, p.length, pseudoHeaderSum(src, dst, PROTO_ICMPV6, p.length))));
    return this.ipv6Frame(src, dst, PROTO_ICMPV6, p, opts.dstMac ?? GATEWAY_MAC, opts.hopLimit ?? 64);
  }

  icmpEcho(dst: Ipv4, id: number, seq: number, data: Uint8Array): Uint8Array {
    const p = new Uint8Array(8 + data.length);
    p[0] = 8;
    put16(p, 4, id);
    put16(p, 6, seq);
    p.set(data, 8);
    put16(p, 2, finishChecksum(sumWords(p, 0, p.length)));
    return this.ipv4Frame(GUEST_IP, dst, PROTO_ICMP, p);
  }

  /** A broadcast DHCPDISCOVER from `mac` (as its Ethernet source too), transaction `xid`. */
  dhcpDiscover(mac: Uint8Array, xid: number): Uint8Array {
    const m = new Uint8Array(300);
    m.set([1, 1, 6], 0);
    put32(m, 4, xid);
    m[10] = 0x80; // broadcast the reply
    m.set(mac, 28);
    put32(m, 236, 0x63825363);
    m.set([53, 1, 1, 255], 240);
    const f = this.udpFrame(0, 68, 0xffffffff, 67, m, Uint8Array.of(255, 255, 255, 255, 255, 255));
    f.set(mac, 6);
    return f;
  }

  arpRequest(target: Ipv4, sender = GUEST_IP): Uint8Array {
    const f = new Uint8Array(42);
    f.fill(0xff, 0, 6);
    f.set(GUEST_MAC, 6);
    put16(f, 12, ETHERTYPE_ARP);
    put16(f, 14, 1);
    put16(f, 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    put16(f, 20, 1);
    f.set(GUEST_MAC, 22);
    put32(f, 28, sender);
    put32(f, 38, target);
    return f;
  }
}

export function parseReceived(frame: Uint8Array): Received | null {
  const type = etherType(frame);
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) return null;
  const ip = type === ETHERTYPE_IPV4 ? parseIpv4Packet(frame) : parseIpv6Packet(frame);
  if (typeof ip === "string" || ip === null) throw new Error(`the backend sent a bad IP packet (${ip})`);
  if (ip.protocol === PROTO_ICMPV6 && finishChecksum(sumWords(frame, ip.payload, ip.payload + ip.payloadLength, pseudoHeaderSum(ip.src, ip.dst, PROTO_ICMPV6, ip.payloadLength))) !== 0) {
    throw new Error("the backend sent an ICMPv6 message with a bad checksum");
  }
  const r: Received = { frame, ip };
  if (ip.protocol === PROTO_TCP) {
    const tcp = parseTcp(frame, ip.payload, ip.payloadLength, ip.src, ip.dst);
    if (tcp === null) throw new Error("the backend sent a bad TCP segment");
    r.tcp = tcp;
  } else if (ip.protocol === PROTO_UDP) {
    const udp = parseUdp(frame, ip.payload, ip.payloadLength, ip.src, ip.dst);
    if (udp === null) throw new Error("the backend sent a bad UDP datagram");
    r.udp = udp;
  }
  return r;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a hostfwd= listener). */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, "close");
  return port;
}

/** A standard DNS query (RD set) for one name and type. */
export function dnsQuery(id: number, name: string, type: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]);
  const q = new Uint8Array(12 + labels.length + 1 + 4);
  put16(q, 0, id);
  put16(q, 2, 0x0100); // RD
  put16(q, 4, 1);
  q.set(labels, 12);
  put16(q, 12 + labels.length + 1, type);
  put16(q, 12 + labels.length + 3, 1);
  return q;
}

export function payload(r: Received): Uint8Array {
  if (r.tcp) return r.frame.subarray(r.tcp.data, r.tcp.data + r.tcp.dataLength);
  if (r.udp) return r.frame.subarray(r.udp.data, r.udp.data + r.udp.dataLength);
  return r.frame.subarray(r.ip.payload, r.ip.payload + r.ip.payloadLength);
}

/**
 * A guest-side TCP endpoint driven step by step: the test decides when to
 * acknowledge and what window to offer.
 */
export class GuestTcp {
  seq = 1000;
  /** Next byte expected from the far end. */
  rcvNxt = 0;
  received: Uint8Array[] = [];
  receivedBytes = 0;
  window = 65535;
  wscale = 7;
  peerWindowShift = 0;

  constructor(readonly sim: GuestSim, readonly port: number, readonly dst: IpAddress, readonly dstPort: number) {}

  fromPeer = (r: Received) => r.tcp !== undefined && r.tcp.dstPort === this.port && r.tcp.srcPort === this.dstPort && r.ip.src === this.dst;

  segment(flags: number, data?: Uint8Array, seq = this.seq): void {
    const win = Math.min(0xffff, this.window >>> (flags & 0x02 ? 0 : this.wscale));
    this.sim.send(this.sim.tcpFrame({ srcPort: this.port, dst: this.dst, dstPort: this.dstPort, seq, ack: this.rcvNxt, flags, window: win, data }));
  }

  /** SYN, SYN-ACK, ACK; returns the SYN-ACK. */
  async connect(mss = 1460): Promise<TcpSegment> {
    this.sim.send(this.sim.tcpFrame({ srcPort: this.port, dst: this.dst, dstPort: this.dstPort, seq: this.seq, ack: 0, flags: 0x02, window: Math.min(0xffff, this.window), mss, wscale: this.wscale }));
    const r = await this.sim.next(this.fromPeer, "SYN-ACK");
    const t = r.tcp as TcpSegment;
    if (t.flags !== (0x02 | ACK)) return t;
    this.seq = (this.seq + 1) >>> 0;
    this.rcvNxt = (t.seq + 1) >>> 0;
    this.peerWindowShift = t.windowScale >= 0 ? t.windowScale : 0;
    this.segment(ACK);
    return t;
  }

  /** Sends data (one segment) and advances seq. */
  write(data: Uint8Array): void {
    this.segment(ACK | 0x08, data);
    this.seq = (this.seq + data.length) >>> 0;
  }

  /** Takes in-order data from a received segment; returns true if it advanced. */
  take(r: Received, ackNow = true): boolean {
    const t = r.tcp as TcpSegment;
    let advanced = false;
    if (t.dataLength > 0 && t.seq === this.rcvNxt) {
      this.received.push(payload(r).slice());
      this.receivedBytes += t.dataLength;
      this.rcvNxt = (this.rcvNxt + t.dataLength) >>> 0;
      advanced = true;
    }
    if (t.flags & 0x01 && ((t.seq + t.dataLength) >>> 0) === this.rcvNxt) {
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      advanced = true;
    }
    if (ackNow && (t.dataLength > 0 || t.flags & 0x01)) this.segment(ACK);
    return advanced;
  }

  text(): string {
    return Buffer.concat(this.received).toString("latin1");
  }
}

