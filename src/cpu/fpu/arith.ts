/**
 * The exact software path for add, multiply, divide, square root and the
 * fused multiply-adds, for both formats and all rounding modes. Each
 * operation settles NaNs, infinities and zeros, computes the exact result
 * (or one jammed below the last bit that matters) into `acc`, and hands it
 * to roundPack.
 */
import { FFLAGS } from "../hart-state.ts";
import { FLAG_DZ, FLAG_NV, RM_RDN } from "./constants.ts";
import { CLS_INF, CLS_SNAN, CLS_ZERO, isNaNClass, type Operand } from "./operand.ts";
import { writeCanonicalNaN, writeInf, writeZero } from "./result.ts";
import { acc, roundPack } from "./round.ts";
import {
  wideAdd,
  wideCompare,
  wideIsZero,
  wideMul64,
  wideSetLow64,
  wideSetTop64,
  wideShiftLeft,
  wideShiftRight,
  wideSub,
} from "./wide.ts";

const other = new Int32Array(4);
const TWO_POW_21 = 0x200000;
const TWO_POW_52 = 0x10000000000000;

/** Rounds a finite nonzero operand (with `sign`) to `fmt`: exact unless narrowing. */
export function packOperand(w: Int32Array, rd: number, fmt: number, op: Operand, sign: number, rm: number): void {
  wideSetTop64(acc, op.hi, op.lo);
  roundPack(w, rd, fmt, sign, op.exp, rm);
}

/** Writes the canonical NaN, raising NV when an operand is signaling. */
function nanResult(w: Int32Array, rd: number, fmt: number, a: Operand, b: Operand): void {
  if (a.cls === CLS_SNAN || b.cls === CLS_SNAN) w[FFLAGS] |= FLAG_NV;
  writeCanonicalNaN(w, rd, fmt);
}

function invalid(w: Int32Array, rd: number, fmt: number): void {
  w[FFLAGS] |= FLAG_NV;
  writeCanonicalNaN(w, rd, fmt);
}

/** The sign of an exact zero sum of opposite-signed terms. */
function cancelledZeroSign(rm: number): number {
  return rm === RM_RDN ? 1 : 0;
}

/** Sets words to sig << 62: the top bit lands on bit 125, leaving headroom for a carry. */
function setSignificand(words: Int32Array, hi: number, lo: number): void {
  words[3] = hi >>> 2;
  words[2] = (hi << 30) | (lo >>> 2);
  words[1] = lo << 30;
  words[0] = 0;
}

/** a + b, or a - b when negateB is 1. */
export function fpAdd(w: Int32Array, rd: number, fmt: number, a: Operand, b: Operand, negateB: number, rm: number): void {
  const bSign = b.sign ^ negateB;
  if (isNaNClass(a.cls) || isNaNClass(b.cls)) return nanResult(w, rd, fmt, a, b);
  if (a.cls === CLS_INF) {
    if (b.cls === CLS_INF && a.sign !== bSign) return invalid(w, rd, fmt);
    return writeInf(w, rd, fmt, a.sign);
  }
  if (b.cls === CLS_INF) return writeInf(w, rd, fmt, bSign);
  if (a.cls === CLS_ZERO) {
    if (b.cls === CLS_ZERO) return writeZero(w, rd, fmt, a.sign === bSign ? bSign : cancelledZeroSign(rm));
    return packOperand(w, rd, fmt, b, bSign, rm);
  }
  if (b.cls === CLS_ZERO) return packOperand(w, rd, fmt, a, a.sign, rm);

  const aBigger =
    a.exp !== b.exp
      ? a.exp > b.exp
      : a.hi !== b.hi
        ? a.hi >>> 0 > b.hi >>> 0
        : a.lo >>> 0 >= b.lo >>> 0;
  const big = aBigger ? a : b;
  const small = aBigger ? b : a;
  const bigSign = aBigger ? a.sign : bSign;
  setSignificand(acc, big.hi, big.lo);
  setSignificand(other, small.hi, small.lo);
  wideShiftRight(other, big.exp - small.exp, true);
  if (a.sign === bSign) {
    wideAdd(acc, other);
  } else {
    wideSub(acc, other);
    if (wideIsZero(acc)) return writeZero(w, rd, fmt, cancelledZeroSign(rm));
  }
  roundPack(w, rd, fmt, bigSign, big.exp + 2, rm);
}

export function fpMul(w: Int32Array, rd: number, fmt: number, a: Operand, b: Operand, rm: number): void {
  const sign = a.sign ^ b.sign;
  if (isNaNClass(a.cls) || isNaNClass(b.cls)) return nanResult(w, rd, fmt, a, b);
  if (a.cls === CLS_INF || b.cls === CLS_INF) {
    if (a.cls === CLS_ZERO || b.cls === CLS_ZERO) return invalid(w, rd, fmt);
    return writeInf(w, rd, fmt, sign);
  }
  if (a.cls === CLS_ZERO || b.cls === CLS_ZERO) return writeZero(w, rd, fmt, sign);
  wideMul64(acc, a.hi, a.lo, b.hi, b.lo);
  roundPack(w, rd, fmt, sign, a.exp + b.exp + 1, rm);
}

export function fpDiv(w: Int32Array, rd: number, fmt: number, a: Operand, b: Operand, rm: number): void {
  const sign = a.sign ^ b.sign;
  if (isNaNClass(a.cls) || isNaNClass(b.cls)) return nanResult(w, rd, fmt, a, b);
  if (a.cls === CLS_INF) {
    if (b.cls === CLS_INF) return invalid(w, rd, fmt);
    return writeInf(w, rd, fmt, sign);
  }
  if (b.cls === CLS_INF) return writeZero(w, rd, fmt, sign);
  if (b.cls === CLS_ZERO) {
    if (a.cls === CLS_ZERO) return invalid(w, rd, fmt);
    w[FFLAGS] |= FLAG_DZ;
    return writeInf(w, rd, fmt, sign);
  }
  if (a.cls === CLS_ZERO) return writeZero(w, rd, fmt, sign);

  // Long division of the 53-bit significands, one quotient bit per step.
  // The remainder stays below 2^54 and even when doubled: exact in doubles.
  const divisor = (b.hi >>> 0) * TWO_POW_21 + (b.lo >>> 11);
  let remainder = (a.hi >>> 0) * TWO_POW_21 + (a.lo >>> 11);
  let quotientHi = 0;
  let quotientLo = 0;
  for (let bit = 63; bit >= 0; bit--) {
    if (remainder >= divisor) {
      remainder -= divisor;
      if (bit >= 32) quotientHi |= 1 << (bit - 32);
      else quotientLo |= 1 << bit;
    }
    remainder *= 2;
  }
  // quotient = floor(A * 2^63 / B); a / b = (A / B) * 2^(ea - eb).
  wideSetTop64(acc, quotientHi, quotientLo);
  if (remainder !== 0) acc[0] = 1;
  roundPack(w, rd, fmt, sign, a.exp - b.exp, rm);
}

export function fpSqrt(w: Int32Array, rd: number, fmt: number, a: Operand, rm: number): void {
  if (isNaNClass(a.cls)) return nanResult(w, rd, fmt, a, a);
  if (a.cls === CLS_ZERO) return writeZero(w, rd, fmt, a.sign);
  if (a.sign !== 0) return invalid(w, rd, fmt);
  if (a.cls === CLS_INF) return writeInf(w, rd, fmt, 0);

  // a = X * 2^(2h - 52) with X in [2^52, 2^54), so sqrt(a) = sqrt(X * 2^52) * 2^(h - 52).
  const oddExp = a.exp & 1;
  const half = (a.exp - oddExp) / 2;
  const radicand = ((a.hi >>> 0) * TWO_POW_21 + (a.lo >>> 11)) * (oddExp + 1);
  // Math.sqrt is correctly rounded, so Y is within half a unit of the exact
  // root; comparing Y^2 with X * 2^52 exactly tells which side the root is on
  // (it is never exactly halfway).
  const root = Math.sqrt(radicand / TWO_POW_52) * TWO_POW_52;
  const rootHi = Math.floor(root / 0x100000000);
  const rootLo = (root - rootHi * 0x100000000) | 0;
  wideMul64(acc, rootHi, rootLo, rootHi, rootLo);
  const radicandHi = Math.floor(radicand / 0x100000000);
  wideSetLow64(other, radicandHi, (radicand - radicandHi * 0x100000000) | 0);
  wideShiftLeft(other, 52);
  const rootTooBig = wideCompare(acc, other);

  // 4 * root, or a value strictly between root and its neighbour on the
  // exact root's side: it rounds like the exact root in every mode.
  const base = rootTooBig > 0 ? root - 1 : root;
  const low = rootTooBig === 0 ? 0 : rootTooBig > 0 ? 3 : 1;
  const baseHi = Math.floor(base / 0x100000000);
  const baseLo = base - baseHi * 0x100000000;
  wideSetLow64(acc, (baseHi << 2) | (baseLo >>> 30), (baseLo << 2) | low);
  roundPack(w, rd, fmt, 0, half + 73, rm);
}

/**
 * (-1)^negateProduct * a * b + (-1)^negateAddend * c with one rounding
 * (FMADD, FMSUB, FNMSUB, FNMADD).
 */
export function fpMulAdd(
  w: Int32Array,
  rd: number,
  fmt: number,
  a: Operand,
  b: Operand,
  c: Operand,
  negateProduct: number,
  negateAddend: number,
  rm: number,
): void {
  const productSign = a.sign ^ b.sign ^ negateProduct;
  const addendSign = c.sign ^ negateAddend;
  const infTimesZero =
    (a.cls === CLS_INF && b.cls === CLS_ZERO) || (a.cls === CLS_ZERO && b.cls === CLS_INF);
  if (isNaNClass(a.cls) || isNaNClass(b.cls) || isNaNClass(c.cls)) {
    // RISC-V: inf * 0 is invalid even when the addend is a quiet NaN.
    if (a.cls === CLS_SNAN || b.cls === CLS_SNAN || c.cls === CLS_SNAN || infTimesZero) w[FFLAGS] |= FLAG_NV;
    return writeCanonicalNaN(w, rd, fmt);
  }
  if (infTimesZero) return invalid(w, rd, fmt);
  if (a.cls === CLS_INF || b.cls === CLS_INF) {
    if (c.cls === CLS_INF && addendSign !== productSign) return invalid(w, rd, fmt);
    return writeInf(w, rd, fmt, productSign);
  }
  if (c.cls === CLS_INF) return writeInf(w, rd, fmt, addendSign);
  if (a.cls === CLS_ZERO || b.cls === CLS_ZERO) {
    if (c.cls !== CLS_ZERO) return packOperand(w, rd, fmt, c, addendSign, rm);
    return writeZero(w, rd, fmt, productSign === addendSign ? productSign : cancelledZeroSign(rm));
  }
  wideMul64(acc, a.hi, a.lo, b.hi, b.lo);
  if (c.cls === CLS_ZERO) return roundPack(w, rd, fmt, productSign, a.exp + b.exp + 1, rm);

  // The product (at most 106 significant bits, at least 22 trailing zeros)
  // moves down 2 bits exactly; the addend goes to bits 125..62. The operand
  // whose last bit weighs less is shifted to match the other. Whenever that
  // shift drops bits the operands are far apart in magnitude, so a
  // cancellation loses at most a bit or two and the jammed sum still rounds
  // correctly; close operands are aligned exactly.
  wideShiftRight(acc, 2, false);
  setSignificand(other, c.hi, c.lo);
  const productLsb = a.exp + b.exp - 124;
  const addendLsb = c.exp - 125;
  let lsb: number;
  if (productLsb >= addendLsb) {
    wideShiftRight(other, productLsb - addendLsb, true);
    lsb = productLsb;
  } else {
    wideShiftRight(acc, addendLsb - productLsb, true);
    lsb = addendLsb;
  }
  let sign = productSign;
  if (productSign === addendSign) {
    wideAdd(acc, other);
  } else {
    const order = wideCompare(acc, other);
    if (order === 0) return writeZero(w, rd, fmt, cancelledZeroSign(rm));
    if (order > 0) {
      wideSub(acc, other);
    } else {
      wideSub(other, acc);
      acc.set(other);
      sign = addendSign;
    }
  }
  roundPack(w, rd, fmt, sign, lsb + 127, rm);
}
