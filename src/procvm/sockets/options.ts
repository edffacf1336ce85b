/**
 * Socket options kept per socket: which (level, name) pairs a socket of
 * some family accepts, how setsockopt validates and normalises each value
 * (booleans read back as 0/1, buffer sizes doubled and clamped as Linux
 * does) and what getsockopt returns. Options whose value comes from the
 * socket's state (SO_TYPE, SO_ERROR, SO_PEERCRED...) are answered by the
 * socket classes; applying a value to a host socket is theirs too.
 */
import * as fs from "node:fs";
import { ERRNO } from "../abi.ts";
import {
  IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPV6_MTU_DISCOVER, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP, IPV6_RECVERR, IPV6_RECVPKTINFO, IPV6_TCLASS, IPV6_UNICAST_HOPS, IPV6_V6ONLY, IP_BIND_ADDRESS_NO_PORT,
  IP_FREEBIND, IP_MTU_DISCOVER, IP_MULTICAST_IF, IP_MULTICAST_LOOP, IP_MULTICAST_TTL, IP_PKTINFO, IP_RECVERR, IP_RECVTOS,
  IP_TOS, IP_TTL, SOL_SOCKET, SO_BROADCAST, SO_BUSY_POLL, SO_DEBUG, SO_DONTROUTE, SO_INCOMING_CPU, SO_KEEPALIVE,
  SO_LINGER, SO_MARK, SO_OOBINLINE, SO_PASSCRED, SO_PRIORITY, SO_RCVBUF, SO_RCVBUFFORCE, SO_RCVLOWAT, SO_RCVTIMEO,
  SO_REUSEADDR, SO_REUSEPORT, SO_RXQ_OVFL, SO_SNDBUF, SO_SNDBUFFORCE, SO_SNDLOWAT, SO_SNDTIMEO, SO_TIMESTAMP,
  TCP_CORK, TCP_DEFER_ACCEPT, TCP_FASTOPEN, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_LINGER2, TCP_MAXSEG,
  TCP_NODELAY, TCP_NOTSENT_LOWAT, TCP_QUICKACK, TCP_SYNCNT, TCP_USER_TIMEOUT, TCP_WINDOW_CLAMP,
} from "./constants.ts";

type Kind =
  | "bool" // stored as 0/1
  | "int"
  | "timeval" // struct timeval { i64 sec; i64 usec }
  | "linger" // struct linger { i32 onoff; i32 linger }
  | "sndbuf"
  | "rcvbuf";

interface OptionSpec {
  kind: Kind;
  initial: number;
  /** Accepted range for "int" options (EINVAL outside). */
  range?: [number, number];
}

/** SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF of a 64-bit Linux. */
const MIN_SNDBUF = 4608;
const MIN_RCVBUF = 2304;

/** A host sysctl (the values qemu-user's guests see), or `fallback`. */
function sysctl(name: string, field: number, fallback: number): number {
  try {
    const v = Number(fs.readFileSync(`/proc/sys/${name}`, "latin1").trim().split(/\s+/)[field]);
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/** Buffer-size defaults and limits, read once from the host's sysctls. */
export const BUFFER_SIZES = {
  wmemDefault: sysctl("net/core/wmem_default", 0, 212992),
  rmemDefault: sysctl("net/core/rmem_default", 0, 212992),
  wmemMax: sysctl("net/core/wmem_max", 0, 212992),
  rmemMax: sysctl("net/core/rmem_max", 0, 212992),
  tcpWmem: sysctl("net/ipv4/tcp_wmem", 1, 16384),
  tcpRmem: sysctl("net/ipv4/tcp_rmem", 1, 131072),
};

const key = (level: number, name: number) => level * 0x10000 + name;

function table(level: number, entries: Array<[number, Kind, number, [number, number]?]>): Map<number, OptionSpec> {
  return new Map(entries.map(([name, kind, initial, range]) => [key(level, name), { kind, initial, range }]));
}

/** SOL_SOCKET options every socket accepts; `sndbuf`/`rcvbuf` are the family's defaults. */
function socketLevel(sndbuf: number, rcvbuf: number): Map<number, OptionSpec> {
  return table(SOL_SOCKET, [
    [SO_DEBUG, "bool", 0], [SO_REUSEADDR, "bool", 0], [SO_DONTROUTE, "bool", 0], [SO_BROADCAST, "bool", 0],
    [SO_SNDBUF, "sndbuf", sndbuf], [SO_RCVBUF, "rcvbuf", rcvbuf], [SO_SNDBUFFORCE, "sndbuf", sndbuf],
    [SO_RCVBUFFORCE, "rcvbuf", rcvbuf], [SO_KEEPALIVE, "bool", 0], [SO_OOBINLINE, "bool", 0],
    [SO_PRIORITY, "int", 0], [SO_LINGER, "linger", 0], [SO_REUSEPORT, "bool", 0], [SO_PASSCRED, "bool", 0],
    [SO_RCVLOWAT, "int", 1], [SO_SNDLOWAT, "int", 1], [SO_RCVTIMEO, "timeval", 0], [SO_SNDTIMEO, "timeval", 0],
    [SO_TIMESTAMP, "bool", 0], [SO_MARK, "int", 0], [SO_RXQ_OVFL, "bool", 0], [SO_BUSY_POLL, "int", 0],
    [SO_INCOMING_CPU, "int", -1],
  ]);
}

const IP_LEVEL = table(IPPROTO_IP, [
  [IP_TOS, "int", 0, [0, 255]], [IP_TTL, "int", 64, [-1, 255]], [IP_PKTINFO, "bool", 0], [IP_MTU_DISCOVER, "int", 1, [0, 5]],
  [IP_RECVERR, "bool", 0], [IP_RECVTOS, "bool", 0], [IP_FREEBIND, "bool", 0], [IP_BIND_ADDRESS_NO_PORT, "bool", 0],
  [IP_MULTICAST_IF, "int", 0], [IP_MULTICAST_TTL, "int", 1, [-1, 255]], [IP_MULTICAST_LOOP, "bool", 1],
]);

const IPV6_LEVEL = table(IPPROTO_IPV6, [
  [IPV6_V6ONLY, "bool", sysctl("net/ipv6/bindv6only", 0, 0) === 1 ? 1 : 0], [IPV6_UNICAST_HOPS, "int", 64, [-1, 255]],
  [IPV6_MULTICAST_IF, "int", 0], [IPV6_MULTICAST_HOPS, "int", 1, [-1, 255]], [IPV6_MULTICAST_LOOP, "bool", 1],
  [IPV6_MTU_DISCOVER, "int", 1, [0, 5]], [IPV6_RECVERR, "bool", 0], [IPV6_RECVPKTINFO, "bool", 0],
  [IPV6_TCLASS, "int", 0, [-1, 255]],
]);

const TCP_LEVEL = table(IPPROTO_TCP, [
  [TCP_NODELAY, "bool", 0], [TCP_MAXSEG, "int", 536], [TCP_CORK, "bool", 0], [TCP_KEEPIDLE, "int", 7200, [1, 32767]],
  [TCP_KEEPINTVL, "int", 75, [1, 32767]], [TCP_KEEPCNT, "int", 9, [1, 127]], [TCP_SYNCNT, "int", 6, [1, 127]],
  [TCP_LINGER2, "int", 60], [TCP_DEFER_ACCEPT, "int", 0], [TCP_WINDOW_CLAMP, "int", 0], [TCP_QUICKACK, "bool", 1],
  [TCP_USER_TIMEOUT, "int", 0, [0, 0x7fffffff]], [TCP_FASTOPEN, "int", 0], [TCP_NOTSENT_LOWAT, "int", 0],
]);

export type OptionSet = Map<number, OptionSpec>;

function merge(...maps: OptionSet[]): OptionSet {
  return new Map(maps.flatMap((m) => [...m]));
}

export const UNIX_OPTIONS = socketLevel(BUFFER_SIZES.wmemDefault, BUFFER_SIZES.rmemDefault);
/** Netlink's own level (SOL_NETLINK) is the socket's: its options are bits with rules of their own. */
export const NETLINK_OPTIONS = socketLevel(BUFFER_SIZES.wmemDefault, BUFFER_SIZES.rmemDefault);
export const TCP4_OPTIONS = merge(socketLevel(BUFFER_SIZES.tcpWmem, BUFFER_SIZES.tcpRmem), IP_LEVEL, TCP_LEVEL);
export const TCP6_OPTIONS = merge(TCP4_OPTIONS, IPV6_LEVEL);
export const UDP4_OPTIONS = merge(socketLevel(BUFFER_SIZES.wmemDefault, BUFFER_SIZES.rmemDefault), IP_LEVEL);
export const UDP6_OPTIONS = merge(UDP4_OPTIONS, IPV6_LEVEL);

export class SocketOptions {
  private readonly values = new Map<number, number | Uint8Array>();

  constructor(private readonly specs: OptionSet) {}

  /** setsockopt: 0, or -ENOPROTOOPT (unknown) / -EINVAL (too short, out of range) / -EDOM (bad timeval). */
  set(level: number, name: number, raw: Uint8Array): number {
    const spec = this.specs.get(key(level, name));
    if (spec === undefined) return -ERRNO.ENOPROTOOPT;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    switch (spec.kind) {
      case "timeval": {
        if (raw.length < 16) return -ERRNO.EINVAL;
        const sec = dv.getBigInt64(0, true);
        const usec = dv.getBigInt64(8, true);
        if (usec < 0n || usec >= 1_000_000n) return -ERRNO.EDOM;
        const out = new Uint8Array(16);
        if (sec > 0n || (sec === 0n && usec > 0n)) out.set(raw.subarray(0, 16));
        this.values.set(key(level, name), out);
        return 0;
      }
      case "linger": {
        if (raw.length < 8) return -ERRNO.EINVAL;
        const out = new Uint8Array(8);
        const ov = new DataView(out.buffer);
        ov.setInt32(0, dv.getInt32(0, true) !== 0 ? 1 : 0, true);
        ov.setInt32(4, dv.getInt32(4, true), true);
        this.values.set(key(level, name), out);
        return 0;
      }
    }
    if (raw.length < 4) return -ERRNO.EINVAL;
    const v = dv.getInt32(0, true);
    let stored: number;
    switch (spec.kind) {
      case "bool":
        stored = v !== 0 ? 1 : 0;
        break;
      case "sndbuf":
        stored = Math.max(Math.min(v >>> 0, BUFFER_SIZES.wmemMax) * 2, MIN_SNDBUF);
        name = SO_SNDBUF;
        break;
      case "rcvbuf":
        stored = Math.max(Math.min(v >>> 0, BUFFER_SIZES.rmemMax, 0x3fffffff) * 2, MIN_RCVBUF);
        name = SO_RCVBUF;
        break;
      default:
        if (spec.range !== undefined && (v < spec.range[0] || v > spec.range[1])) return -ERRNO.EINVAL;
        // -1 means "the default" for TTLs and hop limits
        stored = v === -1 && spec.range?.[0] === -1 ? spec.initial : v;
    }
    this.values.set(key(level, name), stored);
    return 0;
  }

  /** getsockopt: the value's bytes (the caller truncates to the guest's length), or -ENOPROTOOPT. */
  get(level: number, name: number): Uint8Array | number {
    const spec = this.specs.get(key(level, name));
    if (spec === undefined) return -ERRNO.ENOPROTOOPT;
    const v = this.values.get(key(level, name)) ?? (spec.kind === "timeval" ? new Uint8Array(16) : spec.kind === "linger" ? new Uint8Array(8) : spec.initial);
    if (typeof v !== "number") return v.slice();
    const out = new Uint8Array(4);
    new DataView(out.buffer).setInt32(0, v, true);
    return out;
  }

  /** An integer option's current value (internal use: buffer sizes, flags to apply). */
  int(level: number, name: number): number {
    const v = this.values.get(key(level, name));
    return typeof v === "number" ? v : (this.specs.get(key(level, name))?.initial ?? 0);
  }

  /** SO_RCVTIMEO / SO_SNDTIMEO in ms; 0 when none is set. */
  timeoutMs(name: typeof SO_RCVTIMEO | typeof SO_SNDTIMEO): number {
    const v = this.values.get(key(SOL_SOCKET, name));
    if (!(v instanceof Uint8Array)) return 0;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Number(dv.getBigInt64(0, true)) * 1000 + Number(dv.getBigInt64(8, true)) / 1000;
  }

  /** Copies every value (an accepted socket inherits its listener's options). */
  copyFrom(other: SocketOptions): void {
    for (const [k, v] of other.values) this.values.set(k, typeof v === "number" ? v : v.slice());
  }
}
