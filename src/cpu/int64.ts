/**
 * 64-bit integer arithmetic on int32 pairs (lo, hi) without BigInt or
 * allocation. Functions return the low word and leave the high word in
 * `hi64.v` (one module-level slot: the interpreter reads it right away).
 */
export const hi64 = { v: 0 };

export function add64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  const s = (aLo >>> 0) + (bLo >>> 0);
  hi64.v = (aHi + bHi + (s > 0xffffffff ? 1 : 0)) | 0;
  return s | 0;
}

export function sub64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  const borrow = (aLo >>> 0) < (bLo >>> 0) ? 1 : 0;
  hi64.v = (aHi - bHi - borrow) | 0;
  return (aLo - bLo) | 0;
}

/** Adds a sign-extended 32-bit immediate. */
export function addImm64(aLo: number, aHi: number, imm: number): number {
  const s = (aLo >>> 0) + (imm >>> 0);
  hi64.v = (aHi + (imm >> 31) + (s > 0xffffffff ? 1 : 0)) | 0;
  return s | 0;
}

export function sll64(lo: number, hi: number, s: number): number {
  s &= 63;
  if (s === 0) { hi64.v = hi; return lo; }
  if (s < 32) { hi64.v = (hi << s) | (lo >>> (32 - s)); return lo << s; }
  hi64.v = lo << (s - 32);
  return 0;
}

export function srl64(lo: number, hi: number, s: number): number {
  s &= 63;
  if (s === 0) { hi64.v = hi; return lo; }
  if (s < 32) { hi64.v = hi >>> s | 0; return (lo >>> s) | (hi << (32 - s)); }
  hi64.v = 0;
  return (hi >>> (s - 32)) | 0;
}

export function sra64(lo: number, hi: number, s: number): number {
  s &= 63;
  if (s === 0) { hi64.v = hi; return lo; }
  if (s < 32) { hi64.v = hi >> s; return (lo >>> s) | (hi << (32 - s)); }
  hi64.v = hi >> 31;
  return hi >> (s - 32);
}

export function rol64(lo: number, hi: number, s: number): number {
  s &= 63;
  if (s === 0) { hi64.v = hi; return lo; }
  const l1 = sll64(lo, hi, s);
  const h1 = hi64.v;
  const l2 = srl64(lo, hi, 64 - s);
  hi64.v = h1 | hi64.v;
  return l1 | l2;
}

export function ror64(lo: number, hi: number, s: number): number {
  return rol64(lo, hi, (64 - (s & 63)) & 63);
}

export function ltSigned64(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi < bHi || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0));
}

export function ltUnsigned64(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return (aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0));
}

export function clz64(lo: number, hi: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

export function ctz32(v: number): number {
  if (v === 0) return 32;
  return 31 - Math.clz32(v & -v);
}

export function ctz64(lo: number, hi: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Byte-wise OR-combine (Zbb orc.b) of one word. */
export function orcb32(v: number): number {
  let r = 0;
  if (v & 0xff) r |= 0xff;
  if (v & 0xff00) r |= 0xff00;
  if (v & 0xff0000) r |= 0xff0000;
  if (v & 0xff000000) r |= 0xff000000;
  return r | 0;
}

export function bswap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) | 0;
}
