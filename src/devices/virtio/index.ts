/**
 * The virt board's eight virtio-mmio slots (0x10001000 + 0x1000 i, PLIC IRQ
 * 1 + i), filled from the top as QEMU does: the first device goes to
 * 0x10008000. Empty slots still answer as virtio-mmio with DeviceID 0, so
 * the device tree can list all eight like QEMU's and Linux skips the empty
 * ones silently.
 */
import type { AccessSize, InterruptSink, MmioDevice, Saveable } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import type { VirtioDevice } from "./device.ts";
import {
  MmioTransport,
  REG_MAGIC,
  REG_VENDOR_ID,
  REG_VERSION,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_SIZE,
  VIRTIO_MMIO_VENDOR,
  type MmioTransportState,
} from "./mmio-transport.ts";
import type { GuestMemory } from "./virtqueue.ts";

export const VIRTIO_MMIO_BASE = 0x10001000;
export const VIRTIO_MMIO_STRIDE = 0x1000;
export const VIRTIO_MMIO_SLOTS = 8;
export const VIRTIO_MMIO_IRQ_BASE = 1;

export interface VirtioSlot {
  /** Slot number i: base 0x10001000 + 0x1000 i, IRQ 1 + i. */
  index: number;
  base: number;
  size: number;
  irq: number;
  /** Device-tree node name, e.g. "virtio_mmio@10008000" (compatible = "virtio,mmio"). */
  nodeName: string;
  /** What to map on the bus at `base`. */
  mmio: MmioDevice;
  /** The transport of the device in this slot, or null when the slot is empty. */
  transport: MmioTransport | null;
}

export interface VirtioSlotsOptions {
  mem: GuestMemory;
  /** The PLIC. */
  sink: InterruptSink;
  /** Devices in command-line order; at most eight. */
  devices: readonly VirtioDevice[];
  /** A device's asynchronous host I/O finished: call `completeIo` from the run loop soon. */
  onIoReady?: () => void;
}

export interface VirtioSlotsState {
  v: 1;
  /** Per slot in `slots` order: the transport's state, or null when empty. */
  slots: (MmioTransportState | null)[];
}

export class VirtioSlots implements Saveable<VirtioSlotsState> {
  /**
   * All eight slots, highest address first. That is fill order and the
   * order of QEMU's device tree, which Linux probes in: emit the nodes in
   * this order and the first drive is /dev/vda.
   */
  readonly slots: readonly VirtioSlot[];

  constructor(opts: VirtioSlotsOptions) {
    if (opts.devices.length > VIRTIO_MMIO_SLOTS) {
      throw new Error(
        `${opts.devices.length} virtio devices requested but the virt board has ${VIRTIO_MMIO_SLOTS} virtio-mmio slots`,
      );
    }
    const slots: VirtioSlot[] = [];
    for (let n = 0; n < VIRTIO_MMIO_SLOTS; n++) {
      const index = VIRTIO_MMIO_SLOTS - 1 - n;
      const base = VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE * index;
      const irq = VIRTIO_MMIO_IRQ_BASE + index;
      const device = opts.devices[n];
      const transport =
        device === undefined ? null : new MmioTransport({ base, irq, sink: opts.sink, mem: opts.mem, device, onIoReady: opts.onIoReady });
      slots.push({
        index,
        base,
        size: VIRTIO_MMIO_SIZE,
        irq,
        nodeName: `virtio_mmio@${base.toString(16)}`,
        mmio: transport ?? new EmptyVirtioSlot(base),
        transport,
      });
    }
    this.slots = slots;
  }

  /** The slots holding a device, in device order. */
  populated(): VirtioSlot[] {
    return this.slots.filter((s) => s.transport !== null);
  }

  /** Requests the devices' backends have not finished yet. */
  inFlight(): number {
    let n = 0;
    for (const s of this.slots) n += s.transport?.device.inFlight ?? 0;
    return n;
  }

  /** Hands finished asynchronous I/O to the drivers (used rings, interrupts). */
  completeIo(): void {
    for (const s of this.slots) s.transport?.completeIo();
  }

  /** Resolves once no device has I/O in flight and all of it reached the drivers. */
  async drainIo(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.transport?.device.drainIo?.()));
  }

  save(): VirtioSlotsState {
    return { v: 1, slots: this.slots.map((s) => s.transport?.save() ?? null) };
  }

  restore(state: VirtioSlotsState): void {
    const ok =
      state?.v === 1 &&
      Array.isArray(state.slots) &&
      state.slots.length === VIRTIO_MMIO_SLOTS &&
      this.slots.every((s, i) => (s.transport === null) === (state.slots[i] === null));
    if (!ok) throw badState("virtio slots (devices differ from the snapshot's?)", state);
    this.slots.forEach((s, i) => {
      const saved = state.slots[i];
      if (s.transport !== null && saved !== null) s.transport.restore(saved);
    });
  }
}

export function createVirtioSlots(opts: VirtioSlotsOptions): VirtioSlots {
  return new VirtioSlots(opts);
}

/** An unpopulated virtio-mmio window: magic, version 2, DeviceID 0, nothing else. */
export class EmptyVirtioSlot implements MmioDevice {
  readonly name = "virtio-mmio (empty)";
  readonly size = VIRTIO_MMIO_SIZE;

  constructor(readonly base: number) {}

  read(offset: number, size: AccessSize): number {
    if (size !== 4) return 0;
    switch (offset) {
      case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
      case REG_VERSION: return 2;
      case REG_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
      default: return 0;
    }
  }

  write(_offset: number, _size: AccessSize, _value: number): void {}
}

export { MmioTransport, type MmioTransportOptions, type MmioTransportState } from "./mmio-transport.ts";
export type { VirtioContext, VirtioDevice } from "./device.ts";
export { Virtqueue, DescriptorChain, type GuestMemory } from "./virtqueue.ts";
export { VirtioBlk, type VirtioBlkOptions } from "./blk.ts";
export { VirtioNet, type VirtioNetOptions } from "./net.ts";
export { VirtioRng, type VirtioRngOptions } from "./rng.ts";
export { VirtioConsole, type VirtioConsoleOptions, type CharStream } from "./console.ts";
