/**
 * Round-to-nearest-even fast paths on host doubles. JS arithmetic is IEEE
 * binary64 with RNE, so the result is right by construction; the work here
 * is deciding the flags exactly, with error-free transformations (TwoSum,
 * Dekker's TwoProduct) that are exact only away from overflow and
 * underflow. Each function returns false, having changed nothing, whenever
 * its operands or result leave the range where that reasoning holds (NaN,
 * infinities, huge or tiny values, possible underflow); the caller then
 * takes the exact software path.
 *
 * Singles are computed in double and rounded once more with Math.fround:
 * for +, -, *, / and sqrt the double result rounds to the same single as the
 * exact value (53 >= 2 * 24 + 2). The fused multiply-add instead rounds its
 * double intermediate to odd, which makes the second rounding harmless.
 */
import { F, FFLAGS, X, type HartState } from "../hart-state.ts";
import { FLAG_NX, FLAG_OF, RM_RTZ } from "./constants.ts";
import { INT_L, INT_LU, INT_W, INT_WU } from "./convert.ts";
import { doubleFromWords, doubleHighWord, doubleLowWord, singleBits, singleValue } from "./float-bits.ts";
import { writeS } from "./result.ts";

const F64 = F / 2;
const MAX_SINGLE = 3.4028234663852886e38;
const MIN_NORMAL_SINGLE = 2 ** -126;
/** Veltkamp's splitting constant 2^27 + 1. */
const SPLIT = 134217729;
/** Bounds keeping TwoProduct exact: no overflow in splitting, no underflow in the error. */
const SAFE_MAX = 2 ** 995;
const SAFE_MIN = 2 ** -960;
const TWO_POW_52 = 2 ** 52;
const TWO_POW_1000 = 2 ** 1000;
const TWO_POW_1022 = 2 ** 1022;

/** The exact error x * y - product (product = fl(x * y)), given safe magnitudes. */
function productError(x: number, y: number, product: number): number {
  const xSplit = SPLIT * x;
  const xHigh = xSplit - (xSplit - x);
  const xLow = x - xHigh;
  const ySplit = SPLIT * y;
  const yHigh = ySplit - (ySplit - y);
  const yLow = y - yHigh;
  return xHigh * yHigh - product + xHigh * yLow + xLow * yHigh + xLow * yLow;
}

/** The exact error x + y - sum (sum = fl(x + y)), barring overflow (TwoSum). */
function sumError(x: number, y: number, sum: number): number {
  const yVirtual = sum - x;
  return x - (sum - yVirtual) + (y - yVirtual);
}

/** x rounded to odd instead: x = fl(exact) with exact - x = error != 0. */
function roundToOdd(x: number, error: number): number {
  const lo = doubleLowWord(x);
  if ((lo & 1) !== 0) return x;
  const hi = doubleHighWord(x);
  if (error > 0 === x > 0) return doubleFromWords(hi, lo + 1);
  return lo === 0 ? doubleFromWords(hi - 1, -1) : doubleFromWords(hi, lo - 1);
}

function raiseInexact(s: HartState): void {
  s.w[FFLAGS] |= FLAG_NX;
}

export function fastAddD(s: HartState, rd: number, rs1: number, rs2: number, negate: boolean): boolean {
  const f = s.f64;
  const x = f[F64 + rs1];
  const y = negate ? -f[F64 + rs2] : f[F64 + rs2];
  if (!(Math.abs(x) < TWO_POW_1022 && Math.abs(y) < TWO_POW_1022)) return false;
  // A sum in the subnormal range is always exact: no underflow to detect.
  const sum = x + y;
  if (sumError(x, y, sum) !== 0) raiseInexact(s);
  f[F64 + rd] = sum;
  return true;
}

export function fastMulD(s: HartState, rd: number, rs1: number, rs2: number): boolean {
  const f = s.f64;
  const x = f[F64 + rs1];
  const y = f[F64 + rs2];
  if (!(Math.abs(x) < SAFE_MAX && Math.abs(y) < SAFE_MAX)) return false;
  const product = x * y;
  const ap = Math.abs(product);
  if (!(ap >= SAFE_MIN && ap < SAFE_MAX)) {
    if (ap !== 0 || (x !== 0 && y !== 0)) return false;
    f[F64 + rd] = product;
    return true;
  }
  if (productError(x, y, product) !== 0) raiseInexact(s);
  f[F64 + rd] = product;
  return true;
}

export function fastDivD(s: HartState, rd: number, rs1: number, rs2: number): boolean {
  const f = s.f64;
  const x = f[F64 + rs1];
  const y = f[F64 + rs2];
  const ay = Math.abs(y);
  if (!(ay >= SAFE_MIN && ay < SAFE_MAX)) return false;
  const quotient = x / y;
  if (x === 0) {
    f[F64 + rd] = quotient;
    return true;
  }
  const aq = Math.abs(quotient);
  const ax = Math.abs(x);
  if (!(aq >= SAFE_MIN && aq < SAFE_MAX && ax >= SAFE_MIN && ax < SAFE_MAX)) return false;
  // Exact iff quotient * y == x, decided exactly by TwoProduct.
  const back = quotient * y;
  if (back !== x || productError(quotient, y, back) !== 0) raiseInexact(s);
  f[F64 + rd] = quotient;
  return true;
}

export function fastSqrtD(s: HartState, rd: number, rs1: number): boolean {
  const f = s.f64;
  const x = f[F64 + rs1];
  if (x === 0) {
    f[F64 + rd] = x;
    return true;
  }
  if (!(x >= SAFE_MIN && x < SAFE_MAX)) return false;
  const root = Math.sqrt(x);
  const square = root * root;
  if (square !== x || productError(root, root, square) !== 0) raiseInexact(s);
  f[F64 + rd] = root;
  return true;
}

/**
 * Fused multiply-add after Boldo and Melquiond (rounding to odd, 2008):
 * (uh, ul) = TwoProduct(x, y); (th, tl) = TwoSum(z, uh);
 * result = RN(th + RO(tl + ul)). Exactness: result - z equals x * y exactly
 * iff TwoSum(result, -z) gives the same (rounded, error) pair as (uh, ul),
 * because such a pair is a function of the exact value it represents.
 */
export function fastMulAddD(
  s: HartState,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  negateProduct: boolean,
  negateAddend: boolean,
): boolean {
  const f = s.f64;
  const x = negateProduct ? -f[F64 + rs1] : f[F64 + rs1];
  const y = f[F64 + rs2];
  const z = negateAddend ? -f[F64 + rs3] : f[F64 + rs3];
  if (!(Math.abs(x) < SAFE_MAX && Math.abs(y) < SAFE_MAX)) return false;
  const productHigh = x * y;
  const az = Math.abs(z);
  if (productHigh === 0 && (x === 0 || y === 0)) {
    // An exact zero product: the result is z, or a zero signed as for any sum.
    if (!(az <= Number.MAX_VALUE)) return false;
    f[F64 + rd] = productHigh + z;
    return true;
  }
  if (!(az <= TWO_POW_1000 && (az >= SAFE_MIN || z === 0))) return false;
  const ap = Math.abs(productHigh);
  if (!(ap >= SAFE_MIN && ap <= TWO_POW_1000)) return false;
  const productLow = productError(x, y, productHigh);
  const sumHigh = z + productHigh;
  const sumLow = sumError(z, productHigh, sumHigh);
  let tail = sumLow + productLow;
  const tailError = sumError(sumLow, productLow, tail);
  if (tailError !== 0) tail = roundToOdd(tail, tailError);
  const result = sumHigh + tail;
  if (!(Math.abs(result) >= SAFE_MIN)) return false;
  const back = result - z;
  if (back !== productHigh || sumError(result, -z, back) !== productLow) raiseInexact(s);
  f[F64 + rd] = result;
  return true;
}

/** The NaN-boxed single in f register r as a finite double, or NaN if it is not one. */
function finiteSingle(w: Int32Array, r: number): number {
  if (w[F + 2 * r + 1] !== -1) return NaN;
  const value = singleValue(w[F + 2 * r]);
  return Math.abs(value) <= MAX_SINGLE ? value : NaN;
}

/**
 * Writes `rounded` = fround(exact-or-odd double) with its flags; false when
 * a possibly tiny inexact result needs the software path's tininess rule.
 */
function finishSingle(s: HartState, rd: number, rounded: number, inexact: boolean): boolean {
  if (Math.abs(rounded) === Infinity) {
    s.w[FFLAGS] |= FLAG_OF | FLAG_NX;
  } else if (inexact) {
    if (Math.abs(rounded) <= MIN_NORMAL_SINGLE) return false;
    raiseInexact(s);
  }
  writeS(s.w, rd, singleBits(rounded));
  return true;
}

export function fastAddS(s: HartState, rd: number, rs1: number, rs2: number, negate: boolean): boolean {
  const x = finiteSingle(s.w, rs1);
  const yRaw = finiteSingle(s.w, rs2);
  const y = negate ? -yRaw : yRaw;
  const sum = x + y;
  if (sum !== sum) return false;
  const rounded = Math.fround(sum);
  return finishSingle(s, rd, rounded, rounded !== sum || sumError(x, y, sum) !== 0);
}

export function fastMulS(s: HartState, rd: number, rs1: number, rs2: number): boolean {
  const product = finiteSingle(s.w, rs1) * finiteSingle(s.w, rs2); // exact: 48 bits
  if (product !== product) return false;
  const rounded = Math.fround(product);
  return finishSingle(s, rd, rounded, rounded !== product);
}

export function fastDivS(s: HartState, rd: number, rs1: number, rs2: number): boolean {
  const x = finiteSingle(s.w, rs1);
  const y = finiteSingle(s.w, rs2);
  if (y === 0) return false;
  const rounded = Math.fround(x / y);
  if (rounded !== rounded) return false;
  // rounded * y is exact in double (two 24-bit significands).
  return finishSingle(s, rd, rounded, rounded * y !== x);
}

export function fastSqrtS(s: HartState, rd: number, rs1: number): boolean {
  const x = finiteSingle(s.w, rs1);
  if (!(x >= 0)) return false;
  const rounded = Math.fround(Math.sqrt(x));
  return finishSingle(s, rd, rounded, rounded * rounded !== x);
}

export function fastMulAddS(
  s: HartState,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  negateProduct: boolean,
  negateAddend: boolean,
): boolean {
  const w = s.w;
  const product = finiteSingle(w, rs1) * finiteSingle(w, rs2); // exact
  const addend = finiteSingle(w, rs3);
  const sum = (negateProduct ? -product : product) + (negateAddend ? -addend : addend);
  if (sum !== sum) return false;
  const error = sumError(negateProduct ? -product : product, negateAddend ? -addend : addend, sum);
  const odd = error !== 0 ? roundToOdd(sum, error) : sum;
  const rounded = Math.fround(odd);
  return finishSingle(s, rd, rounded, error !== 0 || rounded !== sum);
}

/** FCVT.D.S: always exact. */
export function fastWidenS(s: HartState, rd: number, rs1: number): boolean {
  const x = finiteSingle(s.w, rs1);
  if (x !== x) return false;
  s.f64[F64 + rd] = x;
  return true;
}

/** FCVT.S.D in RNE. */
export function fastNarrowD(s: HartState, rd: number, rs1: number): boolean {
  const x = s.f64[F64 + rs1];
  if (!(Math.abs(x) <= Number.MAX_VALUE)) return false;
  const rounded = Math.fround(x);
  return finishSingle(s, rd, rounded, rounded !== x);
}

/** FCVT.{S,D}.{W,WU,L,LU} when the integer fits a double exactly (any rm for D, RNE for S). */
export function fastFromInt(s: HartState, rd: number, single: boolean, rs1: number, kind: number): boolean {
  const lo = s.w[X + 2 * rs1];
  const hi = s.w[X + 2 * rs1 + 1];
  let value: number;
  if (kind === INT_W) value = lo;
  else if (kind === INT_WU) value = lo >>> 0;
  else if (kind === INT_L && hi >= -0x200000 && hi < 0x200000) value = hi * 0x100000000 + (lo >>> 0);
  else if (kind === INT_LU && hi >>> 0 < 0x200000) value = hi * 0x100000000 + (lo >>> 0);
  else return false;
  if (!single) {
    s.f64[F64 + rd] = value;
    return true;
  }
  const rounded = Math.fround(value);
  if (rounded !== value) raiseInexact(s);
  writeS(s.w, rd, singleBits(rounded));
  return true;
}

/** FCVT.{W,WU,L,LU}.{S,D} in RNE or RTZ when the result is in range. */
export function fastToInt(s: HartState, rd: number, single: boolean, rs1: number, kind: number, rm: number): boolean {
  const x = single ? finiteSingle(s.w, rs1) : s.f64[F64 + rs1];
  if (!(Math.abs(x) < TWO_POW_52)) return false;
  let rounded: number;
  if (rm === RM_RTZ) rounded = Math.trunc(x);
  else rounded = x >= 0 ? x + TWO_POW_52 - TWO_POW_52 : x - TWO_POW_52 + TWO_POW_52;
  let lo: number;
  let hi: number;
  switch (kind) {
    case INT_W:
      if (!(rounded >= -0x80000000 && rounded <= 0x7fffffff)) return false;
      lo = rounded | 0;
      hi = lo >> 31;
      break;
    case INT_WU:
      if (!(rounded >= 0 && rounded <= 0xffffffff)) return false;
      lo = rounded | 0;
      hi = lo >> 31;
      break;
    case INT_LU:
      if (!(rounded >= 0)) return false;
    // falls through
    default:
      hi = Math.floor(rounded / 0x100000000);
      lo = (rounded - hi * 0x100000000) | 0;
  }
  if (rounded !== x) raiseInexact(s);
  if (rd !== 0) {
    s.w[X + 2 * rd] = lo;
    s.w[X + 2 * rd + 1] = hi;
  }
  return true;
}
