/**
 * The harness itself: a failing case, a missing trap and an unexpected trap
 * must each end the run with the case number as exit status and a FAIL line,
 * on both targets; otherwise a broken harness could pass everything.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { describeRun, runElf, TARGETS } from "../support/run.ts";
import { buildElf } from "../support/toolchain.ts";

const ISA_DIR = dirname(fileURLToPath(import.meta.url));

const CASES: { name: string; body: string; status: number; line: RegExp }[] = [
  {
    name: "wrong value",
    body: "TEST_CASE(3, 5, li a0, 5)\n  TEST_CASE(7, 6, li a1, 2; li a2, 3; add a0, a1, a2)",
    status: 7,
    line: /^FAIL case 7: got 0x0000000000000005 expected 0x0000000000000006$/m,
  },
  {
    name: "missing trap",
    body: "TEST_TRAP(9, CAUSE_ILLEGAL_INSTRUCTION, nop)",
    status: 9,
    line: /^FAIL case 9: expected a trap but none was taken$/m,
  },
  {
    name: "wrong trap cause",
    body: "TEST_TRAP(11, CAUSE_BREAKPOINT, ecall)",
    status: 11,
    line: /^FAIL case 11: trap cause 0x000000000000000b expected 0x0000000000000003/m,
  },
  {
    name: "unexpected trap",
    body: "li gp, 12\n  .word 0",
    status: 12,
    line: /^FAIL unexpected trap: mcause 0x0000000000000002 /m,
  },
];

describe("isa harness", () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      const text = `#include "harness.h"\nTEST_BEGIN\n  ${c.body}\nTEST_END\n`;
      const elf = await buildElf({ sources: [{ name: `harness-${c.status}.S`, text }], includeDirs: [ISA_DIR] });
      for (const target of TARGETS) {
        await t.test(`on ${target}`, async () => {
          const r = await runElf(target, elf);
          assert.equal(r.exitCode, c.status, describeRun(r));
          assert.match(r.stdout, c.line, describeRun(r));
          assert.doesNotMatch(r.stdout, /PASS/, describeRun(r));
        });
      }
    });
  }
});
