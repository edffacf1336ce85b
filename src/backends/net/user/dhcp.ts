/**
 * A DHCP server (RFC 2131/2132) for the virtual net: DISCOVER → OFFER,
 * REQUEST → ACK (or NAK for an address we cannot give), RELEASE, and INFORM.
 * As QEMU's slirp it leases up to 16 addresses from dhcpstart, one per MAC,
 * and offers router, DNS server, subnet mask, lease time and hostname.
 */
import { get16, get32, put32 } from "./bytes.ts";
import { prefixMask, type Ipv4 } from "./addresses.ts";
import type { UserNetConfig } from "./options.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const BOOTP_FIXED = 236;
const MAGIC_COOKIE = 0x63825363;
const OPTIONS_START = BOOTP_FIXED + 4;
/** BOOTP's minimum message size; some clients reject shorter replies. */
const MIN_REPLY = 300;
export const MAX_DHCP_REPLY = 576;
const MAX_CLIENTS = 16;
export const LEASE_SECONDS = 86400;

const DISCOVER = 1;
const OFFER = 2;
const REQUEST = 3;
const ACK = 5;
const NAK = 6;
const RELEASE = 7;
const INFORM = 8;

const OPT_SUBNET_MASK = 1;
const OPT_ROUTER = 3;
const OPT_DNS = 6;
const OPT_HOSTNAME = 12;
const OPT_REQUESTED_IP = 50;
const OPT_LEASE_TIME = 51;
const OPT_MESSAGE_TYPE = 53;
const OPT_SERVER_ID = 54;
const OPT_END = 255;
const OPT_PAD = 0;

/** A reply to send: to the client MAC, at `yiaddr` or broadcast. */
export interface DhcpReply {
  length: number;
  clientMac: Uint8Array;
  /** Broadcast the reply (the client asked, or has no address yet). */
  broadcast: boolean;
  yiaddr: Ipv4;
}

export class DhcpServer {
  /** MAC ("52:54:…" as hex) → leased address. */
  private readonly leases = new Map<string, Ipv4>();

  constructor(private readonly config: UserNetConfig) {}

  /** The address leased to `mac`, if any. */
  leaseOf(mac: string): Ipv4 | undefined {
    return this.leases.get(mac);
  }

  /** Frees `mac`'s lease (the station left the link), so the pool serves the next one. */
  release(mac: string): void {
    this.leases.delete(mac);
  }

  /**
   * Handles one client message (the UDP payload at `start`, `length`
   * bytes); writes the reply into `out` at `at` and describes it, or
   * returns null when there is nothing to answer.
   */
  handle(msg: Uint8Array, start: number, length: number, out: Uint8Array, at: number): DhcpReply | null {
    if (length < OPTIONS_START + 1 || msg[start] !== 1 || msg[start + 1] !== 1 || msg[start + 2] !== 6) return null;
    if (get32(msg, start + BOOTP_FIXED) !== MAGIC_COOKIE) return null;
    const options = readOptions(msg, start + OPTIONS_START, start + length);
    const type = options.get(OPT_MESSAGE_TYPE)?.[0];
    if (type === undefined) return null;
    const clientMac = msg.slice(start + 28, start + 34);
    const key = Array.from(clientMac, (b) => b.toString(16).padStart(2, "0")).join(":");
    const requested = options.get(OPT_REQUESTED_IP);
    const ciaddr = get32(msg, start + 12);
    const wanted = requested?.length === 4 ? get32(requested, 0) : ciaddr !== 0 ? ciaddr : null;
    let replyType: number;
    let yiaddr = 0;
    switch (type) {
      case DISCOVER: {
        const ip = this.allocate(key, wanted);
        if (ip === null) return null; // pool exhausted: stay silent, as slirp does
        replyType = OFFER;
        yiaddr = ip;
        break;
      }
      case REQUEST: {
        const ip = this.allocate(key, wanted);
        if (ip === null || (wanted !== null && wanted !== ip)) {
          replyType = NAK;
        } else {
          replyType = ACK;
          yiaddr = ip;
        }
        break;
      }
      case RELEASE:
        this.leases.delete(key);
        return null;
      case INFORM:
        replyType = ACK;
        break;
      default:
        return null;
    }
    const broadcast = (get16(msg, start + 10) & 0x8000) !== 0 || replyType === NAK || ciaddr === 0;
    const n = this.writeReply(msg, start, out, at, replyType, yiaddr, type === INFORM ? ciaddr : 0);
    return { length: n, clientMac, broadcast, yiaddr };
  }

  /** The wanted address if it is free in the pool, else the client's lease, else the first free address. */
  private allocate(key: string, wanted: Ipv4 | null): Ipv4 | null {
    const held = this.leases.get(key);
    if (wanted !== null && wanted !== held && this.pool().includes(wanted) && !this.takenByOther(wanted, key)) {
      this.leases.set(key, wanted);
      return wanted;
    }
    if (held !== undefined) return held;
    const free = this.pool().find((a) => !this.takenByOther(a, key)) ?? null;
    if (free !== null) this.leases.set(key, free);
    return free;
  }

  private takenByOther(ip: Ipv4, key: string): boolean {
    for (const [k, a] of this.leases) if (a === ip && k !== key) return true;
    return false;
  }

  private pool(): Ipv4[] {
    const c = this.config;
    const mask = prefixMask(c.prefix);
    const out: Ipv4[] = [];
    for (let i = 0; i < MAX_CLIENTS; i++) {
      const ip = (c.dhcpStart + i) >>> 0;
      if (((ip & mask) >>> 0) !== c.network || ip === ((c.network | ~mask) >>> 0)) break;
      if (ip !== c.host && ip !== c.dns) out.push(ip);
    }
    return out;
  }

  private writeReply(msg: Uint8Array, start: number, out: Uint8Array, at: number, type: number, yiaddr: Ipv4, ciaddr: Ipv4): number {
    const c = this.config;
    out.fill(0, at, at + MAX_DHCP_REPLY);
    out[at] = 2; // BOOTREPLY
    out[at + 1] = 1;
    out[at + 2] = 6;
    out.set(msg.subarray(start + 4, start + 8), at + 4); // xid
    out.set(msg.subarray(start + 10, start + 12), at + 10); // flags
    put32(out, at + 12, ciaddr);
    put32(out, at + 16, yiaddr);
    if (type !== NAK) put32(out, at + 20, c.host); // siaddr
    out.set(msg.subarray(start + 28, start + 44), at + 28); // chaddr
    put32(out, at + BOOTP_FIXED, MAGIC_COOKIE);
    let p = at + OPTIONS_START;
    const option = (code: number, bytes: Uint8Array) => {
      out[p++] = code;
      out[p++] = bytes.length;
      out.set(bytes, p);
      p += bytes.length;
    };
    const ip = (v: number) => {
      const b = new Uint8Array(4);
      put32(b, 0, v);
      return b;
    };
    option(OPT_MESSAGE_TYPE, Uint8Array.of(type));
    option(OPT_SERVER_ID, ip(c.host));
    if (type !== NAK) {
      if (type !== ACK || yiaddr !== 0) option(OPT_LEASE_TIME, ip(LEASE_SECONDS));
      option(OPT_SUBNET_MASK, ip(prefixMask(c.prefix)));
      option(OPT_ROUTER, ip(c.host));
      option(OPT_DNS, ip(c.dns));
      if (c.hostname !== null) option(OPT_HOSTNAME, new TextEncoder().encode(c.hostname));
    }
    out[p++] = OPT_END;
    return Math.max(p - at, MIN_REPLY);
  }
}

/** Code → value of each option (the first occurrence); stops at END or a truncated option. */
function readOptions(msg: Uint8Array, from: number, end: number): Map<number, Uint8Array> {
  const options = new Map<number, Uint8Array>();
  let p = from;
  while (p < end) {
    const code = msg[p++];
    if (code === OPT_END) break;
    if (code === OPT_PAD) continue;
    if (p >= end) break;
    const len = msg[p++];
    if (p + len > end) break;
    if (!options.has(code)) options.set(code, msg.subarray(p, p + len));
    p += len;
  }
  return options;
}

