/** UDP (RFC 768) datagrams with the pseudo-header checksum. */
import { get16, put16 } from "./bytes.ts";
import { finishChecksum, pseudoHeaderSum, sumWords } from "./checksum.ts";
import { PROTO_UDP } from "./ipv4.ts";
import type { IpAddress } from "./addresses.ts";

export const UDP_HEADER = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  /** Offset and length of the data in the frame. */
  data: number;
  dataLength: number;
}

/** The datagram at `start` (IP payload of `length` bytes), or null if malformed or its checksum is wrong (unchecked when `partialChecksum`: see parseTcp). */
export function parseUdp(frame: Uint8Array, start: number, length: number, src: IpAddress, dst: IpAddress, partialChecksum = false): UdpDatagram | null {
  if (length < UDP_HEADER) return null;
  const udpLength = get16(frame, start + 4);
  if (udpLength < UDP_HEADER || udpLength > length) return null;
  const checksum = get16(frame, start + 6);
  if (checksum !== 0 && !partialChecksum && finishChecksum(sumWords(frame, start, start + udpLength, pseudoHeaderSum(src, dst, PROTO_UDP, udpLength))) !== 0) {
    return null;
  }
  return { srcPort: get16(frame, start), dstPort: get16(frame, start + 2), data: start + UDP_HEADER, dataLength: udpLength - UDP_HEADER };
}

/** The destination port of the datagram at `start` (whose header the caller knows is there). */
export function udpDstPort(frame: Uint8Array, start: number): number {
  return get16(frame, start + 2);
}

/** Writes a UDP header (and checksum) at `at` for `dataLength` bytes already placed after it. */
export function writeUdpHeader(out: Uint8Array, at: number, src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, dataLength: number): void {
  const length = UDP_HEADER + dataLength;
  put16(out, at, srcPort);
  put16(out, at + 2, dstPort);
  put16(out, at + 4, length);
  put16(out, at + 6, 0);
  const sum = finishChecksum(sumWords(out, at, at + length, pseudoHeaderSum(src, dst, PROTO_UDP, length)));
  put16(out, at + 6, sum === 0 ? 0xffff : sum);
}
