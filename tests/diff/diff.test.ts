/**
 * Differential testing against QEMU: random straight-line programs (see
 * generator.ts) run on QEMU and on Typevisor; every sequence's register,
 * fcsr and scratch-memory dump must match exactly.
 *
 *   DIFF_SEQUENCES   total sequences (default 2000)
 *   DIFF_PER_PROGRAM sequences per ELF (default 100; amortises start-up)
 *   DIFF_SEED        base seed (default 1); program p uses seed + p
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { assertPassed } from "../support/expect.ts";
import { runElf, type RunResult } from "../support/run.ts";
import { buildElf, disassemble, symbols } from "../support/toolchain.ts";
import { DUMP_VALUES, dumpSlotName, generateProgram } from "./generator.ts";

const ISA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "isa");
const TOTAL = Number(process.env.DIFF_SEQUENCES ?? 2000);
const PER_PROGRAM = Number(process.env.DIFF_PER_PROGRAM ?? 100);
const BASE_SEED = Number(process.env.DIFF_SEED ?? 1);

/** Sequence index → its dump values, from "=<idx> v v v ..." lines. */
function parseDumps(stdout: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const m of stdout.matchAll(/^=([0-9a-f]+) (.*)$/gm)) {
    out.set(parseInt(m[1]!, 16), m[2]!.trim().split(" "));
  }
  return out;
}

async function explainMismatch(
  elf: string,
  seed: number,
  index: number,
  body: string,
  want: string[] | undefined,
  got: string[] | undefined,
  typevisor: RunResult,
): Promise<string> {
  const lines = [
    `differential mismatch: DIFF_SEED=${BASE_SEED} program seed ${seed}, sequence ${index}`,
    `reproduce: DIFF_SEED=${BASE_SEED} DIFF_SEQUENCES=${TOTAL} DIFF_PER_PROGRAM=${PER_PROGRAM} node --import tsx --test tests/diff/diff.test.ts`,
    `ELF (cached): ${elf}`,
  ];
  if (!got) {
    lines.push("Typevisor printed no dump for this sequence (trap, crash or early exit):");
    lines.push(/FAIL[^\n]*/.exec(typevisor.stdout)?.[0] ?? `(exit status ${typevisor.exitCode}, hung=${typevisor.hung})`);
    lines.push(typevisor.stderr.slice(-2000));
  } else if (want) {
    lines.push("differing values (qemu vs typevisor):");
    for (let i = 0; i < DUMP_VALUES; i++) {
      if (want[i] !== got[i]) lines.push(`  ${dumpSlotName(i).padEnd(9)} qemu ${want[i]}  typevisor ${got[i]}`);
    }
  }
  lines.push("--- sequence body (generated assembly) ---", body);
  try {
    const syms = await symbols(elf);
    const start = syms.get(`seq_${index}_body`);
    const end = syms.get(`seq_${index}_end`);
    if (start !== undefined && end !== undefined) {
      lines.push("--- objdump of the body ---", (await disassemble(elf, start, end)).split("\n").slice(6).join("\n"));
    }
  } catch (e) {
    lines.push(`(objdump failed: ${(e as Error).message})`);
  }
  return lines.join("\n");
}

describe(`differential vs QEMU (${TOTAL} sequences, seed ${BASE_SEED})`, () => {
  const programs = Math.ceil(TOTAL / PER_PROGRAM);
  for (let p = 0; p < programs; p++) {
    const first = p * PER_PROGRAM;
    const count = Math.min(PER_PROGRAM, TOTAL - first);
    const seed = BASE_SEED + p;
    test(`program seed ${seed}: sequences ${first}..${first + count - 1}`, async () => {
      const program = generateProgram({ seed, sequences: count, firstIndex: first });
      const elf = await buildElf({
        sources: [{ name: `diff-${seed}-${first}.S`, text: program.source }],
        includeDirs: [ISA_DIR],
      });
      const qemu = await runElf("qemu", elf);
      assertPassed(qemu, `diff program seed ${seed}`);
      const want = parseDumps(qemu.stdout);
      assert.equal(want.size, count, `QEMU printed ${want.size} of ${count} dumps`);

      const typevisor = await runElf("typevisor", elf);
      const got = parseDumps(typevisor.stdout);
      for (let i = first; i < first + count; i++) {
        const w = want.get(i);
        const g = got.get(i);
        if (g === undefined || w!.join(" ") !== g.join(" ")) {
          assert.fail(await explainMismatch(elf, seed, i, program.bodies[i - first]!, w, g, typevisor));
        }
      }
      assertPassed(typevisor, `diff program seed ${seed}`);
    });
  }
});
