/**
 * virtio-mmio, version 2 (modern only; virtio 1.2 section 4.2.2), as on
 * QEMU's virt board: one 0x1000-byte window and one level-triggered PLIC
 * interrupt per device.
 *
 * Control registers are 32-bit and must be accessed as aligned words (other
 * widths read 0 and ignore writes, like QEMU); the config space at 0x100
 * takes 1-, 2- and 4-byte accesses. A driver that breaks the protocol puts
 * the device into DEVICE_NEEDS_RESET; nothing a guest does throws here.
 */
import type { AccessSize, InterruptSink, MmioDevice, Saveable } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import {
  INT_CONFIG_CHANGE,
  INT_USED_BUFFER,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  feature,
} from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";
import { Virtqueue, type GuestMemory, type VirtqueueState } from "./virtqueue.ts";

export const VIRTIO_MMIO_SIZE = 0x1000;
export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
/** QEMU's vendor ID ("QEMU"), which some guests print or match on. */
export const VIRTIO_MMIO_VENDOR = 0x554d4551;

export const REG_MAGIC = 0x000;
export const REG_VERSION = 0x004;
export const REG_DEVICE_ID = 0x008;
export const REG_VENDOR_ID = 0x00c;
export const REG_DEVICE_FEATURES = 0x010;
export const REG_DEVICE_FEATURES_SEL = 0x014;
export const REG_DRIVER_FEATURES = 0x020;
export const REG_DRIVER_FEATURES_SEL = 0x024;
export const REG_QUEUE_SEL = 0x030;
export const REG_QUEUE_NUM_MAX = 0x034;
export const REG_QUEUE_NUM = 0x038;
export const REG_QUEUE_READY = 0x044;
export const REG_QUEUE_NOTIFY = 0x050;
export const REG_INTERRUPT_STATUS = 0x060;
export const REG_INTERRUPT_ACK = 0x064;
export const REG_STATUS = 0x070;
export const REG_QUEUE_DESC_LOW = 0x080;
export const REG_QUEUE_DESC_HIGH = 0x084;
export const REG_QUEUE_DRIVER_LOW = 0x090;
export const REG_QUEUE_DRIVER_HIGH = 0x094;
export const REG_QUEUE_DEVICE_LOW = 0x0a0;
export const REG_QUEUE_DEVICE_HIGH = 0x0a4;
export const REG_SHM_SEL = 0x0ac;
export const REG_SHM_LEN_LOW = 0x0b0;
export const REG_SHM_LEN_HIGH = 0x0b4;
export const REG_SHM_BASE_LOW = 0x0b8;
export const REG_SHM_BASE_HIGH = 0x0bc;
export const REG_CONFIG_GENERATION = 0x0fc;
export const REG_CONFIG = 0x100;

export interface MmioTransportOptions {
  base: number;
  irq: number;
  sink: InterruptSink;
  mem: GuestMemory;
  device: VirtioDevice;
  /** Offer VIRTIO_F_EVENT_IDX (default true). */
  eventIdx?: boolean;
  /** Offer VIRTIO_F_INDIRECT_DESC (default true). */
  indirect?: boolean;
  /** The device's host I/O finished: the machine should call `completeIo` soon (and leave WFI). */
  onIoReady?: () => void;
}

export interface MmioTransportState {
  v: 1;
  deviceId: number;
  status: number;
  /** Why the device needs a reset, or null. */
  brokenReason: string | null;
  featuresAccepted: boolean;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: [number, number];
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  queues: VirtqueueState[];
  device: unknown;
}

export class MmioTransport implements MmioDevice, Saveable<MmioTransportState>, VirtioContext {
  readonly name: string;
  readonly base: number;
  readonly size = VIRTIO_MMIO_SIZE;
  readonly irq: number;
  readonly mem: GuestMemory;
  readonly device: VirtioDevice;
  readonly queues: readonly Virtqueue[];
  /** Why the device is in DEVICE_NEEDS_RESET (null when it is not): for diagnostics. */
  brokenReason: string | null = null;

  private readonly sink: InterruptSink;
  private readonly offeredLo: number;
  private readonly offeredHi: number;
  private status = 0;
  private featuresAccepted = false;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverLo = 0;
  private driverHi = 0;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private irqLevel = false;
  private readonly onIoReady: () => void;

  constructor(opts: MmioTransportOptions) {
    this.base = opts.base;
    this.irq = opts.irq;
    this.sink = opts.sink;
    this.mem = opts.mem;
    this.device = opts.device;
    this.name = opts.device.name;
    this.onIoReady = opts.onIoReady ?? (() => {});
    let offered = opts.device.features | feature(VIRTIO_F_VERSION_1);
    if (opts.eventIdx !== false) offered |= feature(VIRTIO_F_EVENT_IDX);
    if (opts.indirect !== false) offered |= feature(VIRTIO_F_INDIRECT_DESC);
    this.offeredLo = Number(offered & 0xffffffffn);
    this.offeredHi = Number((offered >> 32n) & 0xffffffffn);
    const fault = (reason: string): void => this.needsReset(reason);
    this.queues = opts.device.queueSizes.map((n) => new Virtqueue(opts.mem, n, fault));
    opts.device.attach(this);
  }

  read(offset: number, size: AccessSize): number {
    if (offset >= REG_CONFIG) return this.readConfig(offset - REG_CONFIG, size);
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const q = this.selectedQueue();
    switch (offset) {
      case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
      case REG_VERSION: return 2;
      case REG_DEVICE_ID: return this.device.deviceId;
      case REG_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
      case REG_DEVICE_FEATURES:
        return this.deviceFeaturesSel === 0 ? this.offeredLo : this.deviceFeaturesSel === 1 ? this.offeredHi : 0;
      case REG_QUEUE_NUM_MAX: return q === null ? 0 : q.maxSize;
      case REG_QUEUE_NUM: return q === null ? 0 : q.size;
      case REG_QUEUE_READY: return q !== null && q.ready ? 1 : 0;
      case REG_INTERRUPT_STATUS: return this.interruptStatus;
      case REG_STATUS: return this.status | (this.brokenReason !== null ? STATUS_DEVICE_NEEDS_RESET : 0);
      case REG_QUEUE_DESC_LOW: return q === null ? 0 : q.descLo;
      case REG_QUEUE_DESC_HIGH: return q === null ? 0 : q.descHi;
      case REG_QUEUE_DRIVER_LOW: return q === null ? 0 : q.driverLo;
      case REG_QUEUE_DRIVER_HIGH: return q === null ? 0 : q.driverHi;
      case REG_QUEUE_DEVICE_LOW: return q === null ? 0 : q.deviceLo;
      case REG_QUEUE_DEVICE_HIGH: return q === null ? 0 : q.deviceHi;
      // No shared memory regions: a length of all ones means "absent".
      case REG_SHM_LEN_LOW:
      case REG_SHM_LEN_HIGH:
      case REG_SHM_BASE_LOW:
      case REG_SHM_BASE_HIGH:
        return 0xffffffff;
      case REG_CONFIG_GENERATION: return this.configGeneration;
      default: return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset >= REG_CONFIG) {
      this.writeConfig(offset - REG_CONFIG, size, value);
      return;
    }
    if (size !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    const q = this.selectedQueue();
    // Queue layout registers are frozen while the queue is ready.
    const qw = q !== null && !q.ready ? q : null;
    switch (offset) {
      case REG_DEVICE_FEATURES_SEL: this.deviceFeaturesSel = value; break;
      case REG_DRIVER_FEATURES:
        if (this.featuresAccepted) break;
        if (this.driverFeaturesSel === 0) this.driverLo = value;
        else if (this.driverFeaturesSel === 1) this.driverHi = value;
        break;
      case REG_DRIVER_FEATURES_SEL: this.driverFeaturesSel = value; break;
      case REG_QUEUE_SEL: this.queueSel = value; break;
      case REG_QUEUE_NUM: if (qw !== null) qw.size = value; break;
      case REG_QUEUE_READY: if (q !== null) this.setQueueReady(q, (value & 1) !== 0); break;
      case REG_QUEUE_NOTIFY: this.notify(value & 0xffff); break;
      case REG_INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        break;
      case REG_STATUS: this.writeStatus(value & 0xff); break;
      case REG_QUEUE_DESC_LOW: if (qw !== null) qw.descLo = value; break;
      case REG_QUEUE_DESC_HIGH: if (qw !== null) qw.descHi = value; break;
      case REG_QUEUE_DRIVER_LOW: if (qw !== null) qw.driverLo = value; break;
      case REG_QUEUE_DRIVER_HIGH: if (qw !== null) qw.driverHi = value; break;
      case REG_QUEUE_DEVICE_LOW: if (qw !== null) qw.deviceLo = value; break;
      case REG_QUEUE_DEVICE_HIGH: if (qw !== null) qw.deviceHi = value; break;
    }
  }

  // --- VirtioContext ---

  notifyUsed(index: number): void {
    const q = this.queues[index];
    if (q !== undefined && q.needsInterrupt()) this.raise(INT_USED_BUFFER);
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if ((this.status & STATUS_DRIVER_OK) !== 0) this.raise(INT_CONFIG_CHANGE);
  }

  needsReset(reason: string): void {
    if (this.brokenReason !== null) return;
    this.brokenReason = reason;
    for (const q of this.queues) q.running = false;
    if ((this.status & STATUS_DRIVER_OK) !== 0) this.raise(INT_CONFIG_CHANGE);
  }

  ioReady(): void {
    this.onIoReady();
  }

  /** Completes the device's finished asynchronous requests (run loop); a device throw stops the device only. */
  completeIo(): void {
    try {
      this.device.completeIo?.();
    } catch (e) {
      this.internalError(e);
    }
  }

  hasFeature(bit: number): boolean {
    if (!this.featuresAccepted || bit < 0 || bit > 63) return false;
    const word = bit < 32 ? this.driverLo : this.driverHi;
    return ((word >>> (bit & 31)) & 1) !== 0;
  }

  // --- Saveable ---

  save(): MmioTransportState {
    return {
      v: 1,
      deviceId: this.device.deviceId,
      status: this.status,
      brokenReason: this.brokenReason,
      featuresAccepted: this.featuresAccepted,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: [this.driverLo, this.driverHi],
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.save()),
      device: this.device.save(),
    };
  }

  restore(s: MmioTransportState): void {
    const ok =
      s?.v === 1 &&
      s.deviceId === this.device.deviceId &&
      Array.isArray(s.queues) &&
      s.queues.length === this.queues.length &&
      s.queues.every(isQueueState) &&
      Array.isArray(s.driverFeatures);
    if (!ok) throw badState(`${this.name} at 0x${this.base.toString(16)}`, s);
    this.status = s.status & 0xff & ~STATUS_DEVICE_NEEDS_RESET;
    this.brokenReason = typeof s.brokenReason === "string" ? s.brokenReason : null;
    this.featuresAccepted = s.featuresAccepted === true;
    this.deviceFeaturesSel = s.deviceFeaturesSel >>> 0;
    this.driverFeaturesSel = s.driverFeaturesSel >>> 0;
    this.driverLo = s.driverFeatures[0] >>> 0;
    this.driverHi = s.driverFeatures[1] >>> 0;
    this.queueSel = s.queueSel >>> 0;
    this.interruptStatus = s.interruptStatus & (INT_USED_BUFFER | INT_CONFIG_CHANGE);
    this.configGeneration = s.configGeneration >>> 0;
    let bad: string | null = null;
    this.queues.forEach((q, i) => {
      const why = q.restore(s.queues[i]);
      if (why !== null && bad === null) bad = why;
      this.configureQueue(q);
    });
    this.device.restore(s.device);
    if (bad !== null) this.needsReset(`restored queue: ${bad}`);
    // Drive the line afresh: the interrupt controller may not match our cache.
    this.irqLevel = this.interruptStatus !== 0;
    this.sink.setIrq(this.irq, this.irqLevel);
  }

  // --- internals ---

  private selectedQueue(): Virtqueue | null {
    return this.queueSel < this.queues.length ? this.queues[this.queueSel] : null;
  }

  private readConfig(offset: number, size: AccessSize): number {
    const config = this.device.config;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      v = (v << 8) | (o < config.length ? config[o] : 0);
    }
    return v >>> 0;
  }

  private writeConfig(offset: number, size: AccessSize, value: number): void {
    if (offset + size > this.device.config.length) return;
    try {
      this.device.writeConfig(offset, size, value);
    } catch (e) {
      this.internalError(e);
    }
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    value &= ~STATUS_DEVICE_NEEDS_RESET;
    const newlySet = value & ~this.status;
    if ((newlySet & STATUS_FEATURES_OK) !== 0 && !this.featuresAccepted) {
      if (this.acceptableFeatures()) {
        this.featuresAccepted = true;
        for (const q of this.queues) this.configureQueue(q);
      } else {
        value &= ~STATUS_FEATURES_OK; // the driver reads it back and gives up
      }
    }
    this.status = value;
    if ((newlySet & STATUS_DRIVER_OK) !== 0) {
      if (!this.featuresAccepted) {
        this.needsReset("DRIVER_OK set before features were accepted");
        return;
      }
      for (const q of this.queues) this.configureQueue(q);
      // Buffers made available before DRIVER_OK are processed now.
      this.queues.forEach((q, i) => {
        if (q.ready) this.notify(i);
      });
    }
  }

  /** The driver may only take what was offered, and a modern device needs VERSION_1. */
  private acceptableFeatures(): boolean {
    const versionBit = 1 << (VIRTIO_F_VERSION_1 - 32);
    return (
      (this.driverLo & ~this.offeredLo) === 0 &&
      (this.driverHi & ~this.offeredHi) === 0 &&
      (this.driverHi & versionBit) !== 0
    );
  }

  /** Applies negotiated features and run state to one queue. */
  private configureQueue(q: Virtqueue): void {
    q.eventIdx = this.hasFeature(VIRTIO_F_EVENT_IDX);
    q.indirect = this.hasFeature(VIRTIO_F_INDIRECT_DESC);
    q.running = (this.status & STATUS_DRIVER_OK) !== 0 && this.featuresAccepted && this.brokenReason === null;
  }

  private setQueueReady(q: Virtqueue, ready: boolean): void {
    if (!ready) {
      q.disable();
      return;
    }
    if (q.ready) return;
    const why = q.enable();
    if (why !== null) {
      this.needsReset(`queue ${this.queueSel}: ${why}`);
      return;
    }
    this.configureQueue(q);
  }

  private notify(index: number): void {
    const q = this.queues[index];
    if (q === undefined || !q.ready || !q.running) return;
    try {
      this.device.queueNotify(index);
    } catch (e) {
      this.internalError(e);
    }
  }

  /** Device code must not throw into the hart; if it does anyway, the device stops. */
  private internalError(e: unknown): void {
    this.needsReset(`${this.name} internal error: ${e instanceof Error ? e.message : String(e)}`);
  }

  private reset(): void {
    this.device.reset();
    for (const q of this.queues) q.reset();
    this.status = 0;
    this.brokenReason = null;
    this.featuresAccepted = false;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverLo = 0;
    this.driverHi = 0;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.updateIrq();
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.sink.setIrq(this.irq, level);
  }
}

function isQueueState(q: VirtqueueState): boolean {
  return (
    typeof q === "object" &&
    q !== null &&
    Array.isArray(q.desc) &&
    Array.isArray(q.driver) &&
    Array.isArray(q.device) &&
    typeof q.size === "number"
  );
}
