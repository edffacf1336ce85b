/**
 * Conversions between the formats and integers on the software path:
 * FCVT.S.D / FCVT.D.S, FCVT.{W,WU,L,LU}.{S,D} and FCVT.{S,D}.{W,WU,L,LU}.
 */
import { FFLAGS, X } from "../hart-state.ts";
import { FLAG_NV, FLAG_NX } from "./constants.ts";
import { packOperand } from "./arith.ts";
import { CLS_INF, CLS_SNAN, CLS_ZERO, isNaNClass, type Operand } from "./operand.ts";
import { writeCanonicalNaN, writeInf, writeZero } from "./result.ts";
import { acc, roundIncrement, roundPack } from "./round.ts";
import { RS_EXACT, wideRoundState, wideSetTop64, wideShiftRight } from "./wide.ts";

/** Integer kinds, as in the rs2 field of FCVT. */
export const INT_W = 0;
export const INT_WU = 1;
export const INT_L = 2;
export const INT_LU = 3;

/** FCVT.S.D and FCVT.D.S: `src` rounded to `fmt`. */
export function fpConvertFormat(w: Int32Array, rd: number, fmt: number, src: Operand, rm: number): void {
  if (isNaNClass(src.cls)) {
    if (src.cls === CLS_SNAN) w[FFLAGS] |= FLAG_NV;
    return writeCanonicalNaN(w, rd, fmt);
  }
  if (src.cls === CLS_INF) return writeInf(w, rd, fmt, src.sign);
  if (src.cls === CLS_ZERO) return writeZero(w, rd, fmt, src.sign);
  packOperand(w, rd, fmt, src, src.sign, rm);
}

/** FCVT.{S,D}.{W,WU,L,LU}: the integer (lo, hi) of the given kind rounded to `fmt`. */
export function fpFromInt(w: Int32Array, rd: number, fmt: number, lo: number, hi: number, kind: number, rm: number): void {
  let sign = 0;
  let magnitudeHi = 0;
  let magnitudeLo = lo;
  switch (kind) {
    case INT_W:
      if (lo < 0) {
        sign = 1;
        magnitudeLo = -lo | 0;
      }
      break;
    case INT_L:
      magnitudeHi = hi;
      if (hi < 0) {
        sign = 1;
        magnitudeLo = -lo | 0;
        magnitudeHi = (~hi + (lo === 0 ? 1 : 0)) | 0;
      }
      break;
    case INT_LU:
      magnitudeHi = hi;
      break;
  }
  if ((magnitudeHi | magnitudeLo) === 0) return writeZero(w, rd, fmt, 0);
  wideSetTop64(acc, magnitudeHi, magnitudeLo);
  roundPack(w, rd, fmt, sign, 63, rm);
}

/**
 * FCVT.{W,WU,L,LU}.{S,D}: rounds `src` to an integer of the given kind and
 * writes x register rd (32-bit results sign-extended). Out-of-range values
 * and NaNs saturate and raise NV (never NX).
 */
export function fpToInt(w: Int32Array, rd: number, src: Operand, kind: number, rm: number): void {
  let sign = src.sign;
  let valid = false;
  let magnitudeHi = 0;
  let magnitudeLo = 0;
  let inexact = false;
  if (isNaNClass(src.cls)) {
    sign = 0; // NaN converts like +inf
  } else if (src.cls === CLS_ZERO) {
    valid = true;
  } else if (src.cls !== CLS_INF && src.exp <= 63) {
    // value = acc * 2^(exp - 127): the integer part is acc >> (127 - exp).
    wideSetTop64(acc, src.hi, src.lo);
    const shift = 127 - src.exp;
    const roundState = wideRoundState(acc, shift);
    wideShiftRight(acc, shift, false);
    magnitudeLo = acc[0];
    magnitudeHi = acc[1];
    if (roundIncrement(rm, sign, magnitudeLo & 1, roundState) !== 0) {
      magnitudeLo = (magnitudeLo + 1) | 0;
      if (magnitudeLo === 0) magnitudeHi = (magnitudeHi + 1) | 0;
    }
    inexact = roundState !== RS_EXACT;
    const zero = (magnitudeHi | magnitudeLo) === 0;
    switch (kind) {
      case INT_W:
        valid = magnitudeHi === 0 && (sign === 0 ? magnitudeLo >= 0 : magnitudeLo >>> 0 <= 0x80000000);
        break;
      case INT_WU:
        valid = sign === 0 ? magnitudeHi === 0 : zero;
        break;
      case INT_L:
        valid = sign === 0 ? magnitudeHi >= 0 : magnitudeHi >= 0 || (magnitudeHi === -0x80000000 && magnitudeLo === 0);
        break;
      default:
        valid = sign === 0 || zero;
    }
  }

  let lo = 0;
  let hi = 0;
  if (valid) {
    if (inexact) w[FFLAGS] |= FLAG_NX;
    if (sign !== 0) {
      lo = -magnitudeLo | 0;
      hi = (~magnitudeHi + (magnitudeLo === 0 ? 1 : 0)) | 0;
    } else {
      lo = magnitudeLo;
      hi = magnitudeHi;
    }
  } else {
    w[FFLAGS] |= FLAG_NV;
    switch (kind) {
      case INT_W:
        lo = sign !== 0 ? -0x80000000 : 0x7fffffff;
        break;
      case INT_WU:
        lo = sign !== 0 ? 0 : -1;
        break;
      case INT_L:
        lo = sign !== 0 ? 0 : -1;
        hi = sign !== 0 ? -0x80000000 : 0x7fffffff;
        break;
      default:
        lo = sign !== 0 ? 0 : -1;
        hi = lo;
    }
  }
  if (kind === INT_W || kind === INT_WU) hi = lo >> 31;
  if (rd !== 0) {
    w[X + 2 * rd] = lo;
    w[X + 2 * rd + 1] = hi;
  }
}
