import { test } from "node:test";
import assert from "node:assert/strict";
import { createMulDiv, type MulDiv } from "../../src/cpu/mul-div.ts";

const M = (1n << 64n) - 1n;
const MIN = -(1n << 63n);
const reference: Record<keyof MulDiv, (a: bigint, b: bigint) => bigint> = {
  mul: (a, b) => BigInt.asIntN(64, a * b),
  mulhu: (a, b) => BigInt.asIntN(64, ((a & M) * (b & M)) >> 64n),
  mulh: (a, b) => BigInt.asIntN(64, (a * b) >> 64n),
  mulhsu: (a, b) => BigInt.asIntN(64, (a * (b & M)) >> 64n),
  div: (a, b) => (b === 0n ? -1n : a === MIN && b === -1n ? MIN : BigInt.asIntN(64, a / b)),
  divu: (a, b) => (b === 0n ? -1n : BigInt.asIntN(64, (a & M) / (b & M))),
  rem: (a, b) => (b === 0n ? a : b === -1n ? 0n : a % b),
  remu: (a, b) => (b === 0n ? a : BigInt.asIntN(64, (a & M) % (b & M))),
};

test("64-bit multiply/divide helpers match RISC-V semantics", () => {
  const mem = new WebAssembly.Memory({ initial: 1 });
  const md = createMulDiv(mem);
  const v = new BigInt64Array(mem.buffer);
  const operands = [0n, 1n, -1n, 2n, -2n, 7n, -7n, (1n << 63n) - 1n, MIN, 0x123456789abcdefn, -0x123456789abcdefn, 0xffffffffn, 1n << 32n];
  let seed = 12345n;
  for (let i = 0; i < 40; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & M;
    operands.push(BigInt.asIntN(64, seed));
  }
  for (const a of operands) {
    for (const b of operands) {
      for (const op of Object.keys(reference) as (keyof MulDiv)[]) {
        v[1] = a;
        v[2] = b;
        md[op](0, 8, 16);
        assert.equal(v[0], reference[op](a, b), `${op}(${a}, ${b})`);
      }
    }
  }
});
