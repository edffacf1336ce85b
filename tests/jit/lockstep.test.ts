/**
 * Lockstep (src/jit/lockstep.ts): every ISA program (tests/isa/*.S) runs on
 * two boards at once, one with the JIT forced on every page and one
 * interpreting, with deterministic time; after every batch the two harts'
 * architectural state must be equal, and at the end their RAM and output.
 * A failure names the first batch that differed (pc, instret, registers).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildElf } from "../support/toolchain.ts";
import { assertLockstep } from "./boards.ts";

const ISA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "isa");
const PROGRAMS = readdirSync(ISA_DIR).filter((f) => f.endsWith(".S")).sort();

for (const program of PROGRAMS) {
  test(`lockstep: ${program} runs the same with the JIT forced as interpreted`, async () => {
    const elf = readFileSync(await buildElf({ sources: [join(ISA_DIR, program)], includeDirs: [ISA_DIR] }));
    const { jit, ref } = assertLockstep(elf, 100_000);
    assert.match(jit.output(), /PASS/);
    assert.equal(jit.output(), ref.output());
  });
}
