/**
 * Sv39/Sv48 address translation and the software TLB behind the hart's
 * load/store/fetch fast paths.
 *
 * TLB entry (8 int32 words): read tag lo/hi, write tag lo/hi, exec tag lo/hi,
 * addend, and the page's virtual address with the level of the leaf PTE and
 * its G bit in the low bits (-1 when empty; for SFENCE.VMA). A tag is the
 * virtual page address (low 12 bits zero); a fast
 * path compares it with `va & (~0xfff | (size - 1))`, so misaligned accesses
 * and invalid entries (tag -1) fall to the slow path. `va + addend` is the
 * byte offset of the data in the VM memory (TinyEMU's trick: one addition).
 * There is one table per MMU index (U, S, M, S with SUM); permissions depend
 * on mstatus.MXR and satp, so the hart flushes when those change.
 */
import { RAM_BASE, RAM_OFFSET, TLB_ENTRIES, TLB_ENTRY_WORDS } from "./layout.ts";
import { MSTATUS, SATP } from "./hart-state.ts";
import { MS_MXR } from "./csr-numbers.ts";
import type { Bus } from "../machine/bus.ts";
import { MMU_M, MMU_S, MMU_S_SUM, MMU_U } from "./mmu-index.ts";
import { PMP_R, PMP_W, PMP_X, pmpPermissions } from "./pmp.ts";
import { PAGE_WRITABLE } from "../machine/ram-pages.ts";

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;
export { MMU_M, MMU_S, MMU_S_SUM, MMU_U } from "./mmu-index.ts";

const PAGE_FAULT = [13, 15, 12];
const ACCESS_FAULT = [5, 7, 1];

const PTE_V = 1, PTE_R = 2, PTE_W = 4, PTE_X = 8, PTE_U = 16, PTE_G = 32, PTE_A = 64, PTE_D = 128;
/** In TLB word 7: the translation came from a global PTE (it survives address-space switches). */
const TLB_GLOBAL = 4;
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

/** Words of one MMU index's tables: TLB_ENTRIES data entries, then TLB_ENTRIES fetch entries. */
export const TLB_INDEX_WORDS = 2 * TLB_ENTRIES * TLB_ENTRY_WORDS;

/** The data entry for virtual address `lo` (word index into the TLB). */
export function tlbEntryIndex(mmuIdx: number, lo: number): number {
  return mmuIdx * TLB_INDEX_WORDS + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
}

/** The instruction-fetch entry for virtual address `lo`. */
export function tlbFetchEntryIndex(mmuIdx: number, lo: number): number {
  return tlbEntryIndex(mmuIdx, lo) + TLB_ENTRIES * TLB_ENTRY_WORDS;
}

export function flushTlb(tlb: Int32Array): void {
  for (let i = 0; i < tlb.length; i += TLB_ENTRY_WORDS) {
    tlb[i] = -1;
    tlb[i + 2] = -1;
    tlb[i + 4] = -1;
    tlb[i + 7] = -1;
  }
}

/**
 * Drops the translations of non-global pages (a new address space: satp
 * written with the same mode, or SFENCE.VMA x0 with an ASID). The TLB has no
 * ASID tags, so every other address space goes; global ones stay valid.
 */
export function flushTlbNonGlobal(tlb: Int32Array): void {
  for (let i = 0; i < tlb.length; i += TLB_ENTRY_WORDS) {
    if ((tlb[i + 7] & TLB_GLOBAL) !== 0 && tlb[i + 7] !== -1) continue;
    tlb[i] = -1;
    tlb[i + 2] = -1;
    tlb[i + 4] = -1;
    tlb[i + 7] = -1;
  }
}

/**
 * Drops every cached translation of virtual address (lo, hi) in all MMU
 * indexes (SFENCE.VMA with rs1 != x0), including the 4 KiB pieces cached
 * from a superpage that contains it.
 */
export function flushTlbAddress(tlb: Int32Array, lo: number, hi: number): void {
  for (let i = 0; i < tlb.length; i += TLB_ENTRY_WORDS) {
    const v = tlb[i + 7];
    if (v === -1 || !sameLeaf(v, tlb[i + 1], lo, hi)) continue;
    tlb[i] = -1;
    tlb[i + 2] = -1;
    tlb[i + 4] = -1;
    tlb[i + 7] = -1;
  }
}

/**
 * Drops the write tags of the data entries that map the RAM page at memory
 * byte offset `host` (it now has decoded code: stores to it must take the
 * slow path, which takes the page's decoded entries away).
 */
export function dropWriteTags(tlb: Int32Array, host: number): void {
  for (let idx = 0; idx < tlb.length; idx += TLB_INDEX_WORDS) {
    const end = idx + TLB_ENTRIES * TLB_ENTRY_WORDS;
    for (let e = idx; e < end; e += TLB_ENTRY_WORDS) {
      if (tlb[e + 2] !== -1 && ((tlb[e + 2] + tlb[e + 6]) | 0) === host) tlb[e + 2] = -1;
    }
  }
}

/** Whether (lo, hi) lies in the page or superpage of entry word 7 `v` (and its hi). */
function sameLeaf(v: number, entryHi: number, lo: number, hi: number): boolean {
  const x = v ^ lo;
  switch (v & 3) {
    case 0: return (x & -4096) === 0 && entryHi === hi;
    case 1: return (x & -0x200000) === 0 && entryHi === hi;
    case 2: return (x & -0x40000000) === 0 && entryHi === hi;
    default: return ((entryHi ^ hi) & -0x80) === 0;
  }
}

/**
 * Caches a translation: a fetch fills the fetch table (exec tag), a load or
 * store the data table (read and write tags), so code and the data it works
 * on do not evict each other.
 */
function fillTlb(h: TranslationContext, mmuIdx: number, access: number, lo: number, hi: number, pa: number, leaf: number,
  canRead: boolean, canWrite: boolean, canExec: boolean): void {
  const pagePa = pa - (pa % 4096);
  const ramOff = h.bus.ramOffset(pagePa, 4096); // loads the page if a lazy restore has not yet
  if (ramOff < 0) return; // MMIO stays on the slow path
  const page = ramOff / 4096;
  const pageFlags = h.bus.pages.flags;
  // This store is about to happen: it marks the page written (dirty tracking).
  if (access === ACCESS_WRITE) h.bus.pages.markWritten(ramOff, 4096);
  // Stores to a page with decoded code go through Bus.write (decode-cache.ts),
  // and so do stores to a page not yet marked written (ram-pages.ts).
  if (canWrite && (h.bus.code.hasCode(page) || (pageFlags[page] & PAGE_WRITABLE) !== PAGE_WRITABLE)) canWrite = false;
  if (h.pmpActive) {
    const perms = pmpPermissions(h.w, pagePa, 4096, mmuIdx);
    canRead &&= (perms & PMP_R) !== 0;
    canWrite &&= (perms & PMP_W) !== 0;
    canExec &&= (perms & PMP_X) !== 0;
  }
  const t = h.tlb;
  const fetch = access === ACCESS_EXEC;
  const e = fetch ? tlbFetchEntryIndex(mmuIdx, lo) : tlbEntryIndex(mmuIdx, lo);
  const pageLo = lo & ~0xfff;
  t[e] = canRead && !fetch ? pageLo : -1;
  t[e + 1] = hi;
  t[e + 2] = canWrite && !fetch ? pageLo : -1;
  t[e + 3] = hi;
  t[e + 4] = canExec && fetch ? pageLo : -1;
  t[e + 5] = hi;
  t[e + 6] = (RAM_OFFSET + (pagePa - RAM_BASE) - pageLo) | 0;
  t[e + 7] = pageLo | leaf;
}

/** VPN[level] of virtual address (lo, hi): bits 12 + 9 * level up, 9 of them. */
function vpnAt(lo: number, hi: number, level: number): number {
  switch (level) {
    case 0: return (lo >>> 12) & 511;
    case 1: return (lo >>> 21) & 511;
    case 2: return ((lo >>> 30) | (hi << 2)) & 511;
    default: return (hi >>> 7) & 511;
  }
}

/** The address bits below a level-`level` leaf's page: the offset within the (super)page. */
function pageOffset(lo: number, hi: number, level: number): number {
  switch (level) {
    case 0: return lo & 0xfff;
    case 1: return lo & 0x1fffff;
    case 2: return lo & 0x3fffffff;
    default: return (hi & 0x7f) * TWO32 + (lo >>> 0);
  }
}

/** A superpage's ppn has its low 9 * level bits clear (ppn = pteHi[21:0] : ppnLo[21:0]). */
function superpageAligned(ppnLo: number, pteHi: number, level: number): boolean {
  switch (level) {
    case 1: return (ppnLo & 0x1ff) === 0;
    case 2: return (ppnLo & 0x3ffff) === 0;
    default: return ppnLo === 0 && (pteHi & 0x1f) === 0;
  }
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
    fillTlb(h, mmuIdx, access, lo, hi, pa, 0, true, true, true);
    return pa;
  }
  const levels = mode === 8 ? 3 : 4;
  // The address must be sign-extended from its top translated bit.
  const top = levels === 3 ? hi >> 6 : hi >> 15;
  if (top !== 0 && top !== -1) return fail(h, PAGE_FAULT[access], lo, hi);
  const mstatus = w[MSTATUS];
  // Physical addresses reach 2^56: page-table and final addresses are exact doubles.
  let table = ((w[SATP + 1] & 0xfff) * TWO32 + (w[SATP] >>> 0)) * 4096;
  const bus = h.bus;
  for (let level = levels - 1; level >= 0; level--) {
    const vpn = vpnAt(lo, hi, level);
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
    const ppnLo = pteLo >>> 10; // ppn bits 0..21; pteHi & 0x3fffff holds bits 22..43
    const ppn = (pteHi & 0x3fffff) * 4194304 + ppnLo;
    if ((pteLo & (PTE_R | PTE_X)) === 0) {
      table = ppn * 4096;
      continue;
    }
    // Leaf.
    if (level > 0 && !superpageAligned(ppnLo, pteHi, level)) return fail(h, PAGE_FAULT[access], lo, hi);
    const user = (pteLo & PTE_U) !== 0;
    if (mmuIdx === MMU_U ? !user : user && (access === ACCESS_EXEC || mmuIdx !== MMU_S_SUM)) {
      return fail(h, PAGE_FAULT[access], lo, hi);
    }
    const readable = (pteLo & PTE_R) !== 0 || ((mstatus & MS_MXR) !== 0 && (pteLo & PTE_X) !== 0);
    const writable = (pteLo & PTE_W) !== 0;
    const executable = (pteLo & PTE_X) !== 0 && !(mmuIdx !== MMU_U && user);
    const allowed = access === ACCESS_READ ? readable : access === ACCESS_WRITE ? writable : executable;
    if (!allowed) return fail(h, PAGE_FAULT[access], lo, hi);
    // Hardware A/D update, as QEMU does.
    let newLo = pteLo | PTE_A;
    if (access === ACCESS_WRITE) newLo |= PTE_D;
    if (newLo !== pteLo) {
      if (!bus.write(pteAddr, 4, newLo, 0)) return fail(h, ACCESS_FAULT[access], lo, hi);
    }
    const pa = ppn * 4096 + pageOffset(lo, hi, level);
    if (h.pmpActive && (pmpPermissions(w, pa, 1, mmuIdx) & PMP_NEEDED[access]) === 0) {
      return fail(h, ACCESS_FAULT[access], lo, hi);
    }
    const dirty = (newLo & PTE_D) !== 0;
    const leaf = level | ((pteLo & PTE_G) !== 0 ? TLB_GLOBAL : 0);
    fillTlb(h, mmuIdx, access, lo, hi, pa, leaf, readable, writable && dirty, executable);
    return pa;
  }
  return fail(h, PAGE_FAULT[access], lo, hi);
}
