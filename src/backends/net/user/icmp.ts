/** ICMP (RFC 792): the gateway answers echo requests sent to its own addresses. */
import { put16 } from "./bytes.ts";
import { finishChecksum, sumWords } from "./checksum.ts";

const ECHO_REPLY = 0;
const ECHO_REQUEST = 8;

/** True for a well-formed echo request (type, code and checksum). */
export function isEchoRequest(packet: Uint8Array, start: number, length: number): boolean {
  return length >= 8 && packet[start] === ECHO_REQUEST && packet[start + 1] === 0 && finishChecksum(sumWords(packet, start, start + length)) === 0;
}

/** Writes the echo reply for a request (same id, sequence and data) at `at` in `out`. */
export function writeEchoReply(out: Uint8Array, at: number, request: Uint8Array, start: number, length: number): void {
  out.set(request.subarray(start, start + length), at);
  out[at] = ECHO_REPLY;
  put16(out, at + 2, 0);
  put16(out, at + 2, finishChecksum(sumWords(out, at, at + length)));
}
