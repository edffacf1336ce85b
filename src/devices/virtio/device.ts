/**
 * The contract between a virtio transport and a device type (blk, net, rng,
 * console): the transport owns registers, feature negotiation, queues and the
 * interrupt line; the device owns its config space and what a chain means.
 */
import type { AccessSize } from "../../machine/device.ts";
import type { GuestMemory, Virtqueue } from "./virtqueue.ts";

/** What a device may ask of its transport. */
export interface VirtioContext {
  readonly mem: GuestMemory;
  /** The device's queues, by queue index. `pop` yields nothing unless the driver is running. */
  readonly queues: readonly Virtqueue[];
  /** After pushing used buffers on queue `index`: interrupts the driver if it asked for it. */
  notifyUsed(index: number): void;
  /** The config space changed: bumps ConfigGeneration and raises the config interrupt. */
  configChanged(): void;
  /** The driver broke the protocol: enter DEVICE_NEEDS_RESET and stop all queues. */
  needsReset(reason: string): void;
  /** Whether the driver accepted feature `bit`. */
  hasFeature(bit: number): boolean;
  /**
   * Host I/O of the device finished (a backend callback): the machine will
   * call the device's `completeIo` from its run loop, waking it from WFI.
   */
  ioReady(): void;
}

export interface VirtioDevice {
  /** Virtio device ID (1 net, 2 block, 3 console, 4 entropy). */
  readonly deviceId: number;
  /** Short name for diagnostics, e.g. "virtio-blk". */
  readonly name: string;
  /**
   * Device-type feature bits offered. The transport adds VIRTIO_F_VERSION_1,
   * VIRTIO_F_EVENT_IDX and VIRTIO_F_INDIRECT_DESC itself.
   */
  readonly features: bigint;
  /** Maximum size (a power of two) of each queue; its length is the queue count. */
  readonly queueSizes: readonly number[];
  /** The device config space as the driver reads it (little-endian fields). */
  readonly config: Uint8Array;
  /** Called once by the transport that owns the device. */
  attach(ctx: VirtioContext): void;
  /** A driver write to the config space at `offset` (already bounds-checked). */
  writeConfig(offset: number, size: AccessSize, value: number): void;
  /** The driver notified queue `index` (or the device became ready): process what is available. */
  queueNotify(index: number): void;
  /** Device reset (status 0): drop all in-flight and pending state. Queues are reset by the transport. */
  reset(): void;
  /** Devices with asynchronous host I/O: requests not finished yet. */
  readonly inFlight?: number;
  /** Puts finished asynchronous requests on the used rings (run loop, after `ioReady`). */
  completeIo?(): void;
  /** Resolves once nothing is in flight and all of it completed to the driver. */
  drainIo?(): Promise<void>;
  /** Device-type state for snapshots (plain, structured-clone-able). */
  save(): unknown;
  restore(state: unknown): void;
  /**
   * Why `state` (from `save`) cannot be restored onto this device (e.g. a
   * different disk), or null. Asked before anything is restored.
   */
  mismatch?(state: unknown): string | null;
}
