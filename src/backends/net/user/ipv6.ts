/**
 * IPv6 (RFC 8200) headers: validation of what the guest sends (version and
 * lengths; extension headers are not followed, so a packet that carries any
 * — MLD reports with hop-by-hop options, fragments — is dropped) and the
 * 40-byte header of what the gateway sends.
 */
import { get16, put16 } from "./bytes.ts";
import { ETH_HEADER } from "./ethernet.ts";
import { formatIpv6, ipv6Bytes, type Ipv6 } from "./ipv6-address.ts";

export const IPV6_HEADER = 40;
export const PROTO_ICMPV6 = 58;

export interface Ipv6Packet {
  src: Ipv6;
  dst: Ipv6;
  /** The next header (the transport protocol). */
  protocol: number;
  hopLimit: number;
  /** Offset of the payload in the frame. */
  payload: number;
  /** Payload length (from the header, not the frame). */
  payloadLength: number;
}

/** The IPv6 packet in `frame`, or null if it is malformed. */
export function parseIpv6Packet(frame: Uint8Array): Ipv6Packet | null {
  const h = ETH_HEADER;
  if (frame.length < h + IPV6_HEADER || frame[h] >> 4 !== 6) return null;
  const payloadLength = get16(frame, h + 4);
  if (h + IPV6_HEADER + payloadLength > frame.length) return null;
  return {
    src: formatIpv6(frame, h + 8),
    dst: formatIpv6(frame, h + 24),
    protocol: frame[h + 6],
    hopLimit: frame[h + 7],
    payload: h + IPV6_HEADER,
    payloadLength,
  };
}

/** Writes the 40-byte header after the Ethernet header. */
export function writeIpv6Header(out: Uint8Array, src: Ipv6, dst: Ipv6, protocol: number, payloadLength: number, hopLimit = 64): void {
  const h = ETH_HEADER;
  out[h] = 0x60; // version 6, traffic class 0, flow label 0
  out[h + 1] = 0;
  out[h + 2] = 0;
  out[h + 3] = 0;
  put16(out, h + 4, payloadLength);
  out[h + 6] = protocol;
  out[h + 7] = hopLimit;
  out.set(ipv6Bytes(src), h + 8);
  out.set(ipv6Bytes(dst), h + 24);
}
