/**
 * executeFp's register-file contract, beyond what the QEMU differential test
 * (fixed registers) can show: x0 stays zero, a destination may alias its
 * sources, flags accrue, and an illegal instruction changes nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { F, FFLAGS, FRM, HartState, X } from "../../src/cpu/hart-state.ts";
import { executeFp } from "../../src/cpu/fpu/execute-fp.ts";
import { FP_INSTRUCTIONS } from "./fpu-instructions.ts";

const NV = 16;
const DZ = 8;
const NX = 1;

function newState(): HartState {
  return new HartState(new WebAssembly.Memory({ initial: 1 }), 0);
}

function rType(funct7: number, rs2: number, rs1: number, funct3: number, rd: number): number {
  return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x53;
}

function r4Type(opcode: number, rs3: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode;
}

test("integer results aimed at x0 are dropped, their flags are not", () => {
  const s = newState();
  s.f64[F / 2 + 1] = NaN;
  s.f64[F / 2 + 2] = 1.5;
  const cases: [string, number, number][] = [
    ["flt.d x0, f1, f2 (NaN operand)", rType(0x51, 2, 1, 1, 0), NV],
    ["fcvt.w.d x0, f2, rne (1.5)", rType(0x61, 0, 2, 0, 0), NX],
    ["fmv.x.d x0, f2", rType(0x71, 0, 2, 0, 0), 0],
    ["fclass.d x0, f2", rType(0x71, 0, 2, 1, 0), 0],
  ];
  for (const [name, word, flags] of cases) {
    s.w[FFLAGS] = 0;
    assert.equal(executeFp(s, word), 0, name);
    assert.equal(s.w[X] | s.w[X + 1], 0, `${name}: x0 written`);
    assert.equal(s.w[FFLAGS], flags, `${name}: fflags`);
  }
});

test("a destination may be one of the sources", () => {
  const s = newState();
  s.f64[F / 2 + 1] = 1.5;
  assert.equal(executeFp(s, rType(0x01, 1, 1, 0, 1)), 0); // fadd.d f1, f1, f1
  assert.equal(s.f64[F / 2 + 1], 3);
  s.f64[F / 2 + 4] = 2;
  assert.equal(executeFp(s, r4Type(0x43, 4, 1, 4, 4, 0, 4)), 0); // fmadd.d f4, f4, f4, f4
  assert.equal(s.f64[F / 2 + 4], 6);
  s.setX(5, -7);
  assert.equal(executeFp(s, rType(0x69, 0, 5, 0, 5)), 0); // fcvt.d.w f5, x5
  assert.equal(s.f64[F / 2 + 5], -7);
  assert.equal(s.getXS(5), -7, "x5 is not f5");
});

test("flags accrue: new ones are ORed into fflags", () => {
  const s = newState();
  s.w[FFLAGS] = DZ;
  s.f64[F / 2 + 1] = 1;
  s.f64[F / 2 + 2] = 3;
  executeFp(s, rType(0x0d, 2, 1, 0, 3)); // fdiv.d f3, f1, f2: inexact
  assert.equal(s.w[FFLAGS], DZ | NX);
  executeFp(s, rType(0x01, 2, 1, 0, 3)); // fadd.d: exact
  assert.equal(s.w[FFLAGS], DZ | NX);
});

test("fmv.s (fsgnj.s rd, rs, rs) of a value that is not NaN-boxed gives the boxed canonical NaN", () => {
  const s = newState();
  s.w[F + 2] = 0x3f800000; // 1.0f with a zero upper half
  s.w[F + 3] = 0;
  executeFp(s, rType(0x10, 1, 1, 0, 2));
  assert.equal(s.w[F + 4] >>> 0, 0x7fc00000);
  assert.equal(s.w[F + 5], -1);
});

test("reserved rounding modes and unknown formats are illegal and change nothing", () => {
  const s = newState();
  const words: number[] = [];
  for (const instruction of FP_INSTRUCTIONS.filter((i) => i.hasRm)) {
    words.push(instruction.word(5), instruction.word(6), instruction.word(7));
  }
  words.push(rType(0x02, 2, 1, 0, 3), rType(0x03, 2, 1, 0, 3)); // fadd with fmt H and Q
  words.push(r4Type(0x43, 3, 2, 2, 1, 0, 4), r4Type(0x4f, 3, 3, 2, 1, 0, 4)); // fmadd.h, fnmadd.q
  for (let i = 0; i < 64; i++) s.f64[F / 2 + (i & 31)] = i * 0.7 - 3; // nonzero f registers
  for (let r = 1; r < 32; r++) s.setX(r, r * 1000003);
  for (const frm of [5, 6, 7]) {
    s.w[FRM] = frm;
    for (const word of words) {
      const before = s.w.slice();
      assert.equal(executeFp(s, word | 0), 1, `0x${(word >>> 0).toString(16)} with frm ${frm}`);
      assert.deepEqual(s.w, before, `0x${(word >>> 0).toString(16)} changed the state`);
    }
  }
});
