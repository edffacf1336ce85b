/**
 * The SiFive test finisher ("sifive,test0" at 0x100000): a guest writes one
 * word to end the machine. Low 16 bits select the action, high 16 bits carry
 * a failure code. Other values are ignored, as on QEMU.
 */
import type { AccessSize, MmioDevice, Saveable } from "../machine/device.ts";
import { badState } from "../machine/timer.ts";

export const FINISHER_BASE = 0x100000;
export const FINISHER_SIZE = 0x1000;

export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

export type ExitRequest =
  | { kind: "poweroff"; code: number }
  | { kind: "reset" };

export interface TestFinisherState {
  v: 1;
}

export class TestFinisher implements MmioDevice, Saveable<TestFinisherState> {
  readonly name = "test";
  readonly base = FINISHER_BASE;
  readonly size = FINISHER_SIZE;

  constructor(private readonly onExit: (request: ExitRequest) => void) {}

  read(_offset: number, _size: AccessSize): number {
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset !== 0 || size === 1) return;
    const status = value & 0xffff;
    const code = size === 4 ? value >>> 16 : 0;
    switch (status) {
      case FINISHER_FAIL:
        this.onExit({ kind: "poweroff", code });
        break;
      case FINISHER_PASS:
        this.onExit({ kind: "poweroff", code: 0 });
        break;
      case FINISHER_RESET:
        this.onExit({ kind: "reset" });
        break;
    }
  }

  save(): TestFinisherState {
    return { v: 1 };
  }

  restore(state: TestFinisherState): void {
    if (state?.v !== 1) throw badState(this.name, state);
  }
}
