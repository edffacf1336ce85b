/**
 * Turns an offloaded frame (offload.ts) into the plain frames it stands for:
 * a partial checksum is finished, a TCP super-frame is cut into segments of
 * gsoSize payload bytes with their own IP lengths, IPv4 ids, sequence
 * numbers, flags and full checksums — what a NIC does in hardware. Used
 * only where a frame leaves for a receiver that needs plain frames (a
 * guest that did not negotiate offloads, a socket peer, a capture).
 *
 * Everything is read from the frame itself and bounds-checked: a
 * description that does not fit the frame (the guest is hostile) yields
 * nothing and a one-word reason.
 */
import { get16, get32, put16, put32 } from "./user/bytes.ts";
import { finishChecksum, sumWords } from "./user/checksum.ts";
import { GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, MAX_SEGMENTS, NET_HDR_F_NEEDS_CSUM, type NetOffload } from "./offload.ts";

const ETH = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** Largest frame handled: a 64 KiB IP packet and its Ethernet header, with room to spare. */
export const MAX_OFFLOAD_FRAME = 65536 + 64;

export type PlainFramesResult = "ok" | "bad-csum" | "bad-gso";

export class PlainFrames {
  private readonly scratch = new Uint8Array(MAX_OFFLOAD_FRAME);
  /** Set while emitting: a receiver that answers at once through us gets a fresh buffer, not ours. */
  private busy = false;

  /**
   * Calls `emit` with each plain frame `frame` stands for (views of a
   * scratch buffer, valid during the call). Returns "ok", or why nothing
   * was emitted.
   */
  convert(frame: Uint8Array, o: NetOffload, emit: (plain: Uint8Array) => void): PlainFramesResult {
    if (frame.length > MAX_OFFLOAD_FRAME) return "bad-gso";
    if (this.busy) return new PlainFrames().convert(frame, o, emit);
    this.busy = true;
    try {
      const type = o.gsoType & ~GSO_ECN;
      if (type === GSO_NONE) return this.finishChecksum(frame, o, emit);
      if (type !== GSO_TCPV4 && type !== GSO_TCPV6) return "bad-gso";
      return this.segment(frame, type === GSO_TCPV6, o.gsoSize, emit);
    } finally {
      this.busy = false;
    }
  }

  private finishChecksum(frame: Uint8Array, o: NetOffload, emit: (plain: Uint8Array) => void): PlainFramesResult {
    if ((o.flags & NET_HDR_F_NEEDS_CSUM) === 0) {
      emit(frame);
      return "ok";
    }
    const out = this.scratch.subarray(0, frame.length);
    out.set(frame);
    if (!finishPartialChecksum(out, o)) return "bad-csum";
    emit(out);
    return "ok";
  }

  private segment(frame: Uint8Array, v6: boolean, mss: number, emit: (plain: Uint8Array) => void): PlainFramesResult {
    const h = locateTcp(frame, v6);
    if (h === null || mss <= 0) return "bad-gso";
    const { tcp, payload, end } = h;
    const total = end - payload;
    if (Math.ceil(total / mss) > MAX_SEGMENTS) return "bad-gso";
    const out = this.scratch;
    const seq0 = get32(frame, tcp + 4);
    const flags0 = frame[tcp + 13];
    const id0 = v6 ? 0 : get16(frame, ETH + 4);
    let n = 0;
    for (let p = payload; p < end || (p === payload && total === 0); p += mss, n++) {
      const len = Math.min(mss, end - p);
      const last = p + len >= end;
      out.set(frame.subarray(0, payload), 0);
      out.set(frame.subarray(p, p + len), payload);
      const ipLength = payload + len - ETH;
      if (v6) {
        put16(out, ETH + 4, ipLength - 40);
      } else {
        put16(out, ETH + 2, ipLength);
        put16(out, ETH + 4, (id0 + n) & 0xffff);
        put16(out, ETH + 10, 0);
        put16(out, ETH + 10, finishChecksum(sumWords(out, ETH, tcp)));
      }
      put32(out, tcp + 4, (seq0 + (p - payload)) >>> 0);
      let flags = flags0;
      if (!last) flags &= ~(TCP_FIN | TCP_PSH);
      if (n > 0) flags &= ~TCP_CWR;
      out[tcp + 13] = flags;
      const tcpLength = payload + len - tcp;
      put16(out, tcp + 16, 0);
      put16(out, tcp + 16, finishChecksum(sumWords(out, tcp, tcp + tcpLength, pseudoSum(out, v6, tcpLength))));
      emit(out.subarray(0, payload + len));
      if (total === 0) break;
    }
    return "ok";
  }
}

/** Finishes in place the partial checksum `o` describes (it covers csumStart to the end of the frame); false if it lies outside. */
export function finishPartialChecksum(frame: Uint8Array, o: NetOffload): boolean {
  const at = o.csumStart + o.csumOffset;
  if (o.csumStart < ETH || at + 2 > frame.length) return false;
  put16(frame, at, finishChecksum(sumWords(frame, o.csumStart, frame.length)));
  return true;
}

/**
 * Whether `o` fits `frame`: its partial checksum lies inside it and a TCP
 * super-frame has the headers its gso type names. What a receiver that
 * passes offloads on as they are (to a guest) checks first, so a hostile
 * sender's description reaches nobody.
 */
export function describesFrame(frame: Uint8Array, o: NetOffload): boolean {
  if ((o.flags & NET_HDR_F_NEEDS_CSUM) !== 0 && (o.csumStart < ETH || o.csumStart + o.csumOffset + 2 > frame.length)) return false;
  const type = o.gsoType & ~GSO_ECN;
  if (type === GSO_NONE) return true;
  if ((type !== GSO_TCPV4 && type !== GSO_TCPV6) || o.gsoSize === 0) return false;
  const h = locateTcp(frame, type === GSO_TCPV6);
  return h !== null && Math.ceil((h.end - h.payload) / o.gsoSize) <= MAX_SEGMENTS;
}

export interface TcpLayout {
  /** Offset of the TCP header, of the payload, and the end of the IP packet. */
  tcp: number;
  payload: number;
  end: number;
}

/** Where TCP and its payload lie in an untagged IPv4 or IPv6 frame (no IPv6 extension headers), or null. */
export function locateTcp(frame: Uint8Array, v6: boolean): TcpLayout | null {
  if (frame.length < ETH + (v6 ? 40 : 20) + 20 || frame.length > MAX_OFFLOAD_FRAME) return null;
  let tcp: number;
  let end: number;
  if (v6) {
    if (get16(frame, 12) !== ETHERTYPE_IPV6 || frame[ETH] >> 4 !== 6 || frame[ETH + 6] !== PROTO_TCP) return null;
    tcp = ETH + 40;
    end = tcp + get16(frame, ETH + 4);
  } else {
    if (get16(frame, 12) !== ETHERTYPE_IPV4 || frame[ETH] >> 4 !== 4 || frame[ETH + 9] !== PROTO_TCP) return null;
    if ((get16(frame, ETH + 6) & 0x3fff) !== 0) return null; // a fragment
    tcp = ETH + (frame[ETH] & 15) * 4;
    end = ETH + get16(frame, ETH + 2);
    if (tcp < ETH + 20) return null;
  }
  if (end > frame.length || tcp + 20 > end) return null;
  const payload = tcp + (frame[tcp + 12] >> 4) * 4;
  if (payload < tcp + 20 || payload > end) return null;
  return { tcp, payload, end };
}

/** The pseudo-header sum of the IP header in `frame` for a TCP segment of `length` bytes. */
function pseudoSum(frame: Uint8Array, v6: boolean, length: number): number {
  if (v6) return sumWords(frame, ETH + 8, ETH + 40) + PROTO_TCP + length;
  return sumWords(frame, ETH + 12, ETH + 20) + PROTO_TCP + length;
}

/**
 * Whether `o` leaves exactly the TCP or UDP checksum of the frame's
 * IPv4/IPv6 packet undone (and any GSO is TCP of that version): what a
 * receiver that terminates TCP and UDP itself can take as it is.
 */
export function partialAtTransport(frame: Uint8Array, o: NetOffload): boolean {
  if ((o.flags & NET_HDR_F_NEEDS_CSUM) === 0 || frame.length < ETH + 20) return false;
  const type = get16(frame, 12);
  const gso = o.gsoType & ~GSO_ECN;
  let transport: number;
  let protocol: number;
  if (type === ETHERTYPE_IPV4) {
    if (gso !== GSO_NONE && gso !== GSO_TCPV4) return false;
    transport = ETH + (frame[ETH] & 15) * 4;
    protocol = frame[ETH + 9];
  } else if (type === ETHERTYPE_IPV6) {
    if (gso !== GSO_NONE && gso !== GSO_TCPV6) return false;
    transport = ETH + 40;
    protocol = frame[ETH + 6];
  } else {
    return false;
  }
  if (o.csumStart !== transport) return false;
  if (protocol === PROTO_TCP) return o.csumOffset === 16;
  return protocol === PROTO_UDP && o.csumOffset === 6 && gso === GSO_NONE;
}
