/**
 * Differential fuzzer: random RV64IMFDC programs (fuzz-program.ts) through
 * the JIT and the interpreter in lockstep: state compared after every 1 to
 * 200 instructions, RAM at the end. Even seeds force the JIT on every page;
 * odd ones translate pages once hot (threshold 64), so entries found late,
 * retranslation and the interpreter/JIT hand-overs run too. JIT_FUZZ_PROGRAMS (default 12) programs of JIT_FUZZ_LENGTH
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
  const mode = seed % 2 === 0 ? "force" : "on";
  test(`fuzz: random program, seed ${seed}, runs the same with the JIT ${mode} as interpreted`, async () => {
    const elf = readFileSync(await buildElf({ sources: [{ name: `jit-fuzz-${seed}.S`, text: fuzzProgram(seed, LENGTH) }] }));
    assertLockstep(elf, 1_000_000, seed, mode);
  });
}
