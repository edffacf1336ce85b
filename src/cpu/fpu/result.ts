/** Writing results to f registers: singles NaN-boxed, NaNs canonical. */
import { F } from "../hart-state.ts";
import { CANONICAL_NAN_D_HI, CANONICAL_NAN_S, FMT_S } from "./constants.ts";

export function writeS(w: Int32Array, rd: number, bits: number): void {
  w[F + 2 * rd] = bits;
  w[F + 2 * rd + 1] = -1;
}

export function writeD(w: Int32Array, rd: number, hi: number, lo: number): void {
  w[F + 2 * rd] = lo;
  w[F + 2 * rd + 1] = hi;
}

export function writeCanonicalNaN(w: Int32Array, rd: number, fmt: number): void {
  if (fmt === FMT_S) writeS(w, rd, CANONICAL_NAN_S);
  else writeD(w, rd, CANONICAL_NAN_D_HI, 0);
}

export function writeZero(w: Int32Array, rd: number, fmt: number, sign: number): void {
  if (fmt === FMT_S) writeS(w, rd, sign << 31);
  else writeD(w, rd, sign << 31, 0);
}

export function writeInf(w: Int32Array, rd: number, fmt: number, sign: number): void {
  if (fmt === FMT_S) writeS(w, rd, (sign << 31) | 0x7f800000);
  else writeD(w, rd, (sign << 31) | 0x7ff00000, 0);
}
