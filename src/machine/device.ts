/**
 * The one contract every device on the bus answers to (after TinyEMU and
 * Firecracker): an address range with read/write callbacks, plus an optional
 * interrupt line and a save/restore state.
 */

/** Access width in bytes. The bus splits 8-byte accesses into two 4-byte ones, low word first. */
export type AccessSize = 1 | 2 | 4;

export interface MmioDevice {
  /** Short name for diagnostics and the device tree, e.g. "uart". */
  readonly name: string;
  /** Guest physical base address and size of the register window. */
  readonly base: number;
  readonly size: number;
  /**
   * Reads `size` bytes at `offset` from the base (little-endian, zero-extended
   * into the low bits of the result). Must not throw on any offset/size: an
   * unknown register reads as 0.
   */
  read(offset: number, size: AccessSize): number;
  /** Writes the low `size` bytes of `value`. Unknown registers ignore writes. */
  write(offset: number, size: AccessSize, value: number): void;
}

/** Something that can raise an interrupt: the PLIC implements it per source. */
export interface InterruptSink {
  /** Sets the level of interrupt source `irq` (level-triggered). */
  setIrq(irq: number, level: boolean): void;
}

/**
 * Save/restore: every device and the hart serialise to a versioned, plain
 * (structured-clone-able) state, so snapshots, clones and migration need no
 * per-device code elsewhere.
 */
export interface Saveable<S = unknown> {
  save(): S;
  restore(state: S): void;
}

/** The virtual clock devices and harts read: 10 MHz timebase ticks. */
export interface Clock {
  /** Current mtime in ticks (an integer below 2^53). */
  now(): number;
}
