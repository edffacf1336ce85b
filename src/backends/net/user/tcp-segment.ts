/**
 * TCP segments (RFC 9293): parsing what the guest sends (checksum, header
 * length, the MSS and window-scale options) and writing segment headers.
 * Sequence numbers are unsigned 32-bit; compare them with seqDiff.
 */
import { get16, get32, put16, put32 } from "./bytes.ts";
import { finishChecksum, pseudoHeaderSum, sumWords } from "./checksum.ts";
import { PROTO_TCP } from "./ipv4.ts";
import type { IpAddress } from "./addresses.ts";

export const TCP_HEADER = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Offset and length of the payload in the frame. */
  data: number;
  dataLength: number;
  /** MSS option, or -1 when absent. */
  mss: number;
  /** Window scale option (shift 0-14), or -1 when absent. */
  windowScale: number;
}

/** a - b in sequence space: negative when a is before b. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * The segment at `start` (IP payload of `length` bytes), or null if
 * malformed or its checksum is wrong. `partialChecksum`: the sender left the
 * checksum to the device (a guest with checksum offload: the bytes never
 * crossed a wire, so there is nothing to verify).
 */
export function parseTcp(frame: Uint8Array, start: number, length: number, src: IpAddress, dst: IpAddress, partialChecksum = false): TcpSegment | null {
  if (length < TCP_HEADER) return null;
  const headerLength = (frame[start + 12] >> 4) * 4;
  if (headerLength < TCP_HEADER || headerLength > length) return null;
  if (!partialChecksum && finishChecksum(sumWords(frame, start, start + length, pseudoHeaderSum(src, dst, PROTO_TCP, length))) !== 0) return null;
  let mss = -1;
  let windowScale = -1;
  for (let p = start + TCP_HEADER, end = start + headerLength; p < end; ) {
    const kind = frame[p];
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) {
      p++;
      continue;
    }
    if (p + 1 >= end) break;
    const len = frame[p + 1];
    if (len < 2 || p + len > end) break;
    if (kind === OPT_MSS && len === 4) mss = get16(frame, p + 2);
    else if (kind === OPT_WSCALE && len === 3) windowScale = Math.min(frame[p + 2], 14);
    p += len;
  }
  return {
    srcPort: get16(frame, start),
    dstPort: get16(frame, start + 2),
    seq: get32(frame, start + 4),
    ack: get32(frame, start + 8),
    flags: frame[start + 13] & 0x3f,
    window: get16(frame, start + 14),
    data: start + headerLength,
    dataLength: length - headerLength,
    mss,
    windowScale,
  };
}

/** Options to put on a SYN: MSS, and window scale when `windowScale` ≥ 0. */
export function synOptionsLength(windowScale: number): number {
  return windowScale >= 0 ? 8 : 4;
}

/**
 * Writes a TCP header at `at` (with SYN options when `synMss` > 0), for a
 * payload of `dataLength` bytes already placed after it, and the checksum —
 * or with `partialChecksum` only the pseudo-header's part of it, for a
 * receiver that finishes checksums itself (offload.ts). Returns the segment
 * length.
 */
export function writeTcpSegment(
  out: Uint8Array, at: number, src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number,
  seq: number, ack: number, flags: number, window: number, dataLength: number, synMss = 0, synWindowScale = -1, partialChecksum = false,
): number {
  const optionsLength = synMss > 0 ? synOptionsLength(synWindowScale) : 0;
  const headerLength = TCP_HEADER + optionsLength;
  put16(out, at, srcPort);
  put16(out, at + 2, dstPort);
  put32(out, at + 4, seq);
  put32(out, at + 8, flags & ACK ? ack : 0);
  out[at + 12] = (headerLength / 4) << 4;
  out[at + 13] = flags;
  put16(out, at + 14, window);
  put16(out, at + 16, 0);
  put16(out, at + 18, 0);
  if (synMss > 0) {
    out[at + 20] = OPT_MSS;
    out[at + 21] = 4;
    put16(out, at + 22, synMss);
    if (synWindowScale >= 0) {
      out[at + 24] = OPT_NOP;
      out[at + 25] = OPT_WSCALE;
      out[at + 26] = 3;
      out[at + 27] = synWindowScale;
    }
  }
  const length = headerLength + dataLength;
  const pseudo = pseudoHeaderSum(src, dst, PROTO_TCP, length);
  put16(out, at + 16, partialChecksum ? ~finishChecksum(pseudo) & 0xffff : finishChecksum(sumWords(out, at, at + length, pseudo)));
  return length;
}
