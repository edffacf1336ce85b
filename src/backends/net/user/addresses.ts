/**
 * IPv4 addresses as unsigned 32-bit numbers, and the MAC addresses the
 * virtual gateway answers with (QEMU slirp's 52:55 followed by the IPv4
 * address, so 10.0.2.2 is 52:55:0a:00:02:02). An address of either family
 * is an IpAddress: a number for IPv4, canonical text for IPv6
 * (ipv6-address.ts), so TCP and UDP handle both with one code path.
 */
import type { Ipv6 } from "./ipv6-address.ts";

export type Ipv4 = number;
export type IpAddress = Ipv4 | Ipv6;

/** Ethernet (14) + IPv4 (20, no options) or IPv6 (40, no extension headers). */
export function ipPayloadOffset(ip: IpAddress): number {
  return typeof ip === "number" ? 34 : 54;
}

/** "10.0.2.15" to a number; null unless it is a dotted quad. */
export function parseIpv4(text: string): Ipv4 | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIpv4(ip: Ipv4): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** The netmask of a prefix length (0-32). */
export function prefixMask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** 127.0.0.0/8: the host's own loopback. */
export function isLoopback(ip: Ipv4): boolean {
  return ip >>> 24 === 127;
}

/** The MAC the gateway uses for one of its addresses. */
export function gatewayMac(ip: Ipv4): Uint8Array {
  return Uint8Array.of(0x52, 0x55, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255);
}

export const BROADCAST_MAC = new Uint8Array([255, 255, 255, 255, 255, 255]);

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}
