/** FCLASS: one bit per class, -inf (bit 0) up to quiet NaN (bit 9). */
import { F } from "../hart-state.ts";
import { FMT_S } from "./constants.ts";
import { readS } from "./operand.ts";

function classBit(sign: number, expAllOnes: boolean, expZero: boolean, fractionZero: boolean, quiet: boolean): number {
  if (expAllOnes) {
    if (fractionZero) return sign !== 0 ? 0 : 7;
    return quiet ? 9 : 8;
  }
  if (expZero) {
    if (fractionZero) return sign !== 0 ? 3 : 4;
    return sign !== 0 ? 2 : 5;
  }
  return sign !== 0 ? 1 : 6;
}

export function fpClassify(w: Int32Array, fmt: number, rs1: number): number {
  if (fmt === FMT_S) {
    const bits = readS(w, rs1);
    const exp = (bits >>> 23) & 0xff;
    return 1 << classBit(bits >>> 31, exp === 0xff, exp === 0, (bits & 0x7fffff) === 0, (bits & 0x400000) !== 0);
  }
  const hi = w[F + 2 * rs1 + 1];
  const exp = (hi >>> 20) & 0x7ff;
  const fractionZero = ((hi & 0xfffff) | w[F + 2 * rs1]) === 0;
  return 1 << classBit(hi >>> 31, exp === 0x7ff, exp === 0, fractionZero, (hi & 0x80000) !== 0);
}
