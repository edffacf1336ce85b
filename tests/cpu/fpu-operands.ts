/**
 * Operand values for the FPU differential test: hand-picked edge cases and
 * seeded random values aimed at the hard parts (ties, cancellation, the
 * overflow and underflow boundaries, integer conversion limits).
 * Values are register bit patterns (bigint); singles are NaN-boxed.
 */

export const MASK64 = (1n << 64n) - 1n;

/** mulberry32: small, fast and reproducible from a 32-bit seed. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed | 0;
  }
  next32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n) for n <= 2^32. */
  int(n: number): number {
    return Math.floor((this.next32() / 2 ** 32) * n);
  }
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bits(n: number): bigint {
    let v = 0n;
    for (let got = 0; got < n; got += 32) v = (v << 32n) | BigInt(this.next32());
    return v & ((1n << BigInt(n)) - 1n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next32() < p * 2 ** 32;
  }
}

const view = new DataView(new ArrayBuffer(8));

export interface FloatFormat {
  name: "s" | "d";
  width: number;
  fractionBits: number;
  bias: number;
  /** Largest biased exponent of a finite value. */
  maxFiniteExp: number;
  /** Raw format bits of x (rounded to nearest for singles). */
  rawOf(x: number): bigint;
  valueOf(raw: bigint): number;
  /** The register pattern holding raw bits (NaN-boxed for singles). */
  box(raw: bigint): bigint;
}

export const SINGLE: FloatFormat = {
  name: "s",
  width: 32,
  fractionBits: 23,
  bias: 127,
  maxFiniteExp: 254,
  rawOf(x) {
    view.setFloat32(0, x);
    return BigInt(view.getUint32(0));
  },
  valueOf(raw) {
    view.setUint32(0, Number(raw & 0xffffffffn));
    return view.getFloat32(0);
  },
  box: (raw) => 0xffffffff00000000n | (raw & 0xffffffffn),
};

export const DOUBLE: FloatFormat = {
  name: "d",
  width: 64,
  fractionBits: 52,
  bias: 1023,
  maxFiniteExp: 2046,
  rawOf(x) {
    view.setFloat64(0, x);
    return view.getBigUint64(0);
  },
  valueOf(raw) {
    view.setBigUint64(0, raw & MASK64);
    return view.getFloat64(0);
  },
  box: (raw) => raw & MASK64,
};

export function formatOf(name: string): FloatFormat {
  return name === "s" ? SINGLE : DOUBLE;
}

function signBit(f: FloatFormat): bigint {
  return 1n << BigInt(f.width - 1);
}

function fromParts(f: FloatFormat, sign: number, biased: number, fraction: bigint): bigint {
  return (BigInt(sign) << BigInt(f.width - 1)) | (BigInt(biased) << BigInt(f.fractionBits)) | fraction;
}

/** Edge values for a format (raw bits), both signs of each. */
export function edgeValues(f: FloatFormat): bigint[] {
  const fb = BigInt(f.fractionBits);
  const fracMask = (1n << fb) - 1n;
  const quiet = 1n << (fb - 1n);
  const maxExp = BigInt(f.maxFiniteExp);
  const magnitudes: bigint[] = [
    0n,
    f.rawOf(1),
    1n, // min subnormal
    fracMask, // max subnormal
    1n << (fb - 1n), // a subnormal with only its top bit
    1n << fb, // min normal
    (1n << fb) | quiet, // 1.5 * min normal
    (maxExp << fb) | fracMask, // max finite
    maxExp << fb, // 2^emax
    (maxExp + 1n) << fb, // infinity
    f.rawOf(0.5),
    f.rawOf(1.5),
    f.rawOf(2.5),
    f.rawOf(3),
    f.rawOf(2 ** 31),
    f.rawOf(2 ** 31 - 1),
    f.rawOf(2 ** 31 - 0.5),
    f.rawOf(2 ** 31 + 1),
    f.rawOf(2 ** 32),
    f.rawOf(2 ** 32 - 1),
    f.rawOf(2 ** 32 - 0.5),
    f.rawOf(2 ** 63),
    f.rawOf(2 ** 63) - 1n, // largest below 2^63
    f.rawOf(2 ** 63) + 1n, // smallest above 2^63
    f.rawOf(2 ** 64),
    f.rawOf(2 ** 64) - 1n,
    f.rawOf(1) + 1n, // 1 + ulp
    f.rawOf(1) - 1n, // 1 - ulp/2
    f.rawOf(1 / 3),
    f.rawOf(Math.PI),
    f.rawOf(0.1),
    f.rawOf(Math.SQRT2),
    f.rawOf(1e30),
  ];
  const values: bigint[] = [];
  for (const m of magnitudes) values.push(m, m | signBit(f));
  // NaNs: canonical quiet, quiet with payload, signaling, negative ones.
  const infinity = (maxExp + 1n) << fb;
  values.push(infinity | quiet, signBit(f) | infinity | quiet | 5n, infinity | 1n, signBit(f) | infinity | (quiet >> 1n));
  return values;
}

/** A smaller edge set for operand pairs and triples. */
export function coreEdgeValues(f: FloatFormat): bigint[] {
  const fb = BigInt(f.fractionBits);
  const maxExp = BigInt(f.maxFiniteExp);
  const infinity = (maxExp + 1n) << fb;
  const magnitudes = [0n, f.rawOf(1), 1n, (1n << fb) - 1n, 1n << fb, (maxExp << fb) | ((1n << fb) - 1n), infinity, f.rawOf(1.5), f.rawOf(2 ** 31), f.rawOf(1) + 1n, f.rawOf(1 / 3)];
  const values: bigint[] = [];
  for (const m of magnitudes) values.push(m, m | signBit(f));
  values.push(infinity | (1n << (fb - 1n)), infinity | 1n);
  return values;
}

/** Register patterns that are not properly NaN-boxed singles. */
export const UNBOXED_SINGLES: bigint[] = [
  0x000000003f800000n,
  0x7ff8000000000000n,
  0xfffffffe3f800000n,
  0x7fffffff00000000n,
  0x0000000000000000n,
  0x80000000ffffffffn,
];

/** A random finite or special value, biased toward interesting regions. */
export function randomRaw(rng: Random, f: FloatFormat): bigint {
  const fb = f.fractionBits;
  const sign = rng.int(2);
  switch (rng.int(8)) {
    case 0:
      return rng.bits(f.width);
    case 1:
    case 2:
      return fromParts(f, sign, f.bias + rng.range(-40, 40), rng.bits(fb));
    case 3:
      return fromParts(f, sign, rng.range(1, f.maxFiniteExp), rng.bits(fb));
    case 4:
      // Subnormal or barely normal.
      return fromParts(f, sign, rng.range(0, 2), rng.bits(rng.range(1, fb)));
    case 5:
      return fromParts(f, sign, f.maxFiniteExp - rng.range(0, 3), rng.bits(fb));
    case 6: {
      // Few significant bits: exact results and exact ties are likely.
      const k = rng.range(1, 2 ** rng.range(1, 12));
      const value = k * 2 ** rng.range(-12, 12);
      return f.rawOf(sign ? -value : value);
    }
    default:
      return perturb(rng, f, rng.pick(edgeValues(f)));
  }
}

/** raw moved by a few units in the last place (stays in the same sign). */
export function perturb(rng: Random, f: FloatFormat, raw: bigint): bigint {
  const magnitude = raw & ~signBit(f) & ((1n << BigInt(f.width)) - 1n);
  const moved = magnitude + BigInt(rng.range(-3, 3));
  const max = BigInt(f.maxFiniteExp + 1) << BigInt(f.fractionBits);
  if (moved < 0n || moved > max) return raw;
  return (raw & signBit(f)) | moved;
}

function negate(f: FloatFormat, raw: bigint): bigint {
  return raw ^ signBit(f);
}

/** A second operand related to the first: near it, near its negation, or shifted. */
export function relatedRaw(rng: Random, f: FloatFormat, a: bigint): bigint {
  const fb = BigInt(f.fractionBits);
  switch (rng.int(6)) {
    case 0:
      return perturb(rng, f, a);
    case 1:
      return perturb(rng, f, negate(f, a));
    case 2: {
      // Same sign region, exponent moved by up to 2 * precision: partial alignment.
      const biased = Number((a >> fb) & ((1n << BigInt(f.width - 1 - f.fractionBits)) - 1n));
      const shifted = Math.min(f.maxFiniteExp, Math.max(0, biased - rng.range(-(f.fractionBits + 4) * 2, (f.fractionBits + 4) * 2)));
      return fromParts(f, rng.int(2), shifted, rng.bits(f.fractionBits));
    }
    default:
      return randomRaw(rng, f);
  }
}

/** The smallest normal, the smallest subnormal, the largest finite value or 0.75 * smallest normal. */
export function boundaryValue(rng: Random, f: FloatFormat): number {
  const minNormal = f.valueOf(1n << BigInt(f.fractionBits));
  const max = f.valueOf((BigInt(f.maxFiniteExp) << BigInt(f.fractionBits)) | ((1n << BigInt(f.fractionBits)) - 1n));
  return rng.pick([minNormal, minNormal / 2 ** f.fractionBits, max, minNormal * 0.75]);
}

/** b such that a * b lands near a boundary (see boundaryValue): tininess, underflow, overflow. */
export function productBoundaryPartner(rng: Random, f: FloatFormat, a: bigint): bigint {
  const x = f.valueOf(a);
  if (!Number.isFinite(x) || x === 0) return randomRaw(rng, f);
  let partner = boundaryValue(rng, f) / x;
  if (!Number.isFinite(partner) || partner === 0) return randomRaw(rng, f);
  if (rng.chance(0.5)) partner = -partner;
  return perturb(rng, f, f.rawOf(partner));
}

/** c near -(a * b) (massive cancellation) or near a * b rounded in some way. */
export function cancellingAddend(rng: Random, f: FloatFormat, a: bigint, b: bigint): bigint {
  const product = f.valueOf(a) * f.valueOf(b);
  if (!Number.isFinite(product)) return randomRaw(rng, f);
  const raw = f.rawOf(rng.chance(0.8) ? -product : product);
  return perturb(rng, f, raw);
}

/**
 * (a, b, c) with a * b + c a hair beside the midpoint between c and its
 * neighbour: a * b = halfUlp(c) * (1 - d^2) exactly, where d = k * 2^-j is
 * small enough that a double-rounded sum would land exactly on the midpoint.
 */
export function nearMidpointTriple(rng: Random, f: FloatFormat): bigint[] {
  const p = f.fractionBits + 1;
  const c = fromParts(f, rng.int(2), f.bias + rng.range(-20, 20), rng.bits(f.fractionBits));
  const magnitude = c & ~signBit(f);
  const halfUlp = (f.valueOf(magnitude + 1n) - f.valueOf(magnitude)) / 2;
  const d = rng.range(1, 7) * 2 ** -rng.range(Math.ceil(p / 2), p - 3);
  const scale = 2 ** rng.range(-4, 4);
  const a = (1 + d) * scale;
  const b = ((rng.chance(0.5) ? -halfUlp : halfUlp) * (1 - d)) / scale;
  return [f.rawOf(rng.chance(0.5) ? a : -a), f.rawOf(b), c];
}

/** Integer register values (64-bit patterns). */
export function edgeIntegers(): bigint[] {
  const values = [
    0n, 1n, 2n, 3n, -1n, -2n, 7n, 10n,
    (1n << 31n) - 1n, 1n << 31n, -(1n << 31n), -(1n << 31n) - 1n, (1n << 32n) - 1n, 1n << 32n,
    (1n << 24n) + 1n, (1n << 24n) + 3n, -((1n << 24n) + 1n), (1n << 25n) - 1n,
    (1n << 53n) + 1n, (1n << 53n) - 1n, -((1n << 53n) + 1n), (1n << 54n) + 2n, (1n << 54n) + 6n,
    (1n << 63n) - 1n, -(1n << 63n), -(1n << 63n) + 1n, (1n << 64n) - 1n, (1n << 63n) + (1n << 62n),
    0xdeadbeef00000001n, 0x0000000180000000n, 0xffffffff7fffffffn, 0x12345678ffffffffn,
    0x0020000000000001n, 0x7ffffffffffffc00n, 0x7ffffffffffffe00n, 0x7ffffffffffffdffn,
  ];
  return values.map((v) => v & MASK64);
}

export function randomInteger(rng: Random): bigint {
  switch (rng.int(5)) {
    case 0:
      return rng.bits(64);
    case 1:
      return rng.bits(rng.range(1, 64));
    case 2: {
      // Near a power of two: ties and carries when rounding to 24 or 53 bits.
      const p = BigInt(rng.range(20, 63));
      return ((1n << p) + BigInt(rng.range(-8, 8)) * (1n << BigInt(rng.range(0, Number(p) - 20)))) & MASK64;
    }
    case 3:
      return (-rng.bits(rng.range(1, 63))) & MASK64;
    default:
      // Sign-extended 32-bit values and garbage upper halves.
      return BigInt.asUintN(64, BigInt.asIntN(32, rng.bits(32))) ^ (rng.chance(0.5) ? rng.bits(32) << 32n : 0n);
  }
}

/** Values near the integer conversion limits and half-integers, as raw format bits. */
export function conversionBoundaryRaw(rng: Random, f: FloatFormat): bigint {
  const bases = [2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 2 ** 24, 2 ** 53, 1, 0];
  const base = rng.pick(bases) * (rng.chance(0.5) ? -1 : 1);
  const offset = rng.pick([0, 0.5, -0.5, 1, -1, 1.5, -1.5, 0.25, 0.75]);
  const raw = f.rawOf(base + offset);
  return rng.chance(0.5) ? perturb(rng, f, raw) : raw;
}
