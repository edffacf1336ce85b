/**
 * 128-bit unsigned integers held in four int32 words (index 0 least
 * significant), the exact intermediate results of the software FPU path.
 * Every function works in place; nothing allocates.
 */

/** How the bits below a rounding position compare with half of its unit. */
export const RS_EXACT = 0;
export const RS_BELOW_HALF = 1;
export const RS_HALF = 2;
export const RS_ABOVE_HALF = 3;

export function wideSetTop64(a: Int32Array, hi: number, lo: number): void {
  a[3] = hi;
  a[2] = lo;
  a[1] = 0;
  a[0] = 0;
}

export function wideSetLow64(a: Int32Array, hi: number, lo: number): void {
  a[3] = 0;
  a[2] = 0;
  a[1] = hi;
  a[0] = lo;
}

export function wideIsZero(a: Int32Array): boolean {
  return (a[0] | a[1] | a[2] | a[3]) === 0;
}

/** Leading zero bits; 128 for zero. */
export function wideClz(a: Int32Array): number {
  for (let i = 3; i >= 0; i--) {
    if (a[i] !== 0) return (3 - i) * 32 + Math.clz32(a[i]);
  }
  return 128;
}

/** a <<= n for 0 <= n < 128. */
export function wideShiftLeft(a: Int32Array, n: number): void {
  if (n === 0) return;
  const words = n >>> 5;
  const bits = n & 31;
  for (let i = 3; i >= 0; i--) {
    const j = i - words;
    let v = j >= 0 ? a[j] << bits : 0;
    if (bits !== 0 && j >= 1) v |= a[j - 1] >>> (32 - bits);
    a[i] = v;
  }
}

/**
 * a >>>= n for any n >= 0. With `jam`, a nonzero shifted-out part sets bit 0
 * ("sticky"), so the result still rounds like the exact value at any
 * position at least two bits above bit 0.
 */
export function wideShiftRight(a: Int32Array, n: number, jam: boolean): void {
  if (n === 0) return;
  let sticky = 0;
  if (n >= 128) {
    sticky = a[0] | a[1] | a[2] | a[3];
    a[0] = 0;
    a[1] = 0;
    a[2] = 0;
    a[3] = 0;
  } else {
    const words = n >>> 5;
    const bits = n & 31;
    for (let i = 0; i < words; i++) sticky |= a[i];
    if (bits !== 0) sticky |= a[words] << (32 - bits);
    for (let i = 0; i < 4; i++) {
      const j = i + words;
      let v = j < 4 ? a[j] >>> bits : 0;
      if (bits !== 0 && j < 3) v |= a[j + 1] << (32 - bits);
      a[i] = v;
    }
  }
  if (jam && sticky !== 0) a[0] |= 1;
}

/** a += b (mod 2^128). */
export function wideAdd(a: Int32Array, b: Int32Array): void {
  let carry = 0;
  for (let i = 0; i < 4; i++) {
    const sum = (a[i] >>> 0) + (b[i] >>> 0) + carry;
    a[i] = sum | 0;
    carry = sum > 0xffffffff ? 1 : 0;
  }
}

/** a -= b (mod 2^128). */
export function wideSub(a: Int32Array, b: Int32Array): void {
  let borrow = 0;
  for (let i = 0; i < 4; i++) {
    const diff = (a[i] >>> 0) - (b[i] >>> 0) - borrow;
    a[i] = diff | 0;
    borrow = diff < 0 ? 1 : 0;
  }
}

/** Unsigned comparison: -1, 0 or 1. */
export function wideCompare(a: Int32Array, b: Int32Array): number {
  for (let i = 3; i >= 0; i--) {
    const x = a[i] >>> 0;
    const y = b[i] >>> 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Classifies the low n bits of a against 2^(n-1) (one of the RS_ constants); n >= 1. */
export function wideRoundState(a: Int32Array, n: number): number {
  if (n > 128) return wideIsZero(a) ? RS_EXACT : RS_BELOW_HALF;
  const halfBit = n - 1;
  const word = halfBit >>> 5;
  const bit = halfBit & 31;
  const half = (a[word] >>> bit) & 1;
  let lower = bit === 0 ? 0 : a[word] << (32 - bit);
  for (let i = 0; i < word; i++) lower |= a[i];
  if (half !== 0) return lower !== 0 ? RS_ABOVE_HALF : RS_HALF;
  return lower !== 0 ? RS_BELOW_HALF : RS_EXACT;
}

/** The top p bits (p <= 53) as an exact number: floor(a / 2^(128 - p)). */
export function wideTopBits(a: Int32Array, p: number): number {
  if (p <= 32) return a[3] >>> (32 - p);
  return (a[3] >>> 0) * (1 << (p - 32)) + (a[2] >>> (64 - p));
}

const limbX = new Float64Array(4);
const limbY = new Float64Array(4);

/**
 * a = x * y for 64-bit x and y, computed on 16-bit limbs: each partial
 * product is below 2^32 and a column sum below 2^35, exact in doubles.
 */
export function wideMul64(a: Int32Array, xHi: number, xLo: number, yHi: number, yLo: number): void {
  limbX[0] = xLo & 0xffff;
  limbX[1] = xLo >>> 16;
  limbX[2] = xHi & 0xffff;
  limbX[3] = xHi >>> 16;
  limbY[0] = yLo & 0xffff;
  limbY[1] = yLo >>> 16;
  limbY[2] = yHi & 0xffff;
  limbY[3] = yHi >>> 16;
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    let column = carry;
    const first = k > 3 ? k - 3 : 0;
    const last = k < 3 ? k : 3;
    for (let i = first; i <= last; i++) column += limbX[i] * limbY[k - i];
    carry = Math.floor(column * (1 / 65536));
    const digit = column - carry * 65536;
    if ((k & 1) === 0) a[k >> 1] = digit;
    else a[k >> 1] |= digit << 16;
  }
}
