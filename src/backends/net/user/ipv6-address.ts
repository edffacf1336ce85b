/**
 * IPv6 addresses. Inside the NAT an address is its canonical text (RFC
 * 5952: lower case, longest zero run as "::"), so it compares with === and
 * keys maps as IPv4 numbers do, and node:net takes it as it is; the bytes
 * are parsed back (and cached) where a header or checksum needs them.
 */
import { get16, put16 } from "./bytes.ts";

/** Canonical RFC 5952 text, e.g. "fec0::2". */
export type Ipv6 = string;

/** "2001:db8::1" (any valid form but embedded IPv4) to 16 bytes; null if unparsable. */
export function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0) || (halves.length === 2 && fill === 0)) return null;
  const groups = [...head, ...Array<string>(fill).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => put16(out, 2 * i, parseInt(g, 16)));
  return out;
}

/** The canonical text of 16 bytes at `at`. */
export function formatIpv6(b: Uint8Array, at = 0): Ipv6 {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(get16(b, at + 2 * i));
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  return bestStart < 0 ? hex(0, 8) : `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Text in any valid form to canonical text; null if unparsable. */
export function canonicalIpv6(text: string): Ipv6 | null {
  const b = parseIpv6(text);
  return b === null ? null : formatIpv6(b);
}

const bytesCache = new Map<Ipv6, Uint8Array>();
const BYTES_CACHE_LIMIT = 1024;

/** The 16 bytes of a canonical address (cached: the same few addresses recur in every packet). */
export function ipv6Bytes(ip: Ipv6): Uint8Array {
  let b = bytesCache.get(ip);
  if (b === undefined) {
    b = parseIpv6(ip) ?? new Uint8Array(16);
    if (bytesCache.size >= BYTES_CACHE_LIMIT) bytesCache.clear();
    bytesCache.set(ip, b);
  }
  return b;
}

/** True when the first `bits` bits of `ip` and `prefix` agree. */
export function inIpv6Prefix(ip: Ipv6, prefix: Ipv6, bits: number): boolean {
  const a = ipv6Bytes(ip);
  const p = ipv6Bytes(prefix);
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i] & mask) !== (p[i] & mask)) return false;
  }
  return true;
}

/** `ip` with all but its first `bits` bits cleared. */
export function ipv6Network(ip: Ipv6, bits: number): Ipv6 {
  const b = ipv6Bytes(ip).slice();
  for (let i = 0; i < 16; i++, bits -= 8) b[i] &= bits >= 8 ? 0xff : bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  return formatIpv6(b);
}

export function isLinkLocal(ip: Ipv6): boolean {
  return ip.startsWith("fe8") || ip.startsWith("fe9") || ip.startsWith("fea") || ip.startsWith("feb");
}

export function isIpv6Multicast(ip: Ipv6): boolean {
  return ip.startsWith("ff");
}

/** The all-nodes multicast address: where router advertisements go. */
export const ALL_NODES: Ipv6 = "ff02::1";
/** The router's link-local address (slirp's): the source of its advertisements. */
export const ROUTER_LINK_LOCAL: Ipv6 = "fe80::2";
export const UNSPECIFIED: Ipv6 = "::";
export const LOOPBACK6: Ipv6 = "::1";

/** The Ethernet multicast MAC of an IPv6 multicast address (33:33 + its low 32 bits). */
export function multicastMac(ip: Ipv6): Uint8Array {
  const b = ipv6Bytes(ip);
  return Uint8Array.of(0x33, 0x33, b[12], b[13], b[14], b[15]);
}
