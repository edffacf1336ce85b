/**
 * IPv4 (RFC 791) headers: validation of what the guest sends (version,
 * lengths, header checksum; fragments are dropped — the guest's MTU is the
 * link's, so nothing legitimate is fragmented) and headers for what the
 * gateway sends (no options, DF set, TTL 64).
 */
import { get16, get32, put16, put32 } from "./bytes.ts";
import { finishChecksum, sumWords } from "./checksum.ts";
import { ETH_HEADER } from "./ethernet.ts";
import type { Ipv4 } from "./addresses.ts";

export const IPV4_HEADER = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export interface Ipv4Packet {
  src: Ipv4;
  dst: Ipv4;
  protocol: number;
  /** Offset of the payload in the frame. */
  payload: number;
  /** Payload length (from the header's total length, not the frame's). */
  payloadLength: number;
}

/** Why a packet was dropped: names for the stats. */
export type Ipv4Drop = "malformed" | "checksum" | "fragment";

/** The IPv4 packet in `frame`, or the reason it is dropped. */
export function parseIpv4Packet(frame: Uint8Array): Ipv4Packet | Ipv4Drop {
  const h = ETH_HEADER;
  if (frame.length < h + IPV4_HEADER) return "malformed";
  const vihl = frame[h];
  const headerLength = (vihl & 15) * 4;
  const total = get16(frame, h + 2);
  if (vihl >> 4 !== 4 || headerLength < IPV4_HEADER || total < headerLength || h + total > frame.length) return "malformed";
  if (finishChecksum(sumWords(frame, h, h + headerLength)) !== 0) return "checksum";
  const fragment = get16(frame, h + 6);
  if ((fragment & 0x3fff) !== 0) return "fragment"; // MF set or a non-zero offset
  return {
    src: get32(frame, h + 12),
    dst: get32(frame, h + 16),
    protocol: frame[h + 9],
    payload: h + headerLength,
    payloadLength: total - headerLength,
  };
}

/** Writes a 20-byte header (with checksum) after the Ethernet header. */
export function writeIpv4Header(out: Uint8Array, src: Ipv4, dst: Ipv4, protocol: number, payloadLength: number, id: number): void {
  const h = ETH_HEADER;
  out[h] = 0x45;
  out[h + 1] = 0;
  put16(out, h + 2, IPV4_HEADER + payloadLength);
  put16(out, h + 4, id & 0xffff);
  put16(out, h + 6, 0x4000); // don't fragment
  out[h + 8] = 64;
  out[h + 9] = protocol;
  put16(out, h + 10, 0);
  put32(out, h + 12, src);
  put32(out, h + 16, dst);
  put16(out, h + 10, finishChecksum(sumWords(out, h, h + IPV4_HEADER)));
}
