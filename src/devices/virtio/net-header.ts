/**
 * virtio-net's feature bits and its per-buffer header (virtio 1.2 §5.1.3,
 * §5.1.6): struct virtio_net_hdr, 12 bytes with VIRTIO_F_VERSION_1, little
 * endian — flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
 * num_buffers. Its offload fields map one to one onto NetOffload.
 */
import { OFFLOAD_CSUM, OFFLOAD_ECN, OFFLOAD_TSO4, OFFLOAD_TSO6, type NetOffload } from "../../backends/net/offload.ts";

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
  o.flags = b[at];
  o.gsoType = b[at + 1];
  o.hdrLen = b[at + 2] | (b[at + 3] << 8);
  o.gsoSize = b[at + 4] | (b[at + 5] << 8);
  o.csumStart = b[at + 6] | (b[at + 7] << 8);
  o.csumOffset = b[at + 8] | (b[at + 9] << 8);
  return o;
}

/** Writes the 12-byte header into `b` (num_buffers 1; the receiver fixes it when a frame spans more). */
export function writeNetHeader(b: Uint8Array, o: NetOffload | null, flags: number): void {
  b.fill(0, 0, NET_HDR_SIZE);
  b[NUM_BUFFERS] = 1;
  if (o === null) {
    b[0] = flags;
    return;
  }
  b[0] = o.flags;
  b[1] = o.gsoType;
  b[2] = o.hdrLen;
  b[3] = o.hdrLen >>> 8;
  b[4] = o.gsoSize;
  b[5] = o.gsoSize >>> 8;
  b[6] = o.csumStart;
  b[7] = o.csumStart >>> 8;
  b[8] = o.csumOffset;
  b[9] = o.csumOffset >>> 8;
}
