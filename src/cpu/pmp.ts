/**
 * Physical memory protection: the permissions the 16 PMP entries grant over a
 * physical range. The MMU consults it on TLB fills and page walks, and only
 * while some entry is active; the TLB then caches the result per page. The
 * entries are decoded into address ranges once per pmpcfg/pmpaddr write
 * (`pmpDecode`), not on every check.
 */
import { PMPADDR, PMPCFG } from "./hart-state.ts";
import { MMU_M } from "./mmu-index.ts";

export const PMP_R = 1;
export const PMP_W = 2;
export const PMP_X = 4;
const PMP_ALL = PMP_R | PMP_W | PMP_X;
const PMP_LOCK = 0x80;
const TWO32 = 0x100000000;

/** Active entries in priority order: [lo, hi) ranges and their cfg bytes. */
class DecodedPmp {
  count = 0;
  readonly lo = new Float64Array(16);
  readonly hi = new Float64Array(16);
  readonly cfg = new Int32Array(16);
}

const decodedByState = new WeakMap<Int32Array, DecodedPmp>();
const EMPTY = new DecodedPmp();

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

/**
 * Decodes the hart's PMP CSRs (after any write to them). Returns true when
 * some entry is active, i.e. when accesses must be checked.
 */
export function pmpDecode(w: Int32Array): boolean {
  let d = decodedByState.get(w);
  if (d === undefined) {
    d = new DecodedPmp();
    decodedByState.set(w, d);
  }
  d.count = 0;
  for (let i = 0; i < 16; i++) {
    const cfg = cfgByte(w, i);
    const mode = (cfg >>> 3) & 3;
    if (mode === 0) continue;
    let lo: number, hi: number;
    if (mode === 1) { // TOR
      lo = i === 0 ? 0 : addr(w, i - 1) * 4;
      hi = addr(w, i) * 4;
    } else if (mode === 2) { // NA4
      lo = addr(w, i) * 4;
      hi = lo + 4;
    } else { // NAPOT: trailing ones encode the size; count them on the words (2^54 - 1 is not a double)
      const wLo = w[PMPADDR + 2 * i] >>> 0;
      const wHi = w[PMPADDR + 2 * i + 1] & 0x3fffff;
      let ones = trailingOnes(wLo);
      const baseLo = ones === 32 ? 0 : wLo - (2 ** ones - 1);
      let baseHi = wHi;
      if (ones === 32) {
        const hiOnes = Math.min(trailingOnes(wHi), 22);
        ones += hiOnes;
        baseHi = wHi - (2 ** hiOnes - 1);
      }
      lo = (baseHi * TWO32 + baseLo) * 4;
      hi = lo + 8 * 2 ** ones;
    }
    d.lo[d.count] = lo;
    d.hi[d.count] = hi;
    d.cfg[d.count] = cfg;
    d.count++;
  }
  return d.count > 0;
}

/**
 * Permission bits (PMP_R/W/X) granted for the whole range [pa, pa + len) to
 * an access at MMU index `mmuIdx`, 0 when denied. A range only partly inside
 * the first matching entry is denied, as the spec requires. With no active
 * entry everything is allowed, as on QEMU.
 */
export function pmpPermissions(w: Int32Array, pa: number, len: number, mmuIdx: number): number {
  const d = decodedByState.get(w) ?? EMPTY;
  if (d.count === 0) return PMP_ALL;
  const end = pa + len;
  for (let i = 0; i < d.count; i++) {
    const lo = d.lo[i], hi = d.hi[i];
    if (end <= lo || pa >= hi) continue;
    if (pa < lo || end > hi) return 0;
    const cfg = d.cfg[i];
    if (mmuIdx === MMU_M && (cfg & PMP_LOCK) === 0) return PMP_ALL;
    return cfg & PMP_ALL;
  }
  return mmuIdx === MMU_M ? PMP_ALL : 0;
}
