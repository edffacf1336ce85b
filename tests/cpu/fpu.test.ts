/**
 * Differential test of the F and D extensions: every case (see
 * fpu-cases.ts) runs on QEMU 7.2 (qemu-riscv64, via a generated inline-asm
 * harness) and through executeFp, with the host-double fast paths on and
 * off; destination registers and fflags must match bit for bit.
 *
 * FPU_TEST_SEED=<n> draws another random selection; FPU_TEST_SCALE=<k> makes
 * k times as many random cases.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { F, FFLAGS, FRM, HartState, X } from "../../src/cpu/hart-state.ts";
import { executeFp, setFpFastPath } from "../../src/cpu/fpu/execute-fp.ts";
import { BACKGROUND_F, BACKGROUND_X7, buildCases, type FpCase } from "./fpu-cases.ts";
import { RD, RM_NAMES } from "./fpu-instructions.ts";
import { ILLEGAL, qemuReference, type ReferenceResult } from "./fpu-reference.ts";

const SEED = Number(process.env.FPU_TEST_SEED ?? 0x5eed);
const cases = buildCases(SEED);

function words(v: bigint): [number, number] {
  return [Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n))];
}

const background = new Int32Array(64);
BACKGROUND_F.forEach((v, i) => background.set(words(v), 2 * i));
const [x7Lo, x7Hi] = words(BACKGROUND_X7);

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

function resultLine(w: Int32Array): string {
  const f7 = hex32(w[F + 2 * RD + 1]) + hex32(w[F + 2 * RD]);
  const x7 = hex32(w[X + 2 * RD + 1]) + hex32(w[X + 2 * RD]);
  return `${f7} ${x7} ${w[FFLAGS].toString(16).padStart(2, "0")}`;
}

const state = new HartState(new WebAssembly.Memory({ initial: 1 }), 0);
const untouched = (() => {
  state.w.set(background, F);
  state.w[X + 2 * RD] = x7Lo;
  state.w[X + 2 * RD + 1] = x7Hi;
  state.w[FFLAGS] = 0;
  return resultLine(state.w);
})();

function referenceLine(r: ReferenceResult): string {
  if (r.fflags === ILLEGAL) return "ILL";
  const h = (v: bigint) => v.toString(16).padStart(16, "0");
  return `${h(r.f7)} ${h(r.x7)} ${r.fflags.toString(16).padStart(2, "0")}`;
}

/** Runs one case through executeFp: "f7 x7 fflags" in hex, or ILL. */
function runCase(c: FpCase): string {
  const w = state.w;
  w.set(background, F);
  w.set(words(c.f6), F + 12);
  w.set(words(c.f2), F + 4);
  w.set(words(c.f3), F + 6);
  w.set(words(c.x6), X + 12);
  w[X + 2 * RD] = x7Lo;
  w[X + 2 * RD + 1] = x7Hi;
  w[FRM] = c.frm;
  w[FFLAGS] = 0;
  const status = executeFp(state, c.word | 0);
  const line = resultLine(w);
  if ((w[X] | w[X + 1]) !== 0) return `x0 was written: ${line}`;
  if (status === 1) return line === untouched ? "ILL" : `ILL after changing state: ${line}`;
  if (status !== 0) return `status ${status}: ${line}`;
  return line;
}

function describeCase(c: FpCase): string {
  const h = (v: bigint) => v.toString(16).padStart(16, "0");
  const rm = RM_NAMES[(c.word >>> 12) & 7];
  return `${c.name} [0x${c.word.toString(16).padStart(8, "0")}] rm=${rm} frm=${c.frm} f6=${h(c.f6)} f2=${h(c.f2)} f3=${h(c.f3)} x6=${h(c.x6)}`;
}

const byName = new Map<string, number[]>();
cases.forEach((c, i) => {
  const list = byName.get(c.name) ?? [];
  list.push(i);
  byName.set(c.name, list);
});

describe(`F/D instructions agree with QEMU 7.2 (${cases.length} cases, seed ${SEED})`, () => {
  // Run QEMU once, on first use; if that fails, every test fails with its message.
  let reference: string[] | Error | null = null;
  function referenceLines(): string[] {
    if (reference === null) {
      try {
        reference = qemuReference(cases).map(referenceLine);
      } catch (error) {
        reference = error instanceof Error ? error : new Error(String(error));
      }
    }
    if (reference instanceof Error) throw reference;
    return reference;
  }

  for (const [name, indexes] of byName) {
    test(`${name} (${indexes.length} cases)`, () => {
      const reference = referenceLines();
      for (const fast of [true, false]) {
        setFpFastPath(fast);
        const mismatches: string[] = [];
        let count = 0;
        for (const i of indexes) {
          const got = runCase(cases[i]);
          if (got === reference[i]) continue;
          if (++count <= 12) mismatches.push(`${describeCase(cases[i])}\n    qemu:      ${reference[i]}\n    typevisor: ${got}`);
        }
        setFpFastPath(true);
        assert.equal(
          count,
          0,
          `${count} of ${indexes.length} ${name} cases differ from QEMU with the fast path ${fast ? "on" : "off"} ` +
            `(seed ${SEED}; FPU_TEST_SEED=${SEED} reproduces; result format: f7 x7 fflags):\n  ${mismatches.join("\n  ")}`,
        );
      }
    });
  }
});
