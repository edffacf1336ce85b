/**
 * virtio-net (virtio 1.2 section 5.1): one receive and one transmit queue,
 * a MAC address and link status, and the offloads QEMU's virtio-net offers
 * a vnet-header backend: checksums both ways (CSUM, GUEST_CSUM), TCP
 * segmentation both ways (HOST_TSO4/6, GUEST_TSO4/6, with ECN) and
 * mergeable receive buffers (MRG_RXBUF). No control queue.
 *
 * Every buffer starts with the 12-byte virtio_net_hdr (net-header.ts). On
 * transmit its offload fields go with the frame to a backend that takes
 * them (`sendOffloads`); for one that does not, the device finishes the
 * checksum and cuts the segments itself (plain-frames.ts), natively, which
 * is still far cheaper than the guest doing it in interpreted code. On
 * receive, an offloaded frame goes to the guest as it is if the guest
 * negotiated that offload, and is made plain first otherwise; a plain TCP
 * or UDP frame whose checksum the device checked is marked DATA_VALID.
 *
 * Frames that arrive while the guest has too few receive buffers wait in a
 * short queue, then are dropped.
 */
import type { AccessSize } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import type { EthernetBackend } from "../../backends/net/ethernet-backend.ts";
import { NET_HDR_F_DATA_VALID, NetOffload, acceptsAsIs } from "../../backends/net/offload.ts";
import { PlainFrames, describesFrame } from "../../backends/net/plain-frames.ts";
import { VIRTIO_ID_NET, feature } from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";
import type { DescriptorChain } from "./virtqueue.ts";
import {
  NET_HDR_SIZE, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS,
  offloadsOf, readNetHeader, writeNetHeader,
} from "./net-header.ts";
import { transportChecksumValid } from "./net-rx-checksum.ts";

export { NET_HDR_SIZE, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS } from "./net-header.ts";
export const VIRTIO_NET_S_LINK_UP = 1;

/** Largest frame carried (64 KiB payload plus Ethernet and VLAN headers). */
export const MAX_FRAME = 65536 + 18;
/** Frames kept while the guest has no receive buffers, and their bytes at most (super-frames are up to 64 KiB each). */
export const MAX_PENDING_RX = 256;
export const MAX_PENDING_RX_BYTES = 1 << 20;
const RX_QUEUE = 0;
const TX_QUEUE = 1;
const CONFIG_SIZE = 12;
/** Where num_buffers lies in the header. */
const NUM_BUFFERS_AT = 10;

/** What became of a frame offered to the receive ring. */
type DeliverResult = 0 | 1 | 2;
const DELIVERED = 0; // or dropped: done with it either way
const WAIT = 1; // too few buffers posted yet
const NEVER_FITS = 2; // larger than the whole ring's buffers

/** QEMU's default MAC for the first NIC. */
export const DEFAULT_MAC = "52:54:00:12:34:56";

const OFFERED = [
  VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS,
];

export interface VirtioNetOptions {
  backend: EthernetBackend;
  /** "52:54:00:12:34:56" form (default DEFAULT_MAC). */
  mac?: string;
  /** Queue size of each queue (power of two; default 256, as QEMU 7.2). */
  queueSize?: number;
  /** Link state at power-on (default up). */
  linkUp?: boolean;
  /** Offer checksum and segmentation offloads and mergeable buffers (default true; false: MAC and STATUS only). */
  offloads?: boolean;
}

export interface VirtioNetState {
  v: 1 | 2;
  linkUp: boolean;
  pending: Uint8Array[];
  /** v2: each pending frame's header (10 offload bytes), or null for a plain one. */
  pendingHeaders?: (Uint8Array | null)[];
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly name = "virtio-net";
  readonly features: bigint;
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(CONFIG_SIZE);
  readonly mac: Uint8Array;
  /** Counters for diagnostics and metrics. */
  readonly stats = { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0, txBytes: 0, rxBytes: 0 };
  private ctx: VirtioContext | null = null;
  private linkUp: boolean;
  /** Received frames waiting for guest buffers (copies, oldest first), with their headers (null: plain). */
  private pending: Uint8Array[] = [];
  private pendingHeaders: (Uint8Array | null)[] = [];
  private pendingBytes = 0;
  readonly backend: EthernetBackend;
  private readonly txScratch = new Uint8Array(MAX_FRAME);
  private readonly txHeader = new Uint8Array(NET_HDR_SIZE);
  private readonly txOffload = new NetOffload();
  private readonly txPlain = new PlainFrames();
  private readonly rxPlain = new PlainFrames();
  private readonly rxHeader = new Uint8Array(NET_HDR_SIZE);
  private readonly rxOffload = new NetOffload();
  /** Chains of the frame being received (mergeable buffers): heads and lengths written. */
  private readonly rxHeads: Uint16Array;
  private readonly rxLengths: Uint32Array;
  /** What we last told the backend the guest takes (a backend starts at 0; -1 after a restore: tell it again). */
  private announced = 0;
  private readonly sendToBackend = (frame: Uint8Array): void => this.backend.send(frame);
  private readonly receivePlain = (frame: Uint8Array): void => this.receive(frame);

  constructor(opts: VirtioNetOptions) {
    this.backend = opts.backend;
    this.mac = parseMac(opts.mac ?? DEFAULT_MAC);
    const size = opts.queueSize ?? 256;
    this.queueSizes = [size, size];
    this.rxHeads = new Uint16Array(size);
    this.rxLengths = new Uint32Array(size);
    this.features = (opts.offloads === false ? [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS] : OFFERED).reduce((m, bit) => m | feature(bit), 0n);
    this.linkUp = opts.linkUp !== false;
    this.config.set(this.mac, 0);
    this.writeStatus();
    opts.backend.onReceive((frame, offload) => this.receive(frame, offload));
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  /** Plugs or unplugs the cable; the guest sees a config change. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.writeStatus();
    this.ctx?.configChanged();
  }

  /**
   * Gives the card another MAC (a forked copy's own identity): the config
   * space changes and the guest is told. A running driver keeps the address
   * it read at probe time until it probes again.
   */
  setMac(text: string): void {
    this.mac.set(parseMac(text));
    this.config.set(this.mac, 0);
    this.ctx?.configChanged();
  }

  writeConfig(_offset: number, _size: AccessSize, _value: number): void {
    // The MAC is writable only on legacy devices; nothing else is writable.
  }

  queueNotify(index: number): void {
    if (index === RX_QUEUE) {
      this.announceOffloads();
      this.drainPending();
    } else if (index === TX_QUEUE) {
      this.transmit();
    }
  }

  reset(): void {
    this.pending = [];
    this.pendingHeaders = [];
    this.pendingBytes = 0;
    if (this.announced !== 0) this.backend.acceptOffloads?.(0);
    this.announced = 0;
  }

  save(): VirtioNetState {
    return {
      v: 2,
      linkUp: this.linkUp,
      pending: this.pending.map((f) => f.slice()),
      pendingHeaders: this.pendingHeaders.map((h) => (h === null ? null : h.slice())),
    };
  }

  restore(state: unknown): void {
    const s = state as VirtioNetState | null;
    if ((s?.v !== 1 && s?.v !== 2) || !Array.isArray(s.pending)) throw badState(this.name, state);
    this.linkUp = s.linkUp !== false;
    this.writeStatus();
    this.pending = s.pending.slice(0, MAX_PENDING_RX).map((f) => Uint8Array.from(f));
    this.pendingBytes = this.pending.reduce((n, f) => n + f.length, 0);
    const headers = s.v === 2 && Array.isArray(s.pendingHeaders) ? s.pendingHeaders : [];
    this.pendingHeaders = this.pending.map((_, i) => (headers[i] instanceof Uint8Array && headers[i]!.length === NET_HDR_SIZE ? Uint8Array.from(headers[i]!) : null));
    this.announced = -1;
  }

  /** The offloads the driver accepted for frames it receives (OFFLOAD_* bits). */
  private guestOffloads(): number {
    const ctx = this.ctx;
    if (ctx === null) return 0;
    return offloadsOf((b) => ctx.hasFeature(b), VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN);
  }

  /** Tells the backend what the guest takes, once it posts receive buffers (so after negotiation). */
  private announceOffloads(): void {
    const mask = this.guestOffloads();
    if (mask === this.announced) return;
    this.announced = mask;
    this.backend.acceptOffloads?.(mask);
  }

  /** A frame from the backend (valid only during this call), with its offloads if any. */
  receive(frame: Uint8Array, offload?: NetOffload): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.queues[RX_QUEUE].running || !this.linkUp || frame.length > MAX_FRAME) {
      this.stats.rxDropped++;
      return;
    }
    const guest = this.guestOffloads();
    if (offload !== undefined && !offload.plain && !describesFrame(frame, offload)) {
      this.stats.rxDropped++; // a hostile peer's description (the switch passes them on as they are)
      return;
    }
    if (offload !== undefined && !offload.plain && !acceptsAsIs(offload, guest)) {
      this.makePlain(frame, offload);
      return;
    }
    let header: NetOffload | null = null;
    let flags = 0;
    if (offload !== undefined && !offload.plain) header = offload;
    else if (guest !== 0 && transportChecksumValid(frame)) flags = NET_HDR_F_DATA_VALID;
    writeNetHeader(this.rxHeader, header, flags);
    if (this.pending.length === 0) {
      const r = this.deliver(frame, this.rxHeader);
      if (r === DELIVERED) return;
      if (r === NEVER_FITS) {
        this.tooBig(frame, this.rxHeader);
        return;
      }
    }
    if (this.pending.length >= MAX_PENDING_RX || this.pendingBytes + frame.length > MAX_PENDING_RX_BYTES) {
      this.stats.rxDropped++;
      return;
    }
    this.pendingBytes += frame.length;
    this.pending.push(frame.slice());
    this.pendingHeaders.push(header === null && flags === 0 ? null : this.rxHeader.slice());
  }

  private drainPending(): void {
    while (this.pending.length > 0) {
      const header = this.pendingHeaders[0];
      if (header === null) writeNetHeader(this.rxHeader, null, 0);
      else this.rxHeader.set(header);
      const frame = this.pending[0];
      const r = this.deliver(frame, this.rxHeader);
      if (r === WAIT) return;
      this.pending.shift();
      this.pendingHeaders.shift();
      this.pendingBytes -= frame.length;
      if (r === NEVER_FITS) this.tooBig(frame, this.rxHeader);
    }
  }

  /** Delivers the plain frames an offloaded one stands for (the guest did not negotiate its offloads). */
  private makePlain(frame: Uint8Array, offload: NetOffload): void {
    if (this.rxPlain.convert(frame, offload, this.receivePlain) !== "ok") this.stats.rxDropped++;
  }

  /** A frame larger than every receive buffer of the ring together: a super-frame is cut into segments, anything else dropped. */
  private tooBig(frame: Uint8Array, header: Uint8Array): void {
    const o = readNetHeader(header, 0, this.rxOffload);
    if (o.gsoType !== 0) this.makePlain(frame, o);
    else this.stats.rxDropped++;
  }

  /**
   * Puts one frame and its header into receive buffers: one chain, or with
   * MRG_RXBUF as many as it takes (num_buffers says how many). WAIT when
   * the guest has not posted enough yet (nothing is taken then).
   */
  private deliver(frame: Uint8Array, header: Uint8Array): DeliverResult {
    const ctx = this.ctx as VirtioContext;
    const q = ctx.queues[RX_QUEUE];
    const total = NET_HDR_SIZE + frame.length;
    if (!ctx.hasFeature(VIRTIO_NET_F_MRG_RXBUF)) {
      const c = q.pop();
      if (c === null) return WAIT;
      if (c.writableBytes < total) {
        // Without mergeable buffers a frame must fit one chain: drop it and
        // hand the buffer back empty (Linux counts a length error).
        this.stats.rxDropped++;
        q.push(c.head, 0);
      } else {
        c.writeBytes(0, header, 0, NET_HDR_SIZE);
        c.writeBytes(NET_HDR_SIZE, frame, 0, frame.length);
        this.countDelivered(frame);
        q.push(c.head, total);
      }
      ctx.notifyUsed(RX_QUEUE);
      return DELIVERED;
    }
    let used = 0;
    let written = 0;
    let lowByte = -1;
    let highByte = -1;
    while (written < total) {
      const c = q.pop();
      if (c === null) {
        q.rewind(used);
        return used < q.size ? WAIT : NEVER_FITS;
      }
      if (c.writableBytes < (used === 0 ? NET_HDR_SIZE : 1)) {
        ctx.needsReset("virtio-net: a mergeable receive buffer is smaller than the header");
        return DELIVERED;
      }
      const n = Math.min(c.writableBytes, total - written);
      if (used === 0) {
        lowByte = writableRamIndex(c, NUM_BUFFERS_AT);
        highByte = writableRamIndex(c, NUM_BUFFERS_AT + 1);
        c.writeBytes(0, header, 0, NET_HDR_SIZE);
        c.writeBytes(NET_HDR_SIZE, frame, 0, n - NET_HDR_SIZE);
      } else {
        c.writeBytes(0, frame, written - NET_HDR_SIZE, n);
      }
      this.rxHeads[used] = c.head;
      this.rxLengths[used] = n;
      used++;
      written += n;
    }
    const mem = ctx.mem;
    mem.ram[lowByte] = used;
    mem.ram[highByte] = used >>> 8;
    mem.ramWritten(lowByte, 1);
    mem.ramWritten(highByte, 1);
    for (let i = 0; i < used; i++) q.push(this.rxHeads[i], this.rxLengths[i]);
    this.countDelivered(frame);
    ctx.notifyUsed(RX_QUEUE);
    return DELIVERED;
  }

  private countDelivered(frame: Uint8Array): void {
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
  }

  private transmit(): void {
    const ctx = this.ctx;
    if (ctx === null) return;
    const q = ctx.queues[TX_QUEUE];
    const ram = ctx.mem.ram;
    const hostOffloads = offloadsOf((b) => ctx.hasFeature(b), VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN);
    const backendTakes = this.backend.sendOffloads ?? 0;
    let pushed = false;
    for (let c = q.pop(); c !== null; c = q.pop()) {
      if (c.readableBytes < NET_HDR_SIZE) {
        ctx.needsReset("virtio-net: transmit buffer shorter than the header");
        break;
      }
      const len = c.readableBytes - NET_HDR_SIZE;
      if (len > MAX_FRAME) {
        this.stats.txDropped++;
      } else {
        let frame: Uint8Array;
        let offload: NetOffload | undefined;
        if (c.readable > 0 && c.length[0] >= NET_HDR_SIZE + len) {
          // Header and frame in one buffer (what Linux does): no copy.
          const start = c.offset[0] + NET_HDR_SIZE;
          frame = ram.subarray(start, start + len);
          if (hostOffloads !== 0) offload = readNetHeader(ram, c.offset[0], this.txOffload);
        } else {
          c.readBytes(NET_HDR_SIZE, this.txScratch, 0, len);
          frame = this.txScratch.subarray(0, len);
          if (hostOffloads !== 0) {
            c.readBytes(0, this.txHeader, 0, NET_HDR_SIZE);
            offload = readNetHeader(this.txHeader, 0, this.txOffload);
          }
        }
        this.sendFrame(frame, offload, hostOffloads, backendTakes);
      }
      q.push(c.head, 0);
      pushed = true;
    }
    if (pushed) ctx.notifyUsed(TX_QUEUE);
  }

  /** One guest frame to the backend: as it is if the backend takes its offloads, made plain here otherwise. */
  private sendFrame(frame: Uint8Array, offload: NetOffload | undefined, negotiated: number, backendTakes: number): void {
    if (offload !== undefined) {
      offload.flags &= 1; // DATA_VALID and RSC_INFO mean nothing on transmit
      if (offload.plain) offload = undefined;
      else if (!acceptsAsIs(offload, negotiated)) {
        this.stats.txDropped++; // an offload the driver did not negotiate
        return;
      }
    }
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    if (offload === undefined) this.backend.send(frame);
    else if (acceptsAsIs(offload, backendTakes)) this.backend.send(frame, offload);
    else if (this.txPlain.convert(frame, offload, this.sendToBackend) !== "ok") this.stats.txDropped++;
  }

  private writeStatus(): void {
    this.config[6] = this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    this.config[7] = 0;
  }
}

/** The RAM index of byte `at` of the chain's device-writable part (which holds it). */
function writableRamIndex(c: DescriptorChain, at: number): number {
  for (let i = c.readable; i < c.count; i++) {
    if (at < c.length[i]) return c.offset[i] + at;
    at -= c.length[i];
  }
  return -1;
}

/** "52:54:00:12:34:56" to six bytes; throws on anything else. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`invalid MAC address "${text}": expected six hex pairs like 52:54:00:12:34:56`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
