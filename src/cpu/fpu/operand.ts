/**
 * Floating-point operands unpacked for the software path: class, sign and,
 * for finite nonzero values, a normalized 64-bit significand with an
 * unbiased exponent. Singles and doubles unpack to the same form, so every
 * operation is written once for both formats.
 */
import { F } from "../hart-state.ts";
import { CANONICAL_NAN_S, FMT_S } from "./constants.ts";

export const CLS_ZERO = 0;
export const CLS_FINITE = 1; // normal or subnormal
export const CLS_INF = 2;
export const CLS_QNAN = 3;
export const CLS_SNAN = 4;

export class Operand {
  cls = CLS_ZERO;
  sign = 0;
  /** For CLS_FINITE: value = sig * 2^(exp - 63), sig = hi:lo with bit 63 set. */
  exp = 0;
  hi = 0;
  lo = 0;
}

export function isNaNClass(cls: number): boolean {
  return cls >= CLS_QNAN;
}

/** The single in f register r: its low word if NaN-boxed, else the canonical NaN. */
export function readS(w: Int32Array, r: number): number {
  return w[F + 2 * r + 1] === -1 ? w[F + 2 * r] : CANONICAL_NAN_S;
}

export function unpackS(op: Operand, bits: number): void {
  op.sign = bits >>> 31;
  const biased = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  if (biased === 0xff) {
    op.cls = fraction === 0 ? CLS_INF : (fraction & 0x400000) !== 0 ? CLS_QNAN : CLS_SNAN;
  } else if (biased === 0) {
    if (fraction === 0) {
      op.cls = CLS_ZERO;
    } else {
      const shift = Math.clz32(fraction);
      op.cls = CLS_FINITE;
      op.hi = fraction << shift;
      op.lo = 0;
      op.exp = -118 - shift; // fraction * 2^-149 = (fraction << shift) * 2^(-149 - shift)
    }
  } else {
    op.cls = CLS_FINITE;
    op.hi = 0x80000000 | (fraction << 8);
    op.lo = 0;
    op.exp = biased - 127;
  }
}

export function unpackD(op: Operand, hi: number, lo: number): void {
  op.sign = hi >>> 31;
  const biased = (hi >>> 20) & 0x7ff;
  const fractionHi = hi & 0xfffff;
  if (biased === 0x7ff) {
    if ((fractionHi | lo) === 0) op.cls = CLS_INF;
    else op.cls = (fractionHi & 0x80000) !== 0 ? CLS_QNAN : CLS_SNAN;
  } else if (biased === 0) {
    if ((fractionHi | lo) === 0) {
      op.cls = CLS_ZERO;
      return;
    }
    op.cls = CLS_FINITE;
    // Subnormal: fraction * 2^-1074; shift the fraction's top bit to bit 63.
    let shift: number;
    if (fractionHi !== 0) {
      shift = Math.clz32(fractionHi); // 12..31
      op.hi = (fractionHi << shift) | (lo >>> (32 - shift));
      op.lo = lo << shift;
    } else {
      shift = 32 + Math.clz32(lo);
      op.hi = lo << (shift - 32);
      op.lo = 0;
    }
    op.exp = -1011 - shift;
  } else {
    op.cls = CLS_FINITE;
    op.hi = 0x80000000 | (fractionHi << 11) | (lo >>> 21);
    op.lo = lo << 11;
    op.exp = biased - 1023;
  }
}

/** Unpacks f register r in the given format (singles are NaN-box checked). */
export function unpackReg(op: Operand, w: Int32Array, r: number, fmt: number): void {
  if (fmt === FMT_S) unpackS(op, readS(w, r));
  else unpackD(op, w[F + 2 * r + 1], w[F + 2 * r]);
}
