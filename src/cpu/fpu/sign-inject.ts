/** FSGNJ / FSGNJN / FSGNJX: the magnitude of rs1 with a sign taken from rs2. */
import { F } from "../hart-state.ts";
import { FMT_S } from "./constants.ts";
import { readS } from "./operand.ts";
import { writeD, writeS } from "./result.ts";

export const SGNJ = 0;
export const SGNJN = 1;
export const SGNJX = 2;

function injectSign(magnitudeWord: number, signWord: number, kind: number): number {
  const sign = kind === SGNJ ? signWord : kind === SGNJN ? ~signWord : magnitudeWord ^ signWord;
  return (magnitudeWord & 0x7fffffff) | (sign & 0x80000000);
}

/** Singles are NaN-box checked first (a non-boxed input reads as the canonical NaN). */
export function fpSignInject(w: Int32Array, rd: number, fmt: number, rs1: number, rs2: number, kind: number): void {
  if (fmt === FMT_S) {
    writeS(w, rd, injectSign(readS(w, rs1), readS(w, rs2), kind));
  } else {
    const lo = w[F + 2 * rs1];
    writeD(w, rd, injectSign(w[F + 2 * rs1 + 1], w[F + 2 * rs2 + 1], kind), lo);
  }
}
