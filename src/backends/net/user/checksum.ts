import { ipv6Bytes } from "./ipv6-address.ts";
import type { IpAddress } from "./addresses.ts";

/**
 * The Internet checksum (RFC 1071): a ones-complement sum of 16-bit
 * big-endian words. Sums are kept as plain numbers and folded at the end; a
 * 64 KiB packet adds at most 2^15 words of 2^16, well inside 2^31.
 */

/** Adds the bytes [start, end) as big-endian 16-bit words to `sum`. */
export function sumWords(buf: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The pseudo-header sum (IPv4's, or IPv6's of RFC 8200 §8.1) that TCP, UDP and ICMPv6 checksums start from. */
export function pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number {
  if (typeof src === "number" && typeof dst === "number") {
    return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
  }
  const sum = sumWords(ipv6Bytes(String(src)), 0, 16, sumWords(ipv6Bytes(String(dst)), 0, 16));
  return sum + (length >>> 16) + (length & 0xffff) + protocol;
}
