/**
 * Predecoded instructions (decode.ts entries) for the pages of guest RAM that
 * run code, so the interpreter decodes an instruction once, not every time.
 *
 * Each entry keeps the raw bits it was decoded from and the hart compares
 * them with memory on every fetch: a decoded entry is a pure function of
 * those bits, so there is nothing to invalidate when code changes (stores,
 * device DMA, loaders, FENCE.I) and a stale or foreign entry only costs a
 * new decode. Pages get slots round-robin; the harts of one VM share the
 * cache, which lives in the VM memory (layout.ts) so the interpreter reads
 * it through the same typed array as guest memory and the TLB.
 */

import { DECODE_CACHE_BASE, DECODE_CACHE_BYTES } from "./layout.ts";

/** Words per entry: raw, word, imm, unused (a power of two keeps the index a shift). */
export const ENTRY_WORDS = 4;
/** Entries per page: one per halfword. */
const PAGE_ENTRIES = 2048;
const SLOT_WORDS = PAGE_ENTRIES * ENTRY_WORDS;
/** Slots, one per cached 4 KiB page of code (256: 1 MiB of code in all). */
const MAX_SLOTS = DECODE_CACHE_BYTES / 4 / SLOT_WORDS;

export class DecodeCache {
  /**
   * The entries, in the VM memory at DECODE_CACHE_BASE: slot s, page offset
   * off (even) at word s * SLOT_WORDS + off * ENTRY_WORDS / 2.
   */
  readonly words: Int32Array;
  /** Slot of each RAM page, or -1. */
  private readonly pageSlot: Int32Array;
  /** RAM page of each slot, or -1. */
  private readonly slotPage: Int32Array;
  private readonly slots: number;
  private next = 0;

  constructor(memory: WebAssembly.Memory, ramBytes: number) {
    const pages = Math.ceil(ramBytes / 4096);
    this.slots = Math.min(MAX_SLOTS, pages);
    this.words = new Int32Array(memory.buffer, DECODE_CACHE_BASE, this.slots * SLOT_WORDS);
    this.pageSlot = new Int32Array(pages).fill(-1);
    this.slotPage = new Int32Array(this.slots).fill(-1);
  }

  /**
   * Word index in the VM memory (an Int32Array over all of it) of the entry
   * for offset 0 of RAM page `page` (RAM byte offset >> 12).
   */
  pageBase(page: number): number {
    let slot = this.pageSlot[page];
    if (slot < 0) {
      slot = this.next;
      this.next = (slot + 1) % this.slots;
      const old = this.slotPage[slot];
      if (old >= 0) this.pageSlot[old] = -1;
      this.slotPage[slot] = page;
      this.pageSlot[page] = slot;
    }
    return DECODE_CACHE_BASE / 4 + slot * SLOT_WORDS;
  }
}

const caches = new WeakMap<WebAssembly.Memory, DecodeCache>();

/** The decode cache of the VM whose memory is `memory` (created on first use). */
export function decodeCacheFor(memory: WebAssembly.Memory, ramBytes: number): DecodeCache {
  let cache = caches.get(memory);
  if (cache === undefined) {
    cache = new DecodeCache(memory, ramBytes);
    caches.set(memory, cache);
  }
  return cache;
}
