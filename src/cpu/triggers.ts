/**
 * The debug trigger module (Sdtrig) as QEMU 7.2's `virt` hart exposes it:
 * two address-match triggers behind tselect/tdata1/tdata2/tdata3/tinfo,
 * type 2 (mcontrol) or 6 (mcontrol6), matching instruction fetches
 * (execute), loads and stores by virtual address in the modes whose M/S/U
 * bits are set. A match raises a breakpoint exception (cause 3, tval 0)
 * before the instruction or access happens; action, chain, match, timing,
 * select, hit and dmode are read-only zero, tdata3 reads 0, tcontrol and
 * the context CSRs do not exist (all as QEMU 7.2; docs/cpu.md).
 *
 * Cost: nothing while no trigger is armed. The hart keeps the pages of
 * armed triggers out of its fast paths — no fetch page on a page an
 * execute trigger watches, no data TLB entry for a page a load/store
 * trigger watches (mmu.ts) — so every access there reaches the slow paths,
 * which ask `matchExec`/`matchData` only when `execArmed`/`dataArmed` is set.
 */
import { sub64, hi64 } from "./int64.ts";

/** How many triggers QEMU 7.2 gives each hart (RV_MAX_TRIGGERS). */
export const TRIGGER_COUNT = 2;

export const CSR_TSELECT = 0x7a0;
export const CSR_TDATA1 = 0x7a1;
export const CSR_TDATA2 = 0x7a2;
export const CSR_TDATA3 = 0x7a3;
export const CSR_TINFO = 0x7a4;

/** tdata1's access bits (low word); matchData takes LOAD, STORE or both as an access's kind. */
export const TRIGGER_LOAD = 1;
export const TRIGGER_STORE = 2;
const LOAD = TRIGGER_LOAD;
const STORE = TRIGGER_STORE;
const EXECUTE = 4;
const MODES = 0x58; // M (6), S (4), U (3): bit 3 + privilege
/** What a tdata1 write keeps (besides a valid size), for both types. */
const KEPT = MODES | EXECUTE | STORE | LOAD;
/** mcontrol6 only: VS (23) and VU (24), kept though nothing virtualised matches. */
const KEPT6 = KEPT | (3 << 23);
const TYPE2 = 2;
const TYPE6 = 6;
/** tinfo: types 2 and 6. */
const TINFO = (1 << TYPE2) | (1 << TYPE6);
/** The size field: sizehi (22:21) and sizelo (17:16) in type 2, bits 19:16 in type 6. */
const SIZE2 = (3 << 21) | (3 << 16);
const SIZE6 = 15 << 16;

function sizeField(type: number, lo: number): number {
  return type === TYPE2 ? ((lo >>> 19) & 0xc) | ((lo >>> 16) & 3) : (lo >>> 16) & 15;
}

/** Bytes watched per size encoding (spec); -1: not supported, the write keeps size 0. */
const SIZE_BYTES = [8, 1, 2, 4, -1, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1];

/** The plain state save()/restore() exchange (a snapshot's part for one hart). */
export interface TriggerState {
  v: 1;
  select: number;
  /** [lo, hi] int32 pairs per trigger. */
  tdata1: [number, number][];
  tdata2: [number, number][];
}

export class Triggers {
  /** Some trigger matches instruction fetches / data accesses in some mode. */
  execArmed = false;
  dataArmed = false;
  /** High word of the last `read`. */
  readHi = 0;

  private select = 0;
  private readonly tdata1 = new Int32Array(2 * TRIGGER_COUNT);
  private readonly tdata2 = new Int32Array(2 * TRIGGER_COUNT);
  /** Bytes each trigger watches from tdata2 (its size field). */
  private readonly length = new Int32Array(TRIGGER_COUNT);

  constructor() {
    this.reset();
  }

  /** Power-on state: every trigger type 2, disabled, address 0. */
  reset(): void {
    this.select = 0;
    this.tdata2.fill(0);
    for (let i = 0; i < TRIGGER_COUNT; i++) {
      this.tdata1[2 * i] = 0;
      this.tdata1[2 * i + 1] = TYPE2 << 28;
    }
    this.update();
  }

  /** Reads trigger CSR `csr`: returns the low word, the high word in `readHi`. */
  read(csr: number): number {
    const i = 2 * this.select;
    let lo = 0, hi = 0;
    switch (csr) {
      case CSR_TSELECT: lo = this.select; break;
      case CSR_TDATA1: lo = this.tdata1[i]; hi = this.tdata1[i + 1]; break;
      case CSR_TDATA2: lo = this.tdata2[i]; hi = this.tdata2[i + 1]; break;
      case CSR_TINFO: lo = TINFO; break;
    }
    this.readHi = hi;
    return lo;
  }

  /**
   * Writes trigger CSR `csr` (WARL, as QEMU 7.2: an out-of-range tselect and
   * a tdata1 of another type are ignored). Returns true when what is
   * watched changed, so the hart must drop the pages it cached.
   */
  write(csr: number, lo: number, hi: number): boolean {
    const i = 2 * this.select;
    switch (csr) {
      case CSR_TSELECT:
        if (hi === 0 && lo >>> 0 < TRIGGER_COUNT) this.select = lo;
        return false;
      case CSR_TDATA1: {
        const type = hi >>> 28;
        if (type !== TYPE2 && type !== TYPE6) return false;
        const size = sizeField(type, lo);
        const sizeBits = SIZE_BYTES[size] < 0 ? 0 : lo & (type === TYPE2 ? SIZE2 : SIZE6);
        this.tdata1[i] = (lo & (type === TYPE2 ? KEPT : KEPT6)) | sizeBits;
        this.tdata1[i + 1] = type << 28; // dmode and maskmax are zero
        break;
      }
      case CSR_TDATA2:
        this.tdata2[i] = lo;
        this.tdata2[i + 1] = hi;
        break;
      default: // tdata3 (reads 0) and tinfo ignore writes
        return false;
    }
    const before = this.execArmed || this.dataArmed;
    this.update();
    return before || this.execArmed || this.dataArmed;
  }

  /** An execute trigger fires at pc (lo, hi) in privilege `priv`. */
  matchExec(lo: number, hi: number, priv: number): boolean {
    for (let t = 0; t < TRIGGER_COUNT; t++) {
      const c = this.tdata1[2 * t];
      if ((c & EXECUTE) !== 0 && ((c >>> 3) & (1 << priv)) !== 0 && this.tdata2[2 * t] === lo && this.tdata2[2 * t + 1] === hi) {
        return true;
      }
    }
    return false;
  }

  /**
   * A trigger fires for an access of `size` bytes at (lo, hi): `kind` is
   * LOAD (1), STORE (2) or both (3, an AMO); any byte of the access in the
   * watched range [tdata2, tdata2 + size field) matches.
   */
  matchData(lo: number, hi: number, size: number, kind: number, priv: number): boolean {
    for (let t = 0; t < TRIGGER_COUNT; t++) {
      const c = this.tdata1[2 * t];
      if ((c & kind) === 0 || ((c >>> 3) & (1 << priv)) === 0) continue;
      const aLo = this.tdata2[2 * t], aHi = this.tdata2[2 * t + 1];
      // The ranges overlap when one starts within the other.
      const dLo = sub64(lo, hi, aLo, aHi);
      if (hi64.v === 0 && dLo >>> 0 < this.length[t]) return true;
      const eLo = sub64(aLo, aHi, lo, hi);
      if (hi64.v === 0 && eLo >>> 0 < size) return true;
    }
    return false;
  }

  /** A data trigger watches some byte of the 4 KiB page at (pageLo, hi): its accesses must take the slow path. */
  watchesDataPage(pageLo: number, hi: number): boolean {
    for (let t = 0; t < TRIGGER_COUNT; t++) {
      if ((this.tdata1[2 * t] & (LOAD | STORE)) === 0 || (this.tdata1[2 * t] & MODES) === 0) continue;
      if (this.rangeTouchesPage(t, pageLo, hi)) return true;
    }
    return false;
  }

  /** An execute trigger watches an address in the page at (pageLo, hi). */
  watchesExecPage(pageLo: number, hi: number): boolean {
    for (let t = 0; t < TRIGGER_COUNT; t++) {
      const c = this.tdata1[2 * t];
      if ((c & EXECUTE) !== 0 && (c & MODES) !== 0 && (this.tdata2[2 * t] & -4096) === pageLo && this.tdata2[2 * t + 1] === hi) {
        return true;
      }
    }
    return false;
  }

  save(): TriggerState {
    const pairs = (a: Int32Array) => Array.from({ length: TRIGGER_COUNT }, (_, t): [number, number] => [a[2 * t], a[2 * t + 1]]);
    return { v: 1, select: this.select, tdata1: pairs(this.tdata1), tdata2: pairs(this.tdata2) };
  }

  /** Restores a saved state; a malformed one is refused whole (the triggers are then unchanged). */
  restore(state: TriggerState): void {
    const pairsOk = (p: unknown) =>
      Array.isArray(p) && p.length === TRIGGER_COUNT && p.every((x) => Array.isArray(x) && x.length === 2 && x.every(Number.isInteger));
    if (state?.v !== 1 || !Number.isInteger(state.select) || !pairsOk(state.tdata1) || !pairsOk(state.tdata2)) {
      const v = typeof state === "object" && state !== null ? (state as { v?: unknown }).v : undefined;
      throw new Error(`triggers: cannot restore state version ${String(v)}`);
    }
    this.reset();
    this.write(CSR_TSELECT, state.select | 0, 0);
    const select = this.select;
    for (let t = 0; t < TRIGGER_COUNT; t++) {
      this.select = t;
      // Through the CSR write: a hand-made state gets only what a guest could set.
      this.write(CSR_TDATA1, state.tdata1[t][0] | 0, state.tdata1[t][1] | 0);
      this.write(CSR_TDATA2, state.tdata2[t][0] | 0, state.tdata2[t][1] | 0);
    }
    this.select = select;
  }

  private rangeTouchesPage(t: number, pageLo: number, hi: number): boolean {
    const aLo = this.tdata2[2 * t], aHi = this.tdata2[2 * t + 1];
    if ((aLo & -4096) === pageLo && aHi === hi) return true;
    // The range's last byte may lie on the next page.
    const last = sub64(aLo, aHi, 1 - this.length[t], (1 - this.length[t]) >> 31);
    return (last & -4096) === pageLo && hi64.v === hi;
  }

  private update(): void {
    let exec = false, data = false;
    for (let t = 0; t < TRIGGER_COUNT; t++) {
      const lo = this.tdata1[2 * t], hi = this.tdata1[2 * t + 1];
      this.length[t] = SIZE_BYTES[sizeField(hi >>> 28, lo)];
      if ((lo & MODES) === 0) continue;
      if ((lo & EXECUTE) !== 0) exec = true;
      if ((lo & (LOAD | STORE)) !== 0) data = true;
    }
    this.execArmed = exec;
    this.dataArmed = data;
  }
}
