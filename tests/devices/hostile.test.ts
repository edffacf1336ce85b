import { test } from "node:test";
import assert from "node:assert/strict";
import { Clint } from "../../src/devices/clint.ts";
import { GoldfishRtc } from "../../src/devices/goldfish-rtc.ts";
import { Plic } from "../../src/devices/plic.ts";
import { TestFinisher } from "../../src/devices/test-finisher.ts";
import { Uart16550 } from "../../src/devices/uart16550.ts";
import { InstructionClock } from "../../src/machine/clock.ts";
import type { AccessSize, MmioDevice } from "../../src/machine/device.ts";
import { FakeHart, FakeIrqLines } from "./fakes.ts";

/** xorshift32: the same "random" accesses every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function devices(): MmioDevice[] {
  const harts = [new FakeHart(), new FakeHart()];
  const clock = new InstructionClock();
  const plic = new Plic(harts);
  return [
    new TestFinisher(() => {}),
    new Clint(harts, clock),
    plic,
    new Uart16550(plic, () => {}),
    new GoldfishRtc(new FakeIrqLines(), () => 123456789n),
  ];
}

test("no device throws or returns a non-number for any access a guest can make", () => {
  const next = rng(0x2545f491);
  const sizes: AccessSize[] = [1, 2, 4];
  for (const dev of devices()) {
    for (let i = 0; i < 20000; i++) {
      const r = next();
      const size = sizes[r % 3];
      // Mostly the low registers, sometimes anywhere in the window.
      const offset = (r & 0x100 ? next() % dev.size : next() % 0x40) & ~(size - 1);
      const value = r & 0x200 ? next() | 0 : next() >>> 0;
      if (r & 1) {
        dev.write(offset, size, value);
      } else {
        const v = dev.read(offset, size);
        assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** (8 * size), `${dev.name} read 0x${offset.toString(16)}/${size} = ${v}`);
      }
    }
  }
});
