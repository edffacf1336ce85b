/**
 * Physical memory protection: the permissions the 16 PMP entries grant over a
 * physical range. Cold path: the MMU consults it when filling the TLB, and
 * only while some entry is active (`pmpActive`); the TLB then caches the result
 * for whole pages that one entry covers.
 */
import { PMPADDR, PMPCFG } from "./hart-state.ts";
import { MMU_M } from "./mmu-index.ts";

export const PMP_R = 1;
export const PMP_W = 2;
export const PMP_X = 4;
const PMP_ALL = PMP_R | PMP_W | PMP_X;
const TWO32 = 0x100000000;

function cfgByte(w: Int32Array, i: number): number {
  const word = PMPCFG + (i >= 8 ? 2 : 0) + ((i & 7) >= 4 ? 1 : 0);
  return (w[word] >>> ((i & 3) * 8)) & 0xff;
}

function addr(w: Int32Array, i: number): number {
  return (w[PMPADDR + 2 * i + 1] & 0x3fffff) * TWO32 + (w[PMPADDR + 2 * i] >>> 0);
}

function trailingOnes(v: number): number {
  let n = 0;
  while (n < 32 && ((v >>> n) & 1) === 1) n++;
  return n;
}

/** True when any entry is configured (A != OFF). */
export function pmpAnyActive(w: Int32Array): boolean {
  for (let i = 0; i < 16; i++) if ((cfgByte(w, i) & 0x18) !== 0) return true;
  return false;
}

/**
 * Permission bits (PMP_R/W/X) granted for the whole range [pa, pa + len) to
 * an access at MMU index `mmuIdx`, 0 when denied. A range only partly inside
 * the first matching entry is denied, as the spec requires.
 */
export function pmpPermissions(w: Int32Array, pa: number, len: number, mmuIdx: number): number {
  for (let i = 0; i < 16; i++) {
    const cfg = cfgByte(w, i);
    const mode = (cfg >>> 3) & 3;
    if (mode === 0) continue;
    let lo: number, hi: number;
    const a = addr(w, i);
    if (mode === 1) { // TOR
      lo = i === 0 ? 0 : addr(w, i - 1) * 4;
      hi = a * 4;
    } else if (mode === 2) { // NA4
      lo = a * 4;
      hi = lo + 4;
    } else { // NAPOT: trailing ones encode the size; count them on the words (2^54 - 1 is not a double)
      const wLo = w[PMPADDR + 2 * i] >>> 0;
      const wHi = w[PMPADDR + 2 * i + 1] & 0x3fffff;
      let ones = trailingOnes(wLo);
      let baseLo = ones === 32 ? 0 : wLo - (2 ** ones - 1);
      let baseHi = wHi;
      if (ones === 32) {
        const hiOnes = Math.min(trailingOnes(wHi), 22);
        ones += hiOnes;
        baseHi = wHi - (2 ** hiOnes - 1);
      }
      lo = (baseHi * TWO32 + baseLo) * 4;
      hi = lo + 8 * 2 ** ones;
    }
    if (pa + len <= lo || pa >= hi) continue;
    if (pa < lo || pa + len > hi) return 0;
    if (mmuIdx === MMU_M && (cfg & 0x80) === 0) return PMP_ALL;
    return cfg & PMP_ALL;
  }
  return mmuIdx === MMU_M ? PMP_ALL : 0;
}
