/** Ethernet II framing (no FCS, no VLAN tags: a tagged frame is dropped). */
import { get16, put16 } from "./bytes.ts";

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export function etherType(frame: Uint8Array): number {
  return frame.length < ETH_HEADER ? -1 : get16(frame, 12);
}

export function sourceMac(frame: Uint8Array): Uint8Array {
  return frame.subarray(6, 12);
}

export function writeEthernetHeader(out: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  out.set(dst, 0);
  out.set(src, 6);
  put16(out, 12, type);
}
