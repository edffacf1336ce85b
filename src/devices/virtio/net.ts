/**
 * virtio-net (virtio 1.2 section 5.1), the minimal modern device: one
 * receive and one transmit queue, a MAC address and link status, no
 * offloads and no mergeable receive buffers.
 *
 * Every buffer starts with the 12-byte virtio_net_hdr (always 12 bytes with
 * VIRTIO_F_VERSION_1). Without offloads the device ignores it on transmit
 * and writes zeros (num_buffers = 1) on receive. Frames that arrive while
 * the guest has no receive buffers wait in a short queue, then are dropped.
 */
import type { AccessSize } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import type { EthernetBackend } from "../../backends/net/ethernet-backend.ts";
import { VIRTIO_ID_NET, feature } from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";

export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;

export const NET_HDR_SIZE = 12;
/** Largest frame carried (64 KiB payload plus Ethernet and VLAN headers). */
export const MAX_FRAME = 65536 + 18;
/** Frames kept while the guest has no receive buffers. */
export const MAX_PENDING_RX = 256;
const RX_QUEUE = 0;
const TX_QUEUE = 1;
const CONFIG_SIZE = 12;

/** QEMU's default MAC for the first NIC. */
export const DEFAULT_MAC = "52:54:00:12:34:56";

export interface VirtioNetOptions {
  backend: EthernetBackend;
  /** "52:54:00:12:34:56" form (default DEFAULT_MAC). */
  mac?: string;
  /** Queue size of each queue (power of two; default 256, as QEMU 7.2). */
  queueSize?: number;
  /** Link state at power-on (default up). */
  linkUp?: boolean;
}

export interface VirtioNetState {
  v: 1;
  linkUp: boolean;
  pending: Uint8Array[];
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly name = "virtio-net";
  readonly features = feature(VIRTIO_NET_F_MAC) | feature(VIRTIO_NET_F_STATUS);
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(CONFIG_SIZE);
  readonly mac: Uint8Array;
  /** Counters for diagnostics and metrics. */
  readonly stats = { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0, txBytes: 0, rxBytes: 0 };
  private ctx: VirtioContext | null = null;
  private linkUp: boolean;
  /** Received frames waiting for guest buffers (copies, oldest first). */
  private pending: Uint8Array[] = [];
  readonly backend: EthernetBackend;
  private readonly txScratch = new Uint8Array(MAX_FRAME);
  private readonly rxHeader = new Uint8Array(NET_HDR_SIZE);

  constructor(opts: VirtioNetOptions) {
    this.backend = opts.backend;
    this.mac = parseMac(opts.mac ?? DEFAULT_MAC);
    const size = opts.queueSize ?? 256;
    this.queueSizes = [size, size];
    this.linkUp = opts.linkUp !== false;
    this.rxHeader[10] = 1; // num_buffers
    this.config.set(this.mac, 0);
    this.writeStatus();
    opts.backend.onReceive((frame) => this.receive(frame));
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
    if (index === RX_QUEUE) this.drainPending();
    else if (index === TX_QUEUE) this.transmit();
  }

  reset(): void {
    this.pending = [];
  }

  save(): VirtioNetState {
    return { v: 1, linkUp: this.linkUp, pending: this.pending.map((f) => f.slice()) };
  }

  restore(state: unknown): void {
    const s = state as VirtioNetState | null;
    if (s?.v !== 1 || !Array.isArray(s.pending)) throw badState(this.name, state);
    this.linkUp = s.linkUp !== false;
    this.writeStatus();
    this.pending = s.pending.slice(0, MAX_PENDING_RX).map((f) => Uint8Array.from(f));
  }

  /** A frame from the backend (valid only during this call). */
  receive(frame: Uint8Array): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.queues[RX_QUEUE].running || !this.linkUp || frame.length > MAX_FRAME) {
      this.stats.rxDropped++;
      return;
    }
    if (this.pending.length === 0 && this.deliver(frame)) return;
    if (this.pending.length >= MAX_PENDING_RX) {
      this.stats.rxDropped++;
      return;
    }
    this.pending.push(frame.slice());
  }

  private drainPending(): void {
    while (this.pending.length > 0 && this.deliver(this.pending[0])) this.pending.shift();
  }

  /** Puts one frame into the next receive buffer; false when there is none. */
  private deliver(frame: Uint8Array): boolean {
    const ctx = this.ctx as VirtioContext;
    const q = ctx.queues[RX_QUEUE];
    const c = q.pop();
    if (c === null) return false;
    if (c.writableBytes < NET_HDR_SIZE + frame.length) {
      // Without mergeable buffers a frame must fit one chain: drop it and
      // hand the buffer back empty (Linux counts a length error).
      this.stats.rxDropped++;
      q.push(c.head, 0);
    } else {
      c.writeBytes(0, this.rxHeader, 0, NET_HDR_SIZE);
      c.writeBytes(NET_HDR_SIZE, frame, 0, frame.length);
      this.stats.rxFrames++;
      this.stats.rxBytes += frame.length;
      q.push(c.head, NET_HDR_SIZE + frame.length);
    }
    ctx.notifyUsed(RX_QUEUE);
    return true;
  }

  private transmit(): void {
    const ctx = this.ctx;
    if (ctx === null) return;
    const q = ctx.queues[TX_QUEUE];
    const ram = ctx.mem.ram;
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
        if (c.readable > 0 && c.length[0] >= NET_HDR_SIZE + len) {
          // Header and frame in one buffer (what Linux does): no copy.
          const start = c.offset[0] + NET_HDR_SIZE;
          frame = ram.subarray(start, start + len);
        } else {
          c.readBytes(NET_HDR_SIZE, this.txScratch, 0, len);
          frame = this.txScratch.subarray(0, len);
        }
        this.stats.txFrames++;
        this.stats.txBytes += len;
        this.backend.send(frame);
      }
      q.push(c.head, 0);
      pushed = true;
    }
    if (pushed) ctx.notifyUsed(TX_QUEUE);
  }

  private writeStatus(): void {
    this.config[6] = this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    this.config[7] = 0;
  }
}

/** "52:54:00:12:34:56" to six bytes; throws on anything else. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`invalid MAC address "${text}": expected six hex pairs like 52:54:00:12:34:56`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
