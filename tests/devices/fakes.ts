/** Test doubles for what devices drive: hart interrupt bits and PLIC lines. */
import type { InterruptSink } from "../../src/machine/device.ts";
import type { HartIrq } from "../../src/machine/timer.ts";

export class FakeHart implements HartIrq {
  mip = 0;
  calls = 0;
  setPending(mask: number, level: boolean): void {
    this.calls++;
    this.mip = level ? this.mip | mask : this.mip & ~mask;
  }
}

export class FakeIrqLines implements InterruptSink {
  readonly levels = new Map<number, boolean>();
  setIrq(irq: number, level: boolean): void {
    this.levels.set(irq, level);
  }
  level(irq: number): boolean {
    return this.levels.get(irq) ?? false;
  }
}
