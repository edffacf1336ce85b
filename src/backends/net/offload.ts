/**
 * Checksum and segmentation offloads carried beside a frame, as virtio-net's
 * header describes them (virtio 1.2 §5.1.6): a frame may hold a partial
 * checksum (NEEDS_CSUM: the field at csumStart + csumOffset holds only the
 * pseudo-header sum, the rest is left to whoever delivers it) and may be a
 * TCP "super-frame" up to 64 KiB that stands for several segments of
 * gsoSize payload bytes each (GSO). The guest's kernel then does no
 * per-byte checksum and one trip through its stack per 64 KiB, not per
 * 1460 bytes: the work moves to the host, and happens only where a frame
 * leaves for a receiver that needs plain frames (plain-frames.ts).
 *
 * The numbers are the virtio_net_hdr's, so the device copies them as is.
 */

export const NET_HDR_F_NEEDS_CSUM = 1;
export const NET_HDR_F_DATA_VALID = 2;

export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
/** Set beside a TCP gso type: segments after the first must have CWR cleared. */
export const GSO_ECN = 0x80;

/** What a receiver or sender takes (a bit mask). */
export const OFFLOAD_CSUM = 1;
export const OFFLOAD_TSO4 = 2;
export const OFFLOAD_TSO6 = 4;
export const OFFLOAD_ECN = 8;
export const OFFLOAD_ALL = OFFLOAD_CSUM | OFFLOAD_TSO4 | OFFLOAD_TSO6 | OFFLOAD_ECN;

/** Segments of one super-frame at most (64 KiB of payload in 64-byte segments): bounds a hostile frame's cost. */
export const MAX_SEGMENTS = 1024;

/** The offload description of one frame; reused by whoever fills it, so valid only during the call it is passed to. */
export class NetOffload {
  flags = 0;
  gsoType = GSO_NONE;
  /** Length of the headers (a hint; segmentation reads the real ones). */
  hdrLen = 0;
  gsoSize = 0;
  csumStart = 0;
  csumOffset = 0;

  clear(): this {
    this.flags = 0;
    this.gsoType = GSO_NONE;
    this.hdrLen = this.gsoSize = this.csumStart = this.csumOffset = 0;
    return this;
  }

  copyFrom(o: NetOffload): this {
    this.flags = o.flags;
    this.gsoType = o.gsoType;
    this.hdrLen = o.hdrLen;
    this.gsoSize = o.gsoSize;
    this.csumStart = o.csumStart;
    this.csumOffset = o.csumOffset;
    return this;
  }

  /** Nothing left to do: the frame is plain. */
  get plain(): boolean {
    return (this.flags & NET_HDR_F_NEEDS_CSUM) === 0 && (this.gsoType & ~GSO_ECN) === GSO_NONE;
  }

  /** The OFFLOAD_* bits a receiver must take to be handed this frame as it is. */
  get needs(): number {
    let n = this.flags & NET_HDR_F_NEEDS_CSUM ? OFFLOAD_CSUM : 0;
    const type = this.gsoType & ~GSO_ECN;
    if (type === GSO_TCPV4) n |= OFFLOAD_CSUM | OFFLOAD_TSO4;
    else if (type === GSO_TCPV6) n |= OFFLOAD_CSUM | OFFLOAD_TSO6;
    else if (type !== GSO_NONE) n |= 0x100; // a type nobody here takes
    if (this.gsoType & GSO_ECN) n |= OFFLOAD_ECN;
    return n;
  }
}

/** Bytes of `packOffload`'s form: virtio_net_hdr's first ten (flags, gso_type, then hdr_len, gso_size, csum_start, csum_offset little-endian). */
export const PACKED_OFFLOAD_SIZE = 10;

/** Writes `o` (or a plain frame's zeros with `flags`) at `at` in virtio_net_hdr's layout. */
export function packOffload(b: Uint8Array, at: number, o: NetOffload | null, flags = 0): void {
  if (o === null) {
    b.fill(0, at, at + PACKED_OFFLOAD_SIZE);
    b[at] = flags;
    return;
  }
  b[at] = o.flags;
  b[at + 1] = o.gsoType;
  b[at + 2] = o.hdrLen;
  b[at + 3] = o.hdrLen >>> 8;
  b[at + 4] = o.gsoSize;
  b[at + 5] = o.gsoSize >>> 8;
  b[at + 6] = o.csumStart;
  b[at + 7] = o.csumStart >>> 8;
  b[at + 8] = o.csumOffset;
  b[at + 9] = o.csumOffset >>> 8;
}

/** Reads what `packOffload` wrote at `at` into `o`. */
export function unpackOffload(b: Uint8Array, at: number, o: NetOffload): NetOffload {
  o.flags = b[at];
  o.gsoType = b[at + 1];
  o.hdrLen = b[at + 2] | (b[at + 3] << 8);
  o.gsoSize = b[at + 4] | (b[at + 5] << 8);
  o.csumStart = b[at + 6] | (b[at + 7] << 8);
  o.csumOffset = b[at + 8] | (b[at + 9] << 8);
  return o;
}

/** Whether a frame described by `o` may go as it is to a receiver taking `accepts`. */
export function acceptsAsIs(o: NetOffload | undefined, accepts: number): boolean {
  return o === undefined || o.plain || (o.needs & ~accepts) === 0;
}
