/**
 * A mock virtio driver for tests (after rust-vmm's): it lays out rings and
 * descriptor chains in fake guest RAM exactly as a driver would, and talks to
 * a device through the virtio-mmio registers the way Linux 6.1 does.
 *
 * Guest RAM is a real `Bus` over a memory with spare bytes on both sides of
 * the RAM view, so tests can check that a device never writes outside RAM.
 */
import { createVmMemory, RAM_BASE, RAM_OFFSET } from "../../src/cpu/layout.ts";
import { Bus } from "../../src/machine/bus.ts";
import type { InterruptSink, MmioDevice } from "../../src/machine/device.ts";
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from "../../src/devices/virtio/constants.ts";
import * as R from "../../src/devices/virtio/mmio-transport.ts";

export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;

/** Bytes outside guest RAM that tests watch for stray writes. */
export const CANARY_BYTES = 4096;
const CANARY = 0xa5;

/** Guest RAM with canary bytes just below and just above it. */
export class TestMemory {
  readonly bus: Bus;
  readonly ram: Uint8Array;
  readonly view: DataView;
  private readonly all: Uint8Array;

  constructor(readonly ramSize = 1 << 20) {
    const memory = createVmMemory(ramSize + CANARY_BYTES);
    this.bus = new Bus(memory, ramSize);
    this.ram = this.bus.ram;
    this.view = new DataView(this.ram.buffer, this.ram.byteOffset, ramSize);
    this.all = new Uint8Array(memory.buffer);
    this.paintCanaries();
  }

  paintCanaries(): void {
    this.all.fill(CANARY, RAM_OFFSET - CANARY_BYTES, RAM_OFFSET);
    this.all.fill(CANARY, RAM_OFFSET + this.ramSize, RAM_OFFSET + this.ramSize + CANARY_BYTES);
  }

  /** True when nothing wrote to the bytes around RAM. */
  canariesIntact(): boolean {
    for (let i = RAM_OFFSET - CANARY_BYTES; i < RAM_OFFSET; i++) if (this.all[i] !== CANARY) return false;
    const end = RAM_OFFSET + this.ramSize;
    for (let i = end; i < end + CANARY_BYTES; i++) if (this.all[i] !== CANARY) return false;
    return true;
  }

  /** Index into `ram` of guest-physical `paddr`. */
  off(paddr: number): number {
    return paddr - RAM_BASE;
  }

  read(paddr: number, len: number): Uint8Array {
    const o = this.off(paddr);
    return this.ram.slice(o, o + len);
  }

  write(paddr: number, data: Uint8Array): void {
    this.ram.set(data, this.off(paddr));
  }

  u16(paddr: number): number {
    return this.view.getUint16(this.off(paddr), true);
  }

  u32(paddr: number): number {
    return this.view.getUint32(this.off(paddr), true);
  }

  setU16(paddr: number, v: number): void {
    this.view.setUint16(this.off(paddr), v, true);
  }

  setU32(paddr: number, v: number): void {
    this.view.setUint32(this.off(paddr), v, true);
  }

  /** Writes a 64-bit value given as a number (exact below 2^53). */
  setU64(paddr: number, v: number): void {
    this.setU32(paddr, v % 0x1_0000_0000);
    this.setU32(paddr + 4, Math.floor(v / 0x1_0000_0000));
  }
}

/** Records interrupt line levels. */
export class MockIrq implements InterruptSink {
  readonly levels = new Map<number, boolean>();
  /** Number of low-to-high transitions per line. */
  readonly raised = new Map<number, number>();

  setIrq(irq: number, level: boolean): void {
    if (level && !this.levels.get(irq)) this.raised.set(irq, (this.raised.get(irq) ?? 0) + 1);
    this.levels.set(irq, level);
  }

  level(irq: number): boolean {
    return this.levels.get(irq) ?? false;
  }
}

/** A guest buffer: physical address and length. */
export interface Buf {
  addr: number;
  len: number;
}

export interface UsedElem {
  id: number;
  len: number;
}

/** Bump allocator over a region of guest RAM. */
export class GuestAllocator {
  private next: number;

  constructor(
    private readonly mem: TestMemory,
    private readonly start = RAM_BASE,
    private readonly end = RAM_BASE + mem.ramSize,
  ) {
    this.next = start;
  }

  alloc(len: number, align = 16): number {
    const addr = Math.ceil(this.next / align) * align;
    if (addr + len > this.end) throw new Error("mock driver: out of guest RAM");
    this.next = addr + len;
    this.mem.ram.fill(0, this.mem.off(addr), this.mem.off(addr) + len);
    return addr;
  }

  /** A buffer holding `data` (device-readable use). */
  data(data: Uint8Array | number[]): Buf {
    const bytes = data instanceof Uint8Array ? data : Uint8Array.from(data);
    const addr = this.alloc(bytes.length, 8);
    this.mem.write(addr, bytes);
    return { addr, len: bytes.length };
  }

  /** An empty buffer of `len` bytes (device-writable use), filled with `fill`. */
  space(len: number, fill = 0): Buf {
    const addr = this.alloc(len, 8);
    this.mem.ram.fill(fill, this.mem.off(addr), this.mem.off(addr) + len);
    return { addr, len };
  }

  reset(): void {
    this.next = this.start;
  }
}

/** The driver side of one split virtqueue in guest RAM. */
export class DriverQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** Free-running index of the next avail slot to fill. */
  availIdx = 0;
  private lastUsed = 0;
  private readonly free: number[] = [];
  /** Descriptors held by each in-flight head (so they can be freed). */
  private readonly owned = new Map<number, number[]>();

  /** Rings come from `alloc`; the used ring from `usedAlloc` when given. */
  constructor(
    readonly mem: TestMemory,
    readonly alloc: GuestAllocator,
    readonly size: number,
    usedAlloc: GuestAllocator = alloc,
  ) {
    this.desc = alloc.alloc(16 * size, 16);
    this.avail = alloc.alloc(6 + 2 * size, 2);
    this.used = usedAlloc.alloc(6 + 8 * size, 4);
    for (let i = 0; i < size; i++) this.free.push(i);
  }

  writeDesc(table: number, index: number, addr: number, len: number, flags: number, next: number): void {
    const d = table + 16 * index;
    this.mem.setU64(d, addr);
    this.mem.setU32(d + 8, len);
    this.mem.setU16(d + 12, flags);
    this.mem.setU16(d + 14, next);
  }

  /**
   * Adds a chain of device-readable `out` then device-writable `inn`
   * buffers and publishes it. With `indirect`, the chain goes into an
   * indirect table referenced by a single descriptor. Returns the head.
   */
  add(out: Buf[], inn: Buf[], opts: { indirect?: boolean; publish?: boolean } = {}): number {
    const bufs = [...out.map((b) => ({ ...b, flags: 0 })), ...inn.map((b) => ({ ...b, flags: DESC_F_WRITE }))];
    let head: number;
    if (opts.indirect) {
      const table = this.alloc.alloc(16 * bufs.length, 16);
      bufs.forEach((b, i) => {
        const last = i === bufs.length - 1;
        this.writeDesc(table, i, b.addr, b.len, b.flags | (last ? 0 : DESC_F_NEXT), last ? 0 : i + 1);
      });
      head = this.take(1)[0];
      this.writeDesc(this.desc, head, table, 16 * bufs.length, DESC_F_INDIRECT, 0);
      this.owned.set(head, [head]);
    } else {
      const ids = this.take(bufs.length);
      bufs.forEach((b, i) => {
        const last = i === bufs.length - 1;
        this.writeDesc(this.desc, ids[i], b.addr, b.len, b.flags | (last ? 0 : DESC_F_NEXT), last ? 0 : ids[i + 1]);
      });
      head = ids[0];
      this.owned.set(head, ids);
    }
    this.offer(head, opts.publish !== false);
    return head;
  }

  /** Puts `head` in the next avail slot; with `publish`, bumps avail idx. */
  offer(head: number, publish = true): void {
    this.mem.setU16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (publish) this.publish();
  }

  publish(): void {
    this.mem.setU16(this.avail + 2, this.availIdx);
  }

  /** Used entries added since the last call; their descriptors become free. */
  takeUsed(): UsedElem[] {
    const out: UsedElem[] = [];
    const usedIdx = this.usedIdx();
    while (this.lastUsed !== usedIdx) {
      const e = this.used + 4 + 8 * (this.lastUsed % this.size);
      const elem = { id: this.mem.u32(e), len: this.mem.u32(e + 4) };
      out.push(elem);
      const ids = this.owned.get(elem.id);
      if (ids !== undefined) {
        this.free.push(...ids);
        this.owned.delete(elem.id);
      }
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  usedIdx(): number {
    return this.mem.u16(this.used + 2);
  }

  availEvent(): number {
    return this.mem.u16(this.used + 4 + 8 * this.size);
  }

  setUsedEvent(v: number): void {
    this.mem.setU16(this.avail + 4 + 2 * this.size, v);
  }

  setAvailFlags(v: number): void {
    this.mem.setU16(this.avail, v);
  }

  /** Takes `n` free descriptors (for tests that write chains by hand). */
  take(n: number): number[] {
    if (this.free.length < n) throw new Error("mock driver: out of descriptors");
    return this.free.splice(0, n);
  }

  /** Records that chain `head` holds descriptors `ids`, freed when it is used. */
  own(head: number, ids: number[]): void {
    this.owned.set(head, ids);
  }
}

export interface InitOptions {
  /** Features to accept, from those offered (default: all offered). */
  accept?: bigint;
  /** Queue size to use for every queue (default: QueueNumMax). */
  queueSize?: number;
  /** Stop before DRIVER_OK. */
  noDriverOk?: boolean;
  /** Where to put each queue (default: all rings from the driver's allocator). */
  makeQueue?: (size: number) => DriverQueue;
}

/** Drives one virtio-mmio device the way Linux's virtio_mmio + virtio core do. */
export class MockDriver {
  readonly queues: DriverQueue[] = [];
  offered = 0n;
  negotiated = 0n;

  constructor(
    readonly mem: TestMemory,
    readonly dev: MmioDevice,
    readonly alloc: GuestAllocator,
  ) {}

  reg(offset: number): number {
    return this.dev.read(offset, 4) >>> 0;
  }

  setReg(offset: number, value: number): void {
    this.dev.write(offset, 4, value >>> 0);
  }

  status(): number {
    return this.reg(R.REG_STATUS);
  }

  /** Probe, negotiate and set up `queueCount` queues; returns whether FEATURES_OK stuck. */
  init(queueCount: number, opts: InitOptions = {}): boolean {
    this.setReg(R.REG_STATUS, 0);
    this.setReg(R.REG_STATUS, STATUS_ACKNOWLEDGE);
    this.setReg(R.REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.setReg(R.REG_DEVICE_FEATURES_SEL, 1);
    const hi = this.reg(R.REG_DEVICE_FEATURES);
    this.setReg(R.REG_DEVICE_FEATURES_SEL, 0);
    const lo = this.reg(R.REG_DEVICE_FEATURES);
    this.offered = (BigInt(hi) << 32n) | BigInt(lo);
    this.negotiated = opts.accept ?? this.offered;
    this.setReg(R.REG_DRIVER_FEATURES_SEL, 1);
    this.setReg(R.REG_DRIVER_FEATURES, Number(this.negotiated >> 32n));
    this.setReg(R.REG_DRIVER_FEATURES_SEL, 0);
    this.setReg(R.REG_DRIVER_FEATURES, Number(this.negotiated & 0xffffffffn));
    const s = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK;
    this.setReg(R.REG_STATUS, s);
    if ((this.status() & STATUS_FEATURES_OK) === 0) return false;
    for (let i = 0; i < queueCount; i++) {
      this.setReg(R.REG_QUEUE_SEL, i);
      if (this.reg(R.REG_QUEUE_READY) !== 0) throw new Error(`queue ${i} already ready`);
      const max = this.reg(R.REG_QUEUE_NUM_MAX);
      if (max === 0) throw new Error(`queue ${i} does not exist`);
      const size = Math.min(opts.queueSize ?? max, max);
      const q = opts.makeQueue?.(size) ?? new DriverQueue(this.mem, this.alloc, size);
      this.setReg(R.REG_QUEUE_NUM, size);
      this.setReg(R.REG_QUEUE_DESC_LOW, q.desc % 0x1_0000_0000);
      this.setReg(R.REG_QUEUE_DESC_HIGH, Math.floor(q.desc / 0x1_0000_0000));
      this.setReg(R.REG_QUEUE_DRIVER_LOW, q.avail % 0x1_0000_0000);
      this.setReg(R.REG_QUEUE_DRIVER_HIGH, Math.floor(q.avail / 0x1_0000_0000));
      this.setReg(R.REG_QUEUE_DEVICE_LOW, q.used % 0x1_0000_0000);
      this.setReg(R.REG_QUEUE_DEVICE_HIGH, Math.floor(q.used / 0x1_0000_0000));
      this.setReg(R.REG_QUEUE_READY, 1);
      this.queues.push(q);
    }
    if (!opts.noDriverOk) this.setReg(R.REG_STATUS, s | STATUS_DRIVER_OK);
    return true;
  }

  kick(queue: number): void {
    this.setReg(R.REG_QUEUE_NOTIFY, queue);
  }

  /** Reads and acknowledges InterruptStatus, as the Linux interrupt handler does. */
  ackInterrupt(): number {
    const s = this.reg(R.REG_INTERRUPT_STATUS);
    this.setReg(R.REG_INTERRUPT_ACK, s);
    return s;
  }

  /** Reads `size` bytes of config space at `offset`. */
  config(offset: number, size: 1 | 2 | 4): number {
    return this.dev.read(R.REG_CONFIG + offset, size) >>> 0;
  }
}
