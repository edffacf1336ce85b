/**
 * Two boards for one bare-metal ELF, one with the JIT forced on every page
 * and one interpreting, with deterministic time, as lockstep sides
 * (src/jit/lockstep.ts).
 */
import assert from "node:assert/strict";
import { RAM_OFFSET } from "../../src/cpu/layout.ts";
import { lockstep, type LockstepSide } from "../../src/jit/lockstep.ts";
import { VirtMachine } from "../../src/machine/virt-machine.ts";
import { Prng } from "../diff/prng.ts";

export type JitTestMode = "force" | "on" | "off";
const HOT_THRESHOLD = 64;

export interface Board {
  m: VirtMachine;
  side: LockstepSide;
  output(): string;
}

/**
 * A board running `elf` with the JIT mode given (a hart reads TYPEVISOR_JIT
 * when it is made; "on" here translates a page after HOT_THRESHOLD
 * instructions, so the hotness and retranslation paths run in a short program). A chunk is one batch of the board (devices and timers
 * included), or with `budgets`, that many instructions of the hart alone
 * (for programs without devices but the finisher: finer comparisons).
 */
export function board(elf: Uint8Array, jit: JitTestMode, budgets?: () => number): Board {
  const saved = process.env.TYPEVISOR_JIT;
  const savedThreshold = process.env.TYPEVISOR_JIT_THRESHOLD;
  process.env.TYPEVISOR_JIT = jit;
  process.env.TYPEVISOR_JIT_THRESHOLD = jit === "on" ? String(HOT_THRESHOLD) : "";
  let out = "";
  try {
    const serial = { write: (d: Uint8Array) => void (out += Buffer.from(d).toString("latin1")) };
    const m = new VirtMachine({ firmware: { kind: "none" }, kernel: { name: "test", bytes: elf }, ramSize: 16 << 20, instructionsPerTick: 10, serial });
    // step() runs each hart one batch and the devices' timers (as the run loop does,
    // which also lets time pass while the hart waits in WFI); the finisher sets exitRequest.
    const internals = m as unknown as { step(): number; exitRequest: unknown; flushSerial(): void };
    const chunk = () => {
      if (budgets !== undefined) {
        m.harts[0].run(budgets());
        return internals.exitRequest === null;
      }
      const deadline = internals.step();
      if (m.harts[0].waiting) m.clock.idleUntil(deadline);
      internals.flushSerial();
      return internals.exitRequest === null;
    };
    return { m, side: { hart: m.harts[0], chunk }, output: () => out };
  } finally {
    if (saved === undefined) delete process.env.TYPEVISOR_JIT;
    else process.env.TYPEVISOR_JIT = saved;
    if (savedThreshold === undefined) delete process.env.TYPEVISOR_JIT_THRESHOLD;
    else process.env.TYPEVISOR_JIT_THRESHOLD = savedThreshold;
  }
}

/**
 * Runs `elf` on both boards in lockstep; fails on the first difference, or
 * RAM differing at the end. `seed`: chunks of 1 to 200 instructions from it.
 * `mode`: the JIT side's mode ("on": pages translated once hot).
 */
export function assertLockstep(elf: Uint8Array, maxChunks: number, seed?: number, mode: JitTestMode = "force"): { jit: Board; ref: Board } {
  const budgets = (s: number) => {
    const r = new Prng(s);
    return () => r.range(1, 200);
  };
  const jit = board(elf, mode, seed === undefined ? undefined : budgets(seed));
  const ref = board(elf, "off", seed === undefined ? undefined : budgets(seed));
  assert.ok(jit.m.harts[0].jit !== null && ref.m.harts[0].jit === null, "one board with the JIT, one without");
  const r = lockstep(jit.side, ref.side, maxChunks);
  assert.equal(r.divergence, null, JSON.stringify(r.divergence, null, 2));
  assert.ok(r.chunks < maxChunks, "the program finished");
  const ram = (m: VirtMachine) => new Uint8Array(m.memory.buffer, RAM_OFFSET, m.ramSize);
  assert.ok(Buffer.compare(ram(jit.m), ram(ref.m)) === 0, "RAM differs at the end");
  assert.ok(jit.m.harts[0].jit!.stats.translations > 0, "the JIT translated something");
  return { jit, ref };
}
