/**
 * Receive checksum validation, as a NIC does it: a plain TCP or UDP frame
 * whose checksum the device has checked is handed to a guest that
 * negotiated GUEST_CSUM with DATA_VALID, so its kernel does not sum the
 * payload again in interpreted code. Anything this does not understand
 * (fragments, IPv6 extension headers, UDP without a checksum) is left for
 * the guest to check.
 */
import { get16 } from "../../backends/net/user/bytes.ts";
import { finishChecksum, sumWords } from "../../backends/net/user/checksum.ts";

const ETH = 14;
const PROTO_TCP = 6;
const PROTO_UDP = 17;

/** Whether `frame` is TCP or UDP over IPv4 or IPv6 with a correct checksum. */
export function transportChecksumValid(frame: Uint8Array): boolean {
  if (frame.length < ETH + 20) return false;
  const type = get16(frame, 12);
  let start: number;
  let end: number;
  let protocol: number;
  let sum: number;
  if (type === 0x0800) {
    const ihl = (frame[ETH] & 15) * 4;
    if (frame[ETH] >> 4 !== 4 || ihl < 20 || (get16(frame, ETH + 6) & 0x3fff) !== 0) return false;
    protocol = frame[ETH + 9];
    start = ETH + ihl;
    end = ETH + get16(frame, ETH + 2);
    if (end > frame.length || end < start) return false;
    sum = sumWords(frame, ETH + 12, ETH + 20);
  } else if (type === 0x86dd) {
    if (frame.length < ETH + 40 || frame[ETH] >> 4 !== 6) return false;
    protocol = frame[ETH + 6];
    start = ETH + 40;
    end = start + get16(frame, ETH + 4);
    if (end > frame.length) return false;
    sum = sumWords(frame, ETH + 8, ETH + 40);
  } else {
    return false;
  }
  const length = end - start;
  if (protocol === PROTO_TCP) {
    if (length < 20) return false;
  } else if (protocol === PROTO_UDP) {
    if (length < 8 || get16(frame, start + 6) === 0 || get16(frame, start + 4) !== length) return false;
  } else {
    return false;
  }
  return finishChecksum(sumWords(frame, start, end, sum + protocol + length)) === 0;
}
