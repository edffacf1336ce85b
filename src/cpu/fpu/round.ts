/**
 * Rounding an exact (or sticky-jammed) 128-bit significand to a single or a
 * double: the one place where rounding modes, overflow, subnormals and the
 * NX/UF/OF flags are decided for every software-path result.
 */
import { FFLAGS } from "../hart-state.ts";
import {
  FLAG_NX,
  FLAG_OF,
  FLAG_UF,
  FMT_S,
  RM_RDN,
  RM_RMM,
  RM_RNE,
  RM_RTZ,
  RM_RUP,
} from "./constants.ts";
import { writeD, writeInf, writeS } from "./result.ts";
import {
  RS_ABOVE_HALF,
  RS_EXACT,
  RS_HALF,
  wideClz,
  wideRoundState,
  wideShiftLeft,
  wideShiftRight,
  wideTopBits,
} from "./wide.ts";

/** The exact result the software path hands to `roundPack`. */
export const acc = new Int32Array(4);

/** 1 if a value with these discarded bits must be rounded away from zero. */
export function roundIncrement(rm: number, sign: number, odd: number, roundState: number): number {
  switch (rm) {
    case RM_RNE:
      return roundState === RS_ABOVE_HALF || (roundState === RS_HALF && odd !== 0) ? 1 : 0;
    case RM_RTZ:
      return 0;
    case RM_RDN:
      return sign !== 0 && roundState !== RS_EXACT ? 1 : 0;
    case RM_RUP:
      return sign === 0 && roundState !== RS_EXACT ? 1 : 0;
    case RM_RMM:
      return roundState >= RS_HALF ? 1 : 0;
  }
  return 0;
}

/**
 * Rounds (-1)^sign * acc * 2^(exp - 127) to `fmt` in mode `rm`, writes f
 * register rd and accrues the flags. acc must be nonzero and either exact or
 * jammed (see wideShiftRight); it is clobbered.
 */
export function roundPack(w: Int32Array, rd: number, fmt: number, sign: number, exp: number, rm: number): void {
  const single = fmt === FMT_S;
  const precision = single ? 24 : 53;
  const emin = single ? -126 : -1022;
  const emax = single ? 127 : 1023;
  const cut = 128 - precision;
  const carried = single ? 0x1000000 : 0x20000000000000; // 2^precision
  const hidden = single ? 0x800000 : 0x10000000000000; // 2^(precision - 1)

  const leading = wideClz(acc);
  wideShiftLeft(acc, leading);
  exp -= leading;

  // RISC-V detects tininess after rounding: tiny unless rounding to
  // `precision` bits with an unbounded exponent carries up to 2^emin.
  let tiny = false;
  if (exp < emin) {
    tiny = true;
    if (exp === emin - 1 && wideTopBits(acc, precision) === carried - 1) {
      tiny = roundIncrement(rm, sign, 1, wideRoundState(acc, cut)) === 0;
    }
    wideShiftRight(acc, emin - exp, true);
    exp = emin;
  }

  const roundState = wideRoundState(acc, cut);
  let kept = wideTopBits(acc, precision);
  kept += roundIncrement(rm, sign, kept % 2, roundState);
  if (kept === carried) {
    kept = hidden;
    exp++;
  }

  if (exp > emax) {
    w[FFLAGS] |= FLAG_OF | FLAG_NX;
    const toMax = rm === RM_RTZ || (rm === RM_RDN && sign === 0) || (rm === RM_RUP && sign !== 0);
    if (!toMax) writeInf(w, rd, fmt, sign);
    else if (single) writeS(w, rd, (sign << 31) | 0x7f7fffff);
    else writeD(w, rd, (sign << 31) | 0x7fefffff, -1);
    return;
  }
  if (roundState !== RS_EXACT) w[FFLAGS] |= tiny ? FLAG_UF | FLAG_NX : FLAG_NX;

  // A subnormal (or zero) keeps its top bit clear: biased exponent 0.
  const normal = kept >= hidden;
  const biased = normal ? exp + (single ? 127 : 1023) : 0;
  const fraction = normal ? kept - hidden : kept;
  if (single) {
    writeS(w, rd, (sign << 31) | (biased << 23) | fraction);
  } else {
    const fractionHi = Math.floor(fraction / 0x100000000);
    writeD(w, rd, (sign << 31) | (biased << 20) | fractionHi, (fraction - fractionHi * 0x100000000) | 0);
  }
}
