/**
 * ICMP echo (RFC 792, and ICMPv6's of RFC 4443): the gateway answers echo
 * requests sent to its own addresses. ICMPv6 differs in the type numbers
 * and in a checksum that starts from the pseudo-header sum.
 */
import { put16 } from "./bytes.ts";
import { finishChecksum, sumWords } from "./checksum.ts";

export const ECHO_REQUEST = 8;
export const ECHO_REPLY = 0;
export const ECHO6_REQUEST = 128;
export const ECHO6_REPLY = 129;

/** True for a well-formed echo request (type, code and checksum; `pseudoSum` for ICMPv6). */
export function isEchoRequest(packet: Uint8Array, start: number, length: number, type = ECHO_REQUEST, pseudoSum = 0): boolean {
  return length >= 8 && packet[start] === type && packet[start + 1] === 0 && finishChecksum(sumWords(packet, start, start + length, pseudoSum)) === 0;
}

/** Writes the echo reply for a request (same id, sequence and data) at `at` in `out`. */
export function writeEchoReply(out: Uint8Array, at: number, request: Uint8Array, start: number, length: number, type = ECHO_REPLY, pseudoSum = 0): void {
  out.set(request.subarray(start, start + length), at);
  out[at] = type;
  put16(out, at + 2, 0);
  put16(out, at + 2, finishChecksum(sumWords(out, at, at + length, pseudoSum)));
}
