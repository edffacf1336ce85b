/**
 * virtio-net's feature bits and its per-buffer header (virtio 1.2 §5.1.3,
 * §5.1.6): struct virtio_net_hdr, 12 bytes with VIRTIO_F_VERSION_1, little
 * endian — flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
 * num_buffers. Its offload fields map one to one onto NetOffload.
 */
import { OFFLOAD_CSUM, OFFLOAD_ECN, OFFLOAD_TSO4, OFFLOAD_TSO6, packOffload, unpackOffload, type NetOffload } from "../../backends/net/offload.ts";

export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
export const VIRTIO_NET_F_GUEST_ECN = 9;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;
export const VIRTIO_NET_F_HOST_ECN = 13;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;

export const NET_HDR_SIZE = 12;
const NUM_BUFFERS = 10;

/** The OFFLOAD_* bits negotiated for one direction, from the feature bits of that direction. */
export function offloadsOf(has: (bit: number) => boolean, csum: number, tso4: number, tso6: number, ecn: number): number {
  if (!has(csum)) return 0;
  let m = OFFLOAD_CSUM;
  if (has(tso4)) m |= OFFLOAD_TSO4;
  if (has(tso6)) m |= OFFLOAD_TSO6;
  if ((m & (OFFLOAD_TSO4 | OFFLOAD_TSO6)) !== 0 && has(ecn)) m |= OFFLOAD_ECN;
  return m;
}

/** Reads the header's offload fields from its 12 bytes at `at`. */
export function readNetHeader(b: Uint8Array, at: number, o: NetOffload): NetOffload {
  return unpackOffload(b, at, o);
}

/** Writes the 12-byte header into `b` (num_buffers 1; the receiver fixes it when a frame spans more). */
export function writeNetHeader(b: Uint8Array, o: NetOffload | null, flags: number): void {
  packOffload(b, 0, o, flags);
  b[NUM_BUFFERS] = 1;
  b[NUM_BUFFERS + 1] = 0;
}
