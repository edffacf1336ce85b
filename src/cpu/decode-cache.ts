/**
 * Predecoded instructions (decode.ts entries) for the pages of guest RAM that
 * run code, so the interpreter decodes an instruction once, not every time.
 *
 * Entries are kept per physical page and trusted without looking at memory:
 * a write to a page that has entries takes them away (`written`: the page
 * loses its slot; when it runs again it gets a slot of Op.DECODE entries,
 * decoded as they are reached). The hart's own stores cannot slip past:
 * while a page has entries no hart's TLB holds a write tag for it
 * (`dropWriteTags` when it gets a slot, `hasCode` in the TLB fill), so its
 * stores take the slow path to `Bus.write`. Everything else that writes
 * guest RAM (devices, loaders, the process VM) reports it through
 * `Bus.ramWritten` or `codeWritten`. docs/cpu.md lists the paths.
 *
 * Pages get slots round-robin; the harts of one VM share the cache, which
 * lives in the VM memory (layout.ts) so the interpreter reads it through the
 * same typed array as guest memory and the TLB.
 */

import { Op } from "./decode.ts";
import { DECODE_CACHE_BASE, DECODE_CACHE_BYTES, RAM_OFFSET } from "./layout.ts";
import { dropWriteTags } from "./mmu.ts";
import { PAGE_WRITABLE } from "../machine/ram-pages.ts";

/** Words per entry: raw, word, imm, unused (a power of two keeps the index a shift). */
export const ENTRY_WORDS = 4;
/** Entries per page: one per halfword. */
const PAGE_ENTRIES = 2048;
const SLOT_WORDS = PAGE_ENTRIES * ENTRY_WORDS;
/** Slots, one per cached 4 KiB page of code (256: 1 MiB of code in all). */
const MAX_SLOTS = DECODE_CACHE_BYTES / 4 / SLOT_WORDS;

/** What the cache needs from each hart that fetches through it. */
export interface DecodeCacheUser {
  readonly tlb: Int32Array;
  /** The slot whose entries start at word `base` no longer holds the page it held. */
  decodeSlotReused(base: number): void;
}

export class DecodeCache {
  /**
   * The entries, in the VM memory at DECODE_CACHE_BASE: slot s, page offset
   * off (even) at word s * SLOT_WORDS + off * ENTRY_WORDS / 2.
   */
  readonly words: Int32Array;
  /** Slot of each RAM page, or -1: a page "has code" when it has a slot. */
  private readonly pageSlot: Int32Array;
  /** RAM page of each slot, or -1. */
  private readonly slotPage: Int32Array;
  private readonly slots: number;
  private next = 0;
  private readonly users: DecodeCacheUser[] = [];
  /**
   * The RAM page flags (ram-pages.ts), when the bus keeps them: a TLB holds
   * a write tag only for a page whose flags have every PAGE_WRITABLE bit,
   * so a page without them needs no search for write tags.
   */
  pageFlags: Uint8Array | null = null;
  /** Told when a slot loses its page, RAM page `page` (the JIT parks that page's translation). */
  onRelease: ((slot: number, page: number) => void) | null = null;

  constructor(memory: WebAssembly.Memory, ramBytes: number) {
    const pages = Math.ceil(ramBytes / 4096);
    this.slots = Math.min(MAX_SLOTS, pages);
    this.words = new Int32Array(memory.buffer, DECODE_CACHE_BASE, this.slots * SLOT_WORDS);
    this.pageSlot = new Int32Array(pages).fill(-1);
    this.slotPage = new Int32Array(this.slots).fill(-1);
  }

  /** A hart fetching through this cache (its TLB is write-protected for code pages). */
  attach(user: DecodeCacheUser): void {
    this.users.push(user);
  }

  /** Whether RAM page `page` (RAM byte offset >> 12) has decoded entries. */
  hasCode(page: number): boolean {
    return this.pageSlot[page] >= 0;
  }

  /**
   * Word index in the VM memory (an Int32Array over all of it) of the entry
   * for offset 0 of RAM page `page` (RAM byte offset >> 12). A page new to
   * the cache gets a slot of undecoded entries and loses its write tags.
   */
  pageBase(page: number): number {
    let slot = this.pageSlot[page];
    if (slot < 0) {
      slot = this.next;
      const old = this.slotPage[slot];
      if (old >= 0) this.release(old, slot);
      this.next = (slot + 1) % this.slots;
      this.slotPage[slot] = page;
      this.pageSlot[page] = slot;
      this.forget(slot);
      const flags = this.pageFlags;
      if (flags === null || (flags[page] & PAGE_WRITABLE) === PAGE_WRITABLE) {
        const host = (RAM_OFFSET + page * 4096) | 0;
        const users = this.users;
        for (let i = 0; i < users.length; i++) dropWriteTags(users[i].tlb, host);
      }
    }
    return DECODE_CACHE_BASE / 4 + slot * SLOT_WORDS;
  }

  /**
   * RAM bytes [off, off + len) (offsets from RAM's start) were written: the
   * pages with entries among them lose them (and their slot), so that further
   * stores to them take the fast path again until their code runs again.
   * (A page being cleared or refilled would otherwise take every store
   * through the slow path.)
   */
  written(off: number, len: number): void {
    const end = off + len;
    if (off < 0) off = 0;
    if (end <= off) return;
    const pageSlot = this.pageSlot;
    const last = Math.min((end - 1) >>> 12, pageSlot.length - 1);
    for (let page = off >>> 12; page <= last; page++) {
      const slot = pageSlot[page];
      if (slot >= 0) this.release(page, slot);
    }
  }

  /** All of RAM was replaced (a snapshot restore): every page loses its entries, in time proportional to the slots, not to RAM. */
  forgetAll(): void {
    const slotPage = this.slotPage;
    for (let slot = 0; slot < slotPage.length; slot++) if (slotPage[slot] >= 0) this.release(slotPage[slot], slot);
  }

  private release(page: number, slot: number): void {
    this.pageSlot[page] = -1;
    this.slotPage[slot] = -1;
    this.next = slot; // the next page to get a slot takes this one
    const base = DECODE_CACHE_BASE / 4 + slot * SLOT_WORDS;
    const users = this.users;
    for (let i = 0; i < users.length; i++) users[i].decodeSlotReused(base);
    if (this.onRelease !== null) this.onRelease(slot, page);
  }

  /** Marks every entry of `slot` undecoded. */
  private forget(slot: number): void {
    const words = this.words;
    const end = (slot + 1) * SLOT_WORDS;
    for (let k = slot * SLOT_WORDS + 1; k < end; k += ENTRY_WORDS) words[k] = Op.DECODE;
  }
}

const caches = new WeakMap<WebAssembly.Memory, DecodeCache>();
const cachesByBuffer = new WeakMap<ArrayBufferLike, DecodeCache>();

/** The decode cache of the VM whose memory is `memory` (created on first use). */
export function decodeCacheFor(memory: WebAssembly.Memory, ramBytes: number): DecodeCache {
  let cache = caches.get(memory);
  if (cache === undefined) {
    cache = new DecodeCache(memory, ramBytes);
    caches.set(memory, cache);
    cachesByBuffer.set(memory.buffer, cache);
  }
  return cache;
}

/**
 * Bytes [off, off + len) of `view` were written by the host (device DMA, the
 * process VM's system calls): if `view` lies over a VM memory, drops the
 * decoded entries of those bytes. Any other array: nothing to do.
 */
export function codeWritten(view: ArrayBufferView, off: number, len: number): void {
  const cache = cachesByBuffer.get(view.buffer);
  if (cache !== undefined) cache.written(view.byteOffset + off - RAM_OFFSET, len);
}
