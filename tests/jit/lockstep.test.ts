/**
 * Lockstep (src/jit/lockstep.ts): every ISA program (tests/isa/*.S) runs on
 * two boards at once, one with the JIT forced on every page and one
 * interpreting, with deterministic time; after every batch of every hart the
 * two harts' architectural state must be equal, and at the end their RAM.
 * A failure names the first batch that differed (pc, instret, registers).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { RAM_OFFSET } from "../../src/cpu/layout.ts";
import { lockstep, type LockstepSide } from "../../src/jit/lockstep.ts";
import { VirtMachine } from "../../src/machine/virt-machine.ts";
import { buildElf } from "../support/toolchain.ts";

const ISA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "isa");
const PROGRAMS = readdirSync(ISA_DIR).filter((f) => f.endsWith(".S")).sort();

/** A board for `elf` with the JIT mode given (the hart reads TYPEVISOR_JIT when it is made). */
function board(elf: Uint8Array, jit: "force" | "off"): { m: VirtMachine; side: LockstepSide } {
  const saved = process.env.TYPEVISOR_JIT;
  process.env.TYPEVISOR_JIT = jit;
  try {
    const m = new VirtMachine({ firmware: { kind: "none" }, kernel: { name: "isa", bytes: elf }, ramSize: 16 << 20, instructionsPerTick: 10, serial: { write() {} } });
    // step() runs each hart one batch and the devices' timers (as the run loop does,
    // which also lets time pass while the hart waits in WFI); the finisher sets exitRequest.
    const internals = m as unknown as { step(): number; exitRequest: unknown };
    const chunk = () => {
      const deadline = internals.step();
      if (m.harts[0].waiting) m.clock.idleUntil(deadline);
      return internals.exitRequest === null;
    };
    return { m, side: { hart: m.harts[0], chunk } };
  } finally {
    if (saved === undefined) delete process.env.TYPEVISOR_JIT;
    else process.env.TYPEVISOR_JIT = saved;
  }
}

for (const program of PROGRAMS) {
  test(`lockstep: ${program} runs the same with the JIT forced as interpreted`, async () => {
    const elf = readFileSync(await buildElf({ sources: [join(ISA_DIR, program)], includeDirs: [ISA_DIR] }));
    const jit = board(elf, "force");
    const ref = board(elf, "off");
    assert.ok(jit.m.harts[0].jit !== null && ref.m.harts[0].jit === null);
    const r = lockstep(jit.side, ref.side, 100_000);
    assert.equal(r.divergence, null, JSON.stringify(r.divergence, null, 2));
    assert.ok(r.chunks < 100_000, "the program finished");
    const ram = (m: VirtMachine) => new Uint8Array(m.memory.buffer, RAM_OFFSET, m.ramSize);
    assert.ok(Buffer.compare(ram(jit.m), ram(ref.m)) === 0, "RAM differs at the end");
    const stats = jit.m.harts[0].jit!.stats;
    assert.ok(stats.translations > 0, "the JIT translated something");
  });
}
