/**
 * ARP (RFC 826) for Ethernet/IPv4: the gateway answers "who has" for its
 * own addresses (host, DNS) with its 52:55:… MAC; every request or reply
 * from the guest teaches us the guest's MAC and address.
 */
import { get16, get32, put16, put32 } from "./bytes.ts";
import { ETH_HEADER } from "./ethernet.ts";
import type { Ipv4 } from "./addresses.ts";

export const ARP_LENGTH = 28;
const OP_REQUEST = 1;
const OP_REPLY = 2;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: Ipv4;
  targetIp: Ipv4;
}

/** The ARP packet after the Ethernet header, or null unless it is Ethernet/IPv4 ARP. */
export function parseArp(frame: Uint8Array): ArpPacket | null {
  const a = ETH_HEADER;
  if (frame.length < a + ARP_LENGTH) return null;
  if (get16(frame, a) !== 1 || get16(frame, a + 2) !== 0x0800 || frame[a + 4] !== 6 || frame[a + 5] !== 4) return null;
  return {
    op: get16(frame, a + 6),
    senderMac: frame.subarray(a + 8, a + 14),
    senderIp: get32(frame, a + 14),
    targetIp: get32(frame, a + 24),
  };
}

export function isArpRequest(p: ArpPacket): boolean {
  return p.op === OP_REQUEST;
}

/** Writes an ARP reply ("targetIp is at ourMac") after the Ethernet header; returns its length. */
export function writeArpReply(out: Uint8Array, request: ArpPacket, ourMac: Uint8Array): number {
  const a = ETH_HEADER;
  put16(out, a, 1);
  put16(out, a + 2, 0x0800);
  out[a + 4] = 6;
  out[a + 5] = 4;
  put16(out, a + 6, OP_REPLY);
  out.set(ourMac, a + 8);
  put32(out, a + 14, request.targetIp);
  out.set(request.senderMac, a + 18);
  put32(out, a + 24, request.senderIp);
  return ARP_LENGTH;
}
