/**
 * Split virtqueues (virtio 1.2 section 2.7), device side, independent of the
 * device type and of the transport.
 *
 * The guest is hostile: every index, address and length read from guest
 * memory is checked before use. A violation never throws; the queue stops
 * and reports it through the `fault` callback, and the transport then puts
 * the device into DEVICE_NEEDS_RESET. Ring offsets are checked once, when the
 * driver enables the queue; buffer addresses on every `pop`.
 *
 * Hot path: `pop` fills one reusable `DescriptorChain` (typed arrays of RAM
 * offsets and lengths), so processing a request allocates nothing.
 */
/**
 * What the virtqueue needs from guest memory (the Bus provides it): the RAM
 * bytes, a bounds check that turns a guest-physical range into an index
 * into them, or -1 when any byte of it is not RAM (and makes the range
 * present: lazy restore), and the report of a write (decoded code, dirty
 * pages).
 */
export interface GuestMemory {
  readonly ram: Uint8Array;
  ramOffset(paddr: number, len: number): number;
  /** RAM bytes [off, off + len) were written by a device. */
  ramWritten(off: number, len: number): void;
}

export const MAX_QUEUE_SIZE = 32768;
/** Longest indirect table accepted (QEMU's limit; Linux needs seg_max + 2). */
export const MAX_INDIRECT_DESCRIPTORS = 1024;

const DESC_SIZE = 16;
const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
const DESC_F_INDIRECT = 4;
const AVAIL_F_NO_INTERRUPT = 1;

/** A 64-bit guest address from its halves, or -1 when it is beyond 2^53 (never RAM). */
export function joinAddress(lo: number, hi: number): number {
  hi >>>= 0;
  return hi >= 0x200000 ? -1 : hi * 0x1_0000_0000 + (lo >>> 0);
}

/**
 * One descriptor chain taken from the available ring, as validated RAM
 * segments. Segments [0, readable) are device-readable, [readable, count)
 * device-writable (the spec requires readable ones first; `pop` enforces it).
 */
export class DescriptorChain {
  /** Head descriptor index, to hand back with `Virtqueue.push`. */
  head = 0;
  count = 0;
  readable = 0;
  readableBytes = 0;
  writableBytes = 0;
  /** Index into guest RAM of each segment. */
  readonly offset: Uint32Array;
  readonly length: Uint32Array;

  readonly ram: Uint8Array;

  constructor(
    readonly mem: GuestMemory,
    readonly capacity: number,
  ) {
    this.ram = mem.ram;
    this.offset = new Uint32Array(capacity);
    this.length = new Uint32Array(capacity);
  }

  /**
   * Copies up to `len` bytes of the device-readable part, starting `from`
   * bytes into it, to `dst[dstOffset..]`. Returns the number copied.
   */
  readBytes(from: number, dst: Uint8Array, dstOffset: number, len: number): number {
    return this.copy(0, this.readable, from, dst, dstOffset, len, false);
  }

  /**
   * Copies `src[srcOffset .. srcOffset+len)` into the device-writable part,
   * starting `from` bytes into it. Returns the number copied (less than `len`
   * when the buffers are too short).
   */
  writeBytes(from: number, src: Uint8Array, srcOffset: number, len: number): number {
    return this.copy(this.readable, this.count, from, src, srcOffset, len, true);
  }

  private copy(
    first: number,
    end: number,
    from: number,
    other: Uint8Array,
    otherOffset: number,
    len: number,
    toGuest: boolean,
  ): number {
    const ram = this.ram;
    let done = 0;
    for (let i = first; i < end && done < len; i++) {
      const segLen = this.length[i];
      if (from >= segLen) {
        from -= segLen;
        continue;
      }
      const n = Math.min(segLen - from, len - done);
      const g = this.offset[i] + from;
      const o = otherOffset + done;
      if (n <= 32) {
        // Headers and status bytes: a loop beats creating a subarray view.
        if (toGuest) for (let k = 0; k < n; k++) ram[g + k] = other[o + k];
        else for (let k = 0; k < n; k++) other[o + k] = ram[g + k];
      } else if (toGuest) {
        ram.set(other.subarray(o, o + n), g);
      } else {
        other.set(ram.subarray(g, g + n), o);
      }
      if (toGuest) this.mem.ramWritten(g, n);
      done += n;
      from = 0;
    }
    return done;
  }
}

/** Plain saved state of one queue. Addresses are [low, high] 32-bit halves. */
export interface VirtqueueState {
  size: number;
  ready: boolean;
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
  lastAvail: number;
  nextUsed: number;
  signalledUsed: number;
  signalledValid: boolean;
}

export class Virtqueue {
  /** QueueNum as written by the driver (defaults to the maximum). */
  size: number;
  /** QueueReady as written by the driver and accepted by `enable`. */
  ready = false;
  descLo = 0;
  descHi = 0;
  driverLo = 0;
  driverHi = 0;
  deviceLo = 0;
  deviceHi = 0;
  /** Negotiated VIRTIO_F_EVENT_IDX / VIRTIO_F_INDIRECT_DESC; set by the transport. */
  eventIdx = false;
  indirect = false;
  /** Whether the device may process the queue (DRIVER_OK and no fault); set by the transport. */
  running = false;
  /** Free-running avail index of the next chain to take. */
  lastAvail = 0;
  /** Free-running used index of the next entry to write. */
  nextUsed = 0;
  /** Used index at the last `needsInterrupt` (for VIRTIO_F_EVENT_IDX). */
  private signalledUsed = 0;
  private signalledValid = false;
  /** RAM indices of the three rings; -1 while the queue is not enabled. */
  private descOff = -1;
  private availOff = -1;
  private usedOff = -1;
  private readonly view: DataView;
  private readonly chain: DescriptorChain;

  constructor(
    private readonly mem: GuestMemory,
    readonly maxSize: number,
    private readonly fault: (reason: string) => void,
  ) {
    if (!(maxSize >= 1 && maxSize <= MAX_QUEUE_SIZE && (maxSize & (maxSize - 1)) === 0)) {
      throw new Error(`virtqueue size ${maxSize} must be a power of two from 1 to ${MAX_QUEUE_SIZE}`);
    }
    this.size = maxSize;
    const ram = mem.ram;
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    this.chain = new DescriptorChain(mem, maxSize + MAX_INDIRECT_DESCRIPTORS);
  }

  /** Back to the state after a device reset. */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descLo = this.descHi = 0;
    this.driverLo = this.driverHi = 0;
    this.deviceLo = this.deviceHi = 0;
    this.eventIdx = false;
    this.indirect = false;
    this.running = false;
    this.lastAvail = 0;
    this.nextUsed = 0;
    this.signalledUsed = 0;
    this.signalledValid = false;
    this.descOff = this.availOff = this.usedOff = -1;
  }

  /**
   * The driver set QueueReady: checks size, alignment and that the three
   * rings lie in RAM. Returns null when the queue is now ready, else why not.
   */
  enable(): string | null {
    const n = this.size;
    if (!(n >= 1 && n <= this.maxSize && (n & (n - 1)) === 0)) {
      return `queue size ${n} is not a power of two up to ${this.maxSize}`;
    }
    const desc = joinAddress(this.descLo, this.descHi);
    const avail = joinAddress(this.driverLo, this.driverHi);
    const used = joinAddress(this.deviceLo, this.deviceHi);
    if (desc < 0 || desc % 16 !== 0) return "descriptor table is misaligned or out of range";
    if (avail < 0 || avail % 2 !== 0) return "available ring is misaligned or out of range";
    if (used < 0 || used % 4 !== 0) return "used ring is misaligned or out of range";
    // Sizes include used_event / avail_event, present whether or not EVENT_IDX is used.
    const descOff = this.inRam(desc, DESC_SIZE * n);
    const availOff = this.inRam(avail, 6 + 2 * n);
    const usedOff = this.inRam(used, 6 + 8 * n);
    if (descOff < 0 || availOff < 0 || usedOff < 0) return "a ring lies outside guest RAM";
    this.descOff = descOff;
    this.availOff = availOff;
    this.usedOff = usedOff;
    this.ready = true;
    return null;
  }

  /** The driver cleared QueueReady. Indices are kept, as on QEMU. */
  disable(): void {
    this.ready = false;
    this.descOff = this.availOff = this.usedOff = -1;
  }

  /**
   * Takes the next available descriptor chain, or returns null when there is
   * none, the queue is not running, or the chain is invalid (then the queue
   * has reported a fault). The returned object is reused by the next `pop`.
   */
  pop(): DescriptorChain | null {
    if (!this.ready || !this.running) return null;
    const view = this.view;
    const size = this.size;
    const availIdx = view.getUint16(this.availOff + 2, true);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > size) {
      return this.fail(`available index jumped from ${this.lastAvail} to ${availIdx}`);
    }
    const head = view.getUint16(this.availOff + 4 + 2 * (this.lastAvail & (size - 1)), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.eventIdx) {
      // avail_event: ask for a notification as soon as anything new arrives.
      view.setUint16(this.usedOff + 4 + 8 * size, this.lastAvail, true);
      this.mem.ramWritten(this.usedOff + 4 + 8 * size, 2);
    }
    if (head >= size) return this.fail(`chain head ${head} is beyond queue size ${size}`);
    return this.walk(head);
  }

  /**
   * Gives back the last `count` chains taken by `pop` and not pushed (a
   * receiver found too few buffers for a whole frame): they come again from
   * the next `pop`. With EVENT_IDX the driver is asked to notify at its next
   * addition, so the wait for more buffers ends.
   */
  rewind(count: number): void {
    if (this.availOff < 0 || count <= 0) return;
    this.lastAvail = (this.lastAvail - count) & 0xffff;
    if (this.eventIdx) {
      const at = this.usedOff + 4 + 8 * this.size;
      this.view.setUint16(at, this.view.getUint16(this.availOff + 2, true), true);
      this.mem.ramWritten(at, 2);
    }
  }

  private walk(head: number): DescriptorChain | null {
    const view = this.view;
    const chain = this.chain;
    chain.head = head;
    chain.count = 0;
    chain.readable = 0;
    chain.readableBytes = 0;
    chain.writableBytes = 0;
    let table = this.descOff;
    let tableLen = this.size;
    let inIndirect = false;
    let index = head;
    let steps = 0;
    for (;;) {
      if (++steps > tableLen) return this.fail("descriptor chain loops or is longer than its table");
      const d = table + DESC_SIZE * index;
      const addrLo = view.getUint32(d, true);
      const addrHi = view.getUint32(d + 4, true);
      const len = view.getUint32(d + 8, true);
      const flags = view.getUint16(d + 12, true);
      const next = view.getUint16(d + 14, true);
      if ((flags & DESC_F_INDIRECT) !== 0) {
        if (!this.indirect) return this.fail("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
        if (inIndirect) return this.fail("nested indirect descriptor");
        if ((flags & DESC_F_NEXT) !== 0) return this.fail("indirect descriptor with NEXT set");
        if (len === 0 || len % DESC_SIZE !== 0 || len > MAX_INDIRECT_DESCRIPTORS * DESC_SIZE) {
          return this.fail(`indirect table length ${len} is invalid`);
        }
        const off = this.inRam(joinAddress(addrLo, addrHi), len);
        if (off < 0) return this.fail("indirect table lies outside guest RAM");
        table = off;
        tableLen = len / DESC_SIZE;
        inIndirect = true;
        index = 0;
        steps = 0;
        continue;
      }
      const off = this.inRam(joinAddress(addrLo, addrHi), len);
      if (off < 0) return this.fail("buffer lies outside guest RAM");
      const n = chain.count;
      chain.offset[n] = off;
      chain.length[n] = len;
      chain.count = n + 1;
      if ((flags & DESC_F_WRITE) !== 0) {
        chain.writableBytes += len;
      } else {
        if (n !== chain.readable) return this.fail("device-readable buffer after a writable one");
        chain.readable = n + 1;
        chain.readableBytes += len;
      }
      if ((flags & DESC_F_NEXT) === 0) return chain;
      index = next;
      if (index >= tableLen) return this.fail(`next index ${index} is beyond its table`);
    }
  }

  /** Puts chain `head` on the used ring with `writtenLen` bytes written to it. */
  push(head: number, writtenLen: number): void {
    if (this.usedOff < 0) return;
    const view = this.view;
    const elem = this.usedOff + 4 + 8 * (this.nextUsed & (this.size - 1));
    view.setUint32(elem, head, true);
    view.setUint32(elem + 4, writtenLen >>> 0, true);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    view.setUint16(this.usedOff + 2, this.nextUsed, true);
    this.mem.ramWritten(elem, 8);
    this.mem.ramWritten(this.usedOff + 2, 2);
  }

  /**
   * Whether the driver wants a used-buffer interrupt for what was pushed
   * since the last call: used_event with VIRTIO_F_EVENT_IDX, else the
   * NO_INTERRUPT flag of the available ring.
   */
  needsInterrupt(): boolean {
    if (this.availOff < 0) return false;
    const view = this.view;
    if (!this.eventIdx) return (view.getUint16(this.availOff, true) & AVAIL_F_NO_INTERRUPT) === 0;
    const now = this.nextUsed;
    const old = this.signalledUsed;
    const hadOld = this.signalledValid;
    this.signalledUsed = now;
    this.signalledValid = true;
    if (!hadOld) return true;
    const usedEvent = view.getUint16(this.availOff + 4 + 2 * this.size, true);
    // vring_need_event: did used idx step past used_event since `old`?
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  save(): VirtqueueState {
    return {
      size: this.size,
      ready: this.ready,
      desc: [this.descLo, this.descHi],
      driver: [this.driverLo, this.driverHi],
      device: [this.deviceLo, this.deviceHi],
      lastAvail: this.lastAvail,
      nextUsed: this.nextUsed,
      signalledUsed: this.signalledUsed,
      signalledValid: this.signalledValid,
    };
  }

  /**
   * Restores a saved queue; returns null, or why the saved rings are not
   * usable (then the queue is left not ready). Feature flags and `running`
   * are the transport's to set.
   */
  restore(s: VirtqueueState): string | null {
    this.reset();
    this.size = s.size >>> 0;
    [this.descLo, this.descHi] = [s.desc[0] >>> 0, s.desc[1] >>> 0];
    [this.driverLo, this.driverHi] = [s.driver[0] >>> 0, s.driver[1] >>> 0];
    [this.deviceLo, this.deviceHi] = [s.device[0] >>> 0, s.device[1] >>> 0];
    this.lastAvail = s.lastAvail & 0xffff;
    this.nextUsed = s.nextUsed & 0xffff;
    this.signalledUsed = s.signalledUsed & 0xffff;
    this.signalledValid = s.signalledValid === true;
    return s.ready ? this.enable() : null;
  }

  private inRam(paddr: number, len: number): number {
    if (paddr < 0) return -1;
    const off = this.mem.ramOffset(paddr, len);
    return off >= 0 && off + len <= this.mem.ram.length ? off : -1;
  }

  private fail(reason: string): null {
    this.running = false;
    this.fault(reason);
    return null;
  }
}
