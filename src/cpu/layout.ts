/**
 * Where everything lives inside a VM's single WebAssembly.Memory.
 *
 * CPU state and guest RAM share one memory (vision.md, commitment 1) so that
 * the interpreter, host-side devices and JIT-generated wasm all see the same
 * bytes with no copying. Offsets are bytes from the start of the memory.
 *
 *   0x0000_0000  hart 0 state   (HART_STATE_SIZE bytes each, MAX_HARTS of them)
 *   0x0001_0000  hart 0 TLB     (TLB_BYTES each)
 *   0x0040_0000  decode cache   (DECODE_CACHE_BYTES, shared by the harts)
 *   0x00c0_0000  guest RAM      (guest physical RAM_BASE maps here)
 */
export const MAX_HARTS = 8;
export const HART_STATE_SIZE = 0x1000;
export const HART_STATE_BASE = 0x0;

/**
 * Software TLB: per MMU index (U, S, M, S with SUM) two direct-mapped tables,
 * one for data accesses and one for instruction fetch, of TLB_ENTRIES each.
 */
export const TLB_ENTRIES = 1024;
export const TLB_ENTRY_WORDS = 8;
export const TLB_MMU_INDEXES = 4;
export const TLB_BYTES = TLB_ENTRIES * TLB_ENTRY_WORDS * 4 * 2 * TLB_MMU_INDEXES;
export const TLB_BASE = 0x10000;

/**
 * Predecoded instructions (decode-cache.ts). In the VM memory so that the
 * interpreter reads them and guest memory through one typed array.
 */
export const DECODE_CACHE_BASE = 0x400000;
export const DECODE_CACHE_BYTES = 0x800000;

/** Guest RAM starts at this byte offset in the memory. */
export const RAM_OFFSET = DECODE_CACHE_BASE + DECODE_CACHE_BYTES;
/** Guest physical address of the first byte of RAM (QEMU virt). */
export const RAM_BASE = 0x80000000;

export const WASM_PAGE = 65536;

export function hartStateOffset(hartId: number): number {
  return HART_STATE_BASE + hartId * HART_STATE_SIZE;
}

export function tlbOffset(hartId: number): number {
  return TLB_BASE + hartId * TLB_BYTES;
}

/** A memory big enough for `ramBytes` of guest RAM after the fixed regions. */
export function createVmMemory(ramBytes: number): WebAssembly.Memory {
  const pages = Math.ceil((RAM_OFFSET + ramBytes) / WASM_PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages });
}
