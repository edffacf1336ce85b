/**
 * Neighbour Discovery (RFC 4861) as slirp's router does it: neighbour
 * advertisements for the gateway's own addresses (so the guest finds their
 * MAC) and a router advertisement in answer to a router solicitation, with
 * the prefix for SLAAC (RFC 4862), the link MTU and the DNS server (RDNSS,
 * RFC 8106). Messages are only accepted with hop limit 255 (never
 * forwarded) and a good checksum; the caller checks the checksum.
 */
import { put16, put32 } from "./bytes.ts";
import { formatIpv6, ipv6Bytes, type Ipv6 } from "./ipv6-address.ts";

export const ROUTER_SOLICITATION = 133;
export const ROUTER_ADVERTISEMENT = 134;
export const NEIGHBOR_SOLICITATION = 135;
export const NEIGHBOR_ADVERTISEMENT = 136;
/** The hop limit every ND message carries. */
export const ND_HOP_LIMIT = 255;

const OPT_SOURCE_LINK_ADDRESS = 1;
const OPT_TARGET_LINK_ADDRESS = 2;
const OPT_PREFIX_INFORMATION = 3;
const OPT_MTU = 5;
const OPT_RDNSS = 25;
// slirp's timers (ip6_icmp.h): router lifetime 3 × MaxRtrAdvInterval.
const ROUTER_LIFETIME_S = 1800;
const VALID_LIFETIME_S = 86400;
const PREFERRED_LIFETIME_S = 14400;
const RDNSS_LIFETIME_S = 1800;

/** The target of a neighbour solicitation of `length` bytes at `start`, or null if malformed. */
export function solicitedTarget(packet: Uint8Array, start: number, length: number): Ipv6 | null {
  if (length < 24 || packet[start] !== NEIGHBOR_SOLICITATION || packet[start + 1] !== 0) return null;
  return formatIpv6(packet, start + 8);
}

/** Writes a neighbour advertisement for `target` at `mac` at `at`; returns its length (checksum left 0). */
export function writeNeighborAdvertisement(out: Uint8Array, at: number, target: Ipv6, mac: Uint8Array, solicited: boolean): number {
  out[at] = NEIGHBOR_ADVERTISEMENT;
  out[at + 1] = 0;
  put16(out, at + 2, 0);
  // R (a router), S (an answer), O (override any cached MAC).
  put32(out, at + 4, (0x80 | (solicited ? 0x40 : 0) | 0x20) << 24);
  out.set(ipv6Bytes(target), at + 8);
  out[at + 24] = OPT_TARGET_LINK_ADDRESS;
  out[at + 25] = 1;
  out.set(mac, at + 26);
  return 32;
}

export interface RouterAdvertisement {
  mac: Uint8Array;
  mtu: number;
  prefix: Ipv6;
  prefixLength: number;
  dns: Ipv6;
}

/** Writes a router advertisement at `at`; returns its length (checksum left 0). */
export function writeRouterAdvertisement(out: Uint8Array, at: number, ra: RouterAdvertisement): number {
  out[at] = ROUTER_ADVERTISEMENT;
  out[at + 1] = 0;
  put16(out, at + 2, 0);
  out[at + 4] = 64; // cur hop limit
  out[at + 5] = 0; // no DHCPv6 (M, O clear): addresses by SLAAC
  put16(out, at + 6, ROUTER_LIFETIME_S);
  put32(out, at + 8, 0); // reachable time: unspecified
  put32(out, at + 12, 0); // retrans timer: unspecified
  let p = at + 16;
  out[p] = OPT_SOURCE_LINK_ADDRESS;
  out[p + 1] = 1;
  out.set(ra.mac, p + 2);
  p += 8;
  out[p] = OPT_MTU;
  out[p + 1] = 1;
  put16(out, p + 2, 0);
  put32(out, p + 4, ra.mtu);
  p += 8;
  out[p] = OPT_PREFIX_INFORMATION;
  out[p + 1] = 4;
  out[p + 2] = ra.prefixLength;
  out[p + 3] = 0xc0; // L (on-link), A (autonomous: SLAAC)
  put32(out, p + 4, VALID_LIFETIME_S);
  put32(out, p + 8, PREFERRED_LIFETIME_S);
  put32(out, p + 12, 0);
  out.set(ipv6Bytes(ra.prefix), p + 16);
  p += 32;
  out[p] = OPT_RDNSS;
  out[p + 1] = 3;
  put16(out, p + 2, 0);
  put32(out, p + 4, RDNSS_LIFETIME_S);
  out.set(ipv6Bytes(ra.dns), p + 8);
  p += 24;
  return p - at;
}
