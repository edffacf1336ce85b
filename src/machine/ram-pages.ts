/**
 * What the board knows about each 4 KiB page of guest RAM, one byte per page:
 * whether its bytes are there yet (lazy snapshot restore) and whether it was
 * written since a point in time (diff snapshots, the migration dirty log).
 *
 * The hart's TLB never caches a page that is not present, and installs a
 * write tag only for a page already marked written on both counts
 * (`WRITABLE`), so the first store to a clean page takes the slow path,
 * which marks it (mmu.ts fillTlb, Bus.write). Host writers (DMA, loaders)
 * mark through Bus.ramWritten. Clearing marks therefore needs the harts'
 * write tags dropped (VirtMachine does it).
 */

export const PAGE_SIZE = 4096;
/** The page's bytes are in RAM (else a PageSource supplies them on first touch). */
export const PAGE_PRESENT = 1;
/** Written since the last snapshot baseline (save/restore). */
export const PAGE_DIRTY = 2;
/** Written since the dirty log was last taken. */
export const PAGE_LOGGED = 4;
/** May be non-zero: written, or loaded non-zero, since power-on or restore. */
export const PAGE_USED = 8;
/** Written since the last fork image was captured (a new image copies only these). */
export const PAGE_FORKED = 16;
/** A hart may store to the page without telling anyone. */
export const PAGE_WRITABLE = PAGE_PRESENT | PAGE_DIRTY | PAGE_LOGGED | PAGE_FORKED;
const WRITTEN = PAGE_DIRTY | PAGE_LOGGED | PAGE_USED | PAGE_FORKED;

/** Supplies the bytes of pages that are not present yet (a snapshot file, a fork image). */
export interface PageSource {
  /**
   * Writes page `page`'s 4096 bytes into `ram` at `page * 4096`; returns
   * whether any is non-zero. Throws (SnapshotError) if it cannot.
   */
  load(page: number, ram: Uint8Array): boolean;
  /** Every page has been loaded: let go of files and memory. */
  release(): void;
}

export class RamPages {
  /** Per page: PAGE_* bits. */
  readonly flags: Uint8Array;
  /** Pages loaded from the source so far (for tests and figures). */
  loaded = 0;
  /** The first page the source could not supply (a corrupt snapshot): the machine cannot go on. */
  failure: Error | null = null;
  /** Counts attach(): RAM replaced wholesale (marks taken before mean nothing after). */
  generation = 0;
  /** Pages not present yet: 0 means every access is direct. */
  private missing = 0;
  private source: PageSource | null = null;

  constructor(
    private readonly ram: Uint8Array,
    readonly count: number,
  ) {
    this.flags = new Uint8Array(count).fill(PAGE_PRESENT);
  }

  /** True while some page still comes from a source. */
  get lazy(): boolean {
    return this.missing !== 0;
  }

  /**
   * From now on every page's bytes come from `source` on first touch (what
   * RAM held is forgotten); nothing is marked written.
   */
  attach(source: PageSource): void {
    this.source?.release();
    this.source = source;
    this.generation++;
    this.flags.fill(0);
    this.missing = this.count;
    this.loaded = 0;
    this.failure = null;
  }

  /** Lets go of the source (the machine will not run again); pages not loaded are lost. */
  detach(): void {
    this.source?.release();
    this.source = null;
    this.missing = 0;
  }

  /** Makes pages first..last (inclusive) present. */
  ensure(first: number, last: number): void {
    const flags = this.flags;
    for (let p = first; p <= last; p++) if ((flags[p] & PAGE_PRESENT) === 0) this.load(p);
  }

  /** Loads every page still missing (before a full save, or to drop the source). */
  ensureAll(): void {
    if (this.missing !== 0) this.ensure(0, this.count - 1);
  }

  /** RAM bytes [off, off + len) were written (they are present). */
  markWritten(off: number, len: number): void {
    if (len <= 0) return;
    const flags = this.flags;
    const last = Math.min((off + len - 1) >>> 12, this.count - 1);
    for (let p = off >>> 12; p <= last; p++) flags[p] |= WRITTEN;
  }

  /** Forgets the marks in `bits` (PAGE_DIRTY, PAGE_LOGGED, PAGE_FORKED) on every page. */
  clear(bits: number): void {
    const flags = this.flags;
    const keep = ~bits & 0xff;
    for (let p = 0; p < flags.length; p++) flags[p] &= keep;
  }

  /** Page numbers with any of `bits` set, ascending. */
  pagesWith(bits: number): Uint32Array {
    const flags = this.flags;
    let n = 0;
    for (let p = 0; p < flags.length; p++) if ((flags[p] & bits) !== 0) n++;
    const out = new Uint32Array(n);
    n = 0;
    for (let p = 0; p < flags.length; p++) if ((flags[p] & bits) !== 0) out[n++] = p;
    return out;
  }

  private load(page: number): void {
    let nonZero: boolean;
    try {
      nonZero = (this.source as PageSource).load(page, this.ram);
    } catch (e) {
      // Whoever asked may swallow it (a device turns errors into NEEDS_RESET): the run loop checks `failure`.
      this.failure ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    }
    this.flags[page] |= nonZero ? PAGE_PRESENT | PAGE_USED : PAGE_PRESENT;
    this.loaded++;
    if (--this.missing === 0) {
      (this.source as PageSource).release();
      this.source = null;
    }
  }
}
