/** Bit-level views of IEEE values through one preallocated scratch buffer. */
const scratch = new ArrayBuffer(8);
const scratchF64 = new Float64Array(scratch);
const scratchF32 = new Float32Array(scratch);
const scratchI32 = new Int32Array(scratch);

/** The value of single-precision bits (exact as a double; NaN payloads not preserved). */
export function singleValue(bits: number): number {
  scratchI32[0] = bits;
  return scratchF32[0];
}

/** The bits of a single-precision value (a non-NaN double that is exactly a single). */
export function singleBits(value: number): number {
  scratchF32[0] = value;
  return scratchI32[0];
}

/** The low word of a double's bits (its significand's last 32 bits). */
export function doubleLowWord(value: number): number {
  scratchF64[0] = value;
  return scratchI32[0];
}

/** The double whose bits are (hi, lo). */
export function doubleFromWords(hi: number, lo: number): number {
  scratchI32[0] = lo;
  scratchI32[1] = hi;
  return scratchF64[0];
}

/** The high word of a double's bits (sign, exponent, top of the significand). */
export function doubleHighWord(value: number): number {
  scratchF64[0] = value;
  return scratchI32[1];
}

export function isNaNS(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}

export function isSignalingS(bits: number): boolean {
  return isNaNS(bits) && (bits & 0x400000) === 0;
}

export function isNaND(hi: number, lo: number): boolean {
  const magnitudeHi = hi & 0x7fffffff;
  return magnitudeHi > 0x7ff00000 || (magnitudeHi === 0x7ff00000 && lo !== 0);
}

export function isSignalingD(hi: number, lo: number): boolean {
  return isNaND(hi, lo) && (hi & 0x80000) === 0;
}
