/**
 * Sv39/Sv48 address translation and the software TLB behind the hart's
 * load/store/fetch fast paths.
 *
 * TLB entry (8 int32 words): read tag lo/hi, write tag lo/hi, exec tag lo/hi,
 * addend, unused. A tag is the virtual page address (low 12 bits zero); a fast
 * path compares it with `va & (~0xfff | (size - 1))`, so misaligned accesses
 * and invalid entries (tag -1) fall to the slow path. `va + addend` is the
 * byte offset of the data in the VM memory (TinyEMU's trick: one addition).
 * There is one table per MMU index (U, S, M); permissions depend on
 * mstatus.SUM/MXR and satp, so the hart flushes when those change.
 */
import { RAM_BASE, RAM_OFFSET, TLB_ENTRIES, TLB_ENTRY_WORDS } from "./layout.ts";
import { MSTATUS, SATP } from "./hart-state.ts";
import { MS_MXR, MS_SUM } from "./csr-numbers.ts";
import type { Bus } from "../machine/bus.ts";
import { MMU_M, MMU_S, MMU_U } from "./mmu-index.ts";
import { PMP_R, PMP_W, PMP_X, pmpPermissions } from "./pmp.ts";

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;
export { MMU_M, MMU_S, MMU_U } from "./mmu-index.ts";

const PAGE_FAULT = [13, 15, 12];
const ACCESS_FAULT = [5, 7, 1];

const PTE_V = 1, PTE_R = 2, PTE_W = 4, PTE_X = 8, PTE_U = 16, PTE_A = 64, PTE_D = 128;
const TWO32 = 0x100000000;

/** What the translator needs from the hart: kept minimal to avoid a cycle. */
export interface TranslationContext {
  readonly w: Int32Array;
  readonly tlb: Int32Array;
  readonly bus: Bus;
  /** Set to the exception cause on failure (with excTvalLo/Hi). */
  exc: number;
  excTvalLo: number;
  excTvalHi: number;
  /** Some PMP entry is configured: check physical accesses against PMP. */
  pmpActive: boolean;
}

const PMP_NEEDED = [PMP_R, PMP_W, PMP_X];

function fail(h: TranslationContext, cause: number, lo: number, hi: number): number {
  h.exc = cause;
  h.excTvalLo = lo;
  h.excTvalHi = hi;
  return -1;
}

export function tlbEntryIndex(mmuIdx: number, lo: number): number {
  return (mmuIdx * TLB_ENTRIES + ((lo >>> 12) & (TLB_ENTRIES - 1))) * TLB_ENTRY_WORDS;
}

export function flushTlb(tlb: Int32Array): void {
  for (let i = 0; i < tlb.length; i += TLB_ENTRY_WORDS) {
    tlb[i] = -1;
    tlb[i + 2] = -1;
    tlb[i + 4] = -1;
  }
}

function fillTlb(h: TranslationContext, mmuIdx: number, lo: number, hi: number, pa: number,
  canRead: boolean, canWrite: boolean, canExec: boolean): void {
  const pagePa = pa - (pa % 4096);
  if (h.bus.ramOffset(pagePa, 4096) < 0) return; // MMIO stays on the slow path
  if (h.pmpActive) {
    const perms = pmpPermissions(h.w, pagePa, 4096, mmuIdx);
    canRead &&= (perms & PMP_R) !== 0;
    canWrite &&= (perms & PMP_W) !== 0;
    canExec &&= (perms & PMP_X) !== 0;
  }
  const t = h.tlb;
  const e = tlbEntryIndex(mmuIdx, lo);
  const pageLo = lo & ~0xfff;
  t[e] = canRead ? pageLo : -1;
  t[e + 1] = hi;
  t[e + 2] = canWrite ? pageLo : -1;
  t[e + 3] = hi;
  t[e + 4] = canExec ? pageLo : -1;
  t[e + 5] = hi;
  t[e + 6] = (RAM_OFFSET + (pagePa - RAM_BASE) - pageLo) | 0;
}

/**
 * Translates virtual address (lo, hi) for `access` under MMU index `mmuIdx`.
 * Returns the physical address as a non-negative number, or -1 with the
 * exception recorded in the context. Fills the TLB for RAM pages.
 */
export function translate(h: TranslationContext, lo: number, hi: number, access: number, mmuIdx: number): number {
  const w = h.w;
  const mode = mmuIdx === MMU_M ? 0 : w[SATP + 1] >>> 28;
  if (mode === 0) {
    if ((hi >>> 0) >= 0x01000000) return fail(h, ACCESS_FAULT[access], lo, hi);
    const pa = (hi >>> 0) * TWO32 + (lo >>> 0);
    if (h.pmpActive && (pmpPermissions(w, pa, 1, mmuIdx) & PMP_NEEDED[access]) === 0) {
      return fail(h, ACCESS_FAULT[access], lo, hi);
    }
    fillTlb(h, mmuIdx, lo, hi, pa, true, true, true);
    return pa;
  }
  const levels = mode === 8 ? 3 : 4;
  // The address must be sign-extended from its top translated bit.
  const top = levels === 3 ? hi >> 6 : hi >> 15;
  if (top !== 0 && top !== -1) return fail(h, PAGE_FAULT[access], lo, hi);
  const va = (hi & 0xffff) * TWO32 + (lo >>> 0); // bits 0..47
  const mstatus = w[MSTATUS];
  let table = ((w[SATP + 1] & 0xfff) * TWO32 + (w[SATP] >>> 0)) * 4096;
  const bus = h.bus;
  for (let level = levels - 1; level >= 0; level--) {
    const shift = 12 + 9 * level;
    const vpn = Math.floor(va / 2 ** shift) % 512;
    const pteAddr = table + vpn * 8;
    if (h.pmpActive && (pmpPermissions(w, pteAddr, 8, MMU_S) & PMP_R) === 0) {
      return fail(h, ACCESS_FAULT[access], lo, hi);
    }
    const pteLo = bus.read(pteAddr, 8);
    const pteHi = bus.hi;
    if (bus.fault) return fail(h, ACCESS_FAULT[access], lo, hi);
    if ((pteLo & PTE_V) === 0 || (pteLo & (PTE_R | PTE_W)) === PTE_W || (pteHi >>> 22) !== 0) {
      return fail(h, PAGE_FAULT[access], lo, hi);
    }
    const ppn = (pteHi & 0x3fffff) * 4194304 + (pteLo >>> 10); // bits 10..53
    if ((pteLo & (PTE_R | PTE_X)) === 0) {
      table = ppn * 4096;
      continue;
    }
    // Leaf.
    if (level > 0 && ppn % 2 ** (9 * level) !== 0) return fail(h, PAGE_FAULT[access], lo, hi);
    const user = (pteLo & PTE_U) !== 0;
    if (mmuIdx === MMU_U ? !user : user && (access === ACCESS_EXEC || (mstatus & MS_SUM) === 0)) {
      return fail(h, PAGE_FAULT[access], lo, hi);
    }
    const readable = (pteLo & PTE_R) !== 0 || ((mstatus & MS_MXR) !== 0 && (pteLo & PTE_X) !== 0);
    const writable = (pteLo & PTE_W) !== 0;
    const executable = (pteLo & PTE_X) !== 0 && !(mmuIdx === MMU_S && user);
    const allowed = access === ACCESS_READ ? readable : access === ACCESS_WRITE ? writable : executable;
    if (!allowed) return fail(h, PAGE_FAULT[access], lo, hi);
    // Hardware A/D update, as QEMU does.
    let newLo = pteLo | PTE_A;
    if (access === ACCESS_WRITE) newLo |= PTE_D;
    if (newLo !== pteLo) {
      if (!bus.write(pteAddr, 4, newLo, 0)) return fail(h, ACCESS_FAULT[access], lo, hi);
    }
    const pa = ppn * 4096 + (va % 2 ** shift);
    if (h.pmpActive && (pmpPermissions(w, pa, 1, mmuIdx) & PMP_NEEDED[access]) === 0) {
      return fail(h, ACCESS_FAULT[access], lo, hi);
    }
    const dirty = (newLo & PTE_D) !== 0;
    fillTlb(h, mmuIdx, lo, hi, pa, readable, writable && dirty, executable);
    return pa;
  }
  return fail(h, PAGE_FAULT[access], lo, hi);
}
