/**
 * Differential fuzzer: random RV64IMC programs (fuzz-program.ts) through the
 * JIT (forced) and the interpreter in lockstep: state compared after every
 * 1 to 200 instructions, RAM at the end. JIT_FUZZ_PROGRAMS (default 12) programs of JIT_FUZZ_LENGTH
 * (default 2500) instructions from seed JIT_FUZZ_SEED (default 1).
 */
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildElf } from "../support/toolchain.ts";
import { assertLockstep } from "./boards.ts";
import { fuzzProgram } from "./fuzz-program.ts";

const PROGRAMS = Number(process.env.JIT_FUZZ_PROGRAMS ?? 12);
const LENGTH = Number(process.env.JIT_FUZZ_LENGTH ?? 2500);
const SEED = Number(process.env.JIT_FUZZ_SEED ?? 1);

for (let p = 0; p < PROGRAMS; p++) {
  const seed = SEED + p;
  test(`fuzz: random program, seed ${seed}, runs the same with the JIT forced as interpreted`, async () => {
    const elf = readFileSync(await buildElf({ sources: [{ name: `jit-fuzz-${seed}.S`, text: fuzzProgram(seed, LENGTH) }] }));
    assertLockstep(elf, 1_000_000, seed);
  });
}
