/** FEQ / FLT / FLE and FMIN / FMAX (IEEE 754-2019 minimumNumber / maximumNumber). */
import { F, FFLAGS, X, type HartState } from "../hart-state.ts";
import { FLAG_NV, FMT_S } from "./constants.ts";
import { isNaND, isNaNS, isSignalingD, isSignalingS, singleValue } from "./float-bits.ts";
import { readS } from "./operand.ts";
import { writeCanonicalNaN, writeD, writeS } from "./result.ts";

export const CMP_LE = 0;
export const CMP_LT = 1;
export const CMP_EQ = 2;

/** FEQ, FLT, FLE (by funct3): writes 0 or 1 to x register rd. Only FEQ is quiet. */
export function fpCompare(s: HartState, rd: number, fmt: number, rs1: number, rs2: number, relation: number): void {
  const w = s.w;
  let x: number;
  let y: number;
  let nan: boolean;
  let signaling: boolean;
  if (fmt === FMT_S) {
    const xBits = readS(w, rs1);
    const yBits = readS(w, rs2);
    nan = isNaNS(xBits) || isNaNS(yBits);
    signaling = isSignalingS(xBits) || isSignalingS(yBits);
    x = singleValue(xBits);
    y = singleValue(yBits);
  } else {
    const xHi = w[F + 2 * rs1 + 1];
    const yHi = w[F + 2 * rs2 + 1];
    const xLo = w[F + 2 * rs1];
    const yLo = w[F + 2 * rs2];
    nan = isNaND(xHi, xLo) || isNaND(yHi, yLo);
    signaling = isSignalingD(xHi, xLo) || isSignalingD(yHi, yLo);
    x = s.f64[F / 2 + rs1];
    y = s.f64[F / 2 + rs2];
  }
  let result = 0;
  if (nan) {
    if (signaling || relation !== CMP_EQ) w[FFLAGS] |= FLAG_NV;
  } else if (relation === CMP_EQ) {
    result = x === y ? 1 : 0;
  } else if (relation === CMP_LT) {
    result = x < y ? 1 : 0;
  } else {
    result = x <= y ? 1 : 0;
  }
  if (rd !== 0) {
    w[X + 2 * rd] = result;
    w[X + 2 * rd + 1] = 0;
  }
}

/**
 * FMIN / FMAX: a NaN operand yields the other operand (NV if signaling), two
 * NaNs the canonical NaN; -0 is below +0.
 */
export function fpMinMax(s: HartState, rd: number, fmt: number, rs1: number, rs2: number, max: boolean): void {
  const w = s.w;
  let xNaN: boolean;
  let yNaN: boolean;
  let x: number;
  let y: number;
  let xBits = 0;
  let yBits = 0;
  if (fmt === FMT_S) {
    xBits = readS(w, rs1);
    yBits = readS(w, rs2);
    xNaN = isNaNS(xBits);
    yNaN = isNaNS(yBits);
    if (isSignalingS(xBits) || isSignalingS(yBits)) w[FFLAGS] |= FLAG_NV;
    x = singleValue(xBits);
    y = singleValue(yBits);
  } else {
    const xHi = w[F + 2 * rs1 + 1];
    const yHi = w[F + 2 * rs2 + 1];
    xNaN = isNaND(xHi, w[F + 2 * rs1]);
    yNaN = isNaND(yHi, w[F + 2 * rs2]);
    if (isSignalingD(xHi, w[F + 2 * rs1]) || isSignalingD(yHi, w[F + 2 * rs2])) w[FFLAGS] |= FLAG_NV;
    x = s.f64[F / 2 + rs1];
    y = s.f64[F / 2 + rs2];
  }
  let pickX: boolean;
  if (xNaN || yNaN) {
    if (xNaN && yNaN) return writeCanonicalNaN(w, rd, fmt);
    pickX = yNaN;
  } else if (x !== y) {
    pickX = max ? x > y : x < y;
  } else {
    // Equal values differ at most in the sign of zero.
    const xNegative = fmt === FMT_S ? xBits < 0 : w[F + 2 * rs1 + 1] < 0;
    pickX = max ? !xNegative : xNegative;
  }
  const from = pickX ? rs1 : rs2;
  if (fmt === FMT_S) writeS(w, rd, pickX ? xBits : yBits);
  else writeD(w, rd, w[F + 2 * from + 1], w[F + 2 * from]);
}
