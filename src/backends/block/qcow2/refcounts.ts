/**
 * The refcount table and its blocks: how many references each host cluster
 * has, and cluster allocation. Blocks are cached and written through (each
 * change is written at once), so the on-disk image never lags our view and
 * a crash leaves at worst leaked clusters: we always raise a refcount before
 * anything points at the cluster, and lower it only after nothing does.
 *
 * New clusters come from the first free run at or after a hint, else from
 * the end of the file. Growing past the end may need new refcount blocks,
 * and those a bigger refcount table; both are placed in the same run at the
 * end, right after the clusters asked for, and describe themselves.
 */
import { CorruptImageError, ImageError, hex } from "./errors.ts";
import { readU64, writeU64 } from "./entries.ts";
import type { HostFile } from "./host-file.ts";
import type { MetadataGuard } from "./metadata-guard.ts";
import { getRefcount, maxRefcount, setRefcount } from "./refcount-entries.ts";

const BLOCK_CACHE_SIZE = 64;
const MAX_TABLE_BYTES = 8 * 2 ** 20;
/** At most this much of the refcount blocks is read when an image is opened for writing. */
const PRELOAD_BYTES = 4 * 2 ** 20;

export class Refcounts {
  readonly bits: number;
  readonly entriesPerBlock: number;
  readonly max: number;
  readonly clusterSize: number;
  /** Refcount block offsets by block index (0: no block). */
  private table: number[];
  tableOffset: number;
  tableClusters: number;
  private readonly blocks = new Map<number, Uint8Array>();
  private freeHint = 0;
  /** First cluster index at or past the end of everything allocated. */
  endCluster: number;

  constructor(
    private readonly file: HostFile,
    readonly clusterBits: number,
    refcountOrder: number,
    tableOffset: number,
    tableClusters: number,
    private readonly guard: MetadataGuard,
    /** Persists a moved refcount table in the header (one write). */
    private readonly onTableMoved: (offset: number, clusters: number) => void,
  ) {
    this.bits = 2 ** refcountOrder;
    this.clusterSize = 2 ** clusterBits;
    this.entriesPerBlock = (this.clusterSize * 8) / this.bits;
    this.max = maxRefcount(this.bits);
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    this.endCluster = Math.ceil(file.size / this.clusterSize);
    const raw = file.readBytes(tableOffset, tableClusters * this.clusterSize);
    const view = new DataView(raw.buffer);
    this.table = new Array<number>(raw.length / 8);
    for (let i = 0; i < this.table.length; i++) {
      const offset = readU64(view, i * 8, "refcount block offset");
      if (offset !== 0) {
        if (offset % this.clusterSize !== 0 || offset + this.clusterSize > file.size) {
          throw new CorruptImageError(`${file.path}: refcount block ${i} at ${hex(offset)} is unaligned or outside the file`);
        }
        guard.check(offset, this.clusterSize, `refcount block ${i}`);
      }
      this.table[i] = offset;
    }
    for (const offset of this.table) if (offset !== 0) guard.add(offset, this.clusterSize);
  }

  /**
   * Reads the first blocks (up to 4 MiB of them) now, so that an image
   * opened for a VM allocates without reading the file on the machine's
   * thread later: all of them for images up to 128 GiB at 64 KiB clusters
   * and 16-bit refcounts.
   */
  preload(): void {
    const most = Math.max(1, Math.min(BLOCK_CACHE_SIZE, PRELOAD_BYTES / this.clusterSize));
    for (let bi = 0, loaded = 0; bi < this.table.length && loaded < most; bi++) {
      if (this.table[bi] === 0) continue;
      this.blockFor(bi * this.entriesPerBlock);
      loaded++;
    }
  }

  /** Refcount block offsets (for the consistency check). */
  blockOffsets(): readonly number[] {
    return this.table;
  }

  get(cluster: number): number {
    const block = this.blockFor(cluster);
    return block === null ? 0 : getRefcount(block, cluster % this.entriesPerBlock, this.bits);
  }

  /** Whether a refcount block covers `cluster`. */
  covered(cluster: number): boolean {
    const bi = Math.floor(cluster / this.entriesPerBlock);
    return bi < this.table.length && this.table[bi] !== 0;
  }

  /** Adds `delta` to a cluster's refcount and returns the new value. */
  add(cluster: number, delta: number): number {
    const value = this.get(cluster) + delta;
    if (value < 0) throw new CorruptImageError(`${this.file.path}: refcount of cluster ${hex(cluster * this.clusterSize)} would go below 0`);
    if (value > this.max) throw new ImageError(`${this.file.path}: refcount of cluster ${hex(cluster * this.clusterSize)} would overflow ${this.bits} bits`);
    this.set(cluster, value);
    if (value === 0) {
      // A freed cluster is no longer metadata, whatever it held.
      this.guard.remove(cluster * this.clusterSize, this.clusterSize);
      if (cluster < this.freeHint) this.freeHint = cluster;
    }
    return value;
  }

  /** Drops one reference from each cluster of [offset, offset+bytes). */
  free(offset: number, bytes: number): void {
    const first = Math.floor(offset / this.clusterSize);
    const end = Math.ceil((offset + bytes) / this.clusterSize);
    for (let c = first; c < end; c++) this.add(c, -1);
  }

  /** Allocates `n` contiguous clusters with refcount 1; returns the host offset of the first. */
  allocate(n: number): number {
    let start = this.findFree(n);
    if (start < 0) {
      start = this.endCluster;
      while (this.anyUsed(start, n)) start++;
      this.extendAtEnd(start, n);
    } else {
      this.setRange(start, n, 1);
    }
    this.freeHint = start + n;
    return start * this.clusterSize;
  }

  /** Sets a refcount in an existing block (the consistency check's repair uses it). */
  set(cluster: number, value: number): void {
    const bi = Math.floor(cluster / this.entriesPerBlock);
    const block = this.blockFor(cluster);
    if (block === null) {
      if (value === 0) return;
      throw new CorruptImageError(`${this.file.path}: no refcount block covers cluster ${hex(cluster * this.clusterSize)}`);
    }
    const [s, e] = setRefcount(block, cluster % this.entriesPerBlock, this.bits, value);
    this.file.write(this.table[bi] + s, block, s, e - s);
  }

  /** Sets `n` consecutive refcounts, with one write per refcount block touched. */
  private setRange(first: number, n: number, value: number): void {
    for (let c = first; c < first + n; ) {
      const bi = Math.floor(c / this.entriesPerBlock);
      const end = Math.min(first + n, (bi + 1) * this.entriesPerBlock);
      const block = this.blockFor(c);
      if (block === null) throw new CorruptImageError(`${this.file.path}: no refcount block covers cluster ${hex(c * this.clusterSize)}`);
      let lo = Infinity;
      let hi = 0;
      for (let k = c; k < end; k++) {
        const [s, e] = setRefcount(block, k % this.entriesPerBlock, this.bits, value);
        lo = Math.min(lo, s);
        hi = Math.max(hi, e);
      }
      this.file.write(this.table[bi] + lo, block, lo, hi - lo);
      c = end;
    }
  }

  private findFree(n: number): number {
    let c = this.freeHint;
    outer: while (c + n <= this.endCluster) {
      for (let i = 0; i < n; i++) {
        if (!this.covered(c + i) || this.get(c + i) !== 0) {
          c += i + 1;
          continue outer;
        }
      }
      return c;
    }
    this.freeHint = this.endCluster;
    return -1;
  }

  private anyUsed(start: number, n: number): boolean {
    for (let c = start; c < start + n; c++) if (this.get(c) !== 0) return true;
    return false;
  }

  /** Allocates [start, start+n) past the end, adding refcount blocks and a bigger table if needed. */
  private extendAtEnd(start: number, n: number): void {
    const epb = this.entriesPerBlock;
    let newBlocks: number[] = [];
    let tableClusters = 0;
    let tableEntries = this.table.length;
    for (;;) {
      const regionEnd = start + n + newBlocks.length + tableClusters;
      const missing: number[] = [];
      for (let bi = Math.floor(start / epb); bi <= Math.floor((regionEnd - 1) / epb); bi++) {
        if (bi >= this.table.length || this.table[bi] === 0) missing.push(bi);
      }
      const needEntries = missing.length > 0 ? missing[missing.length - 1] + 1 : 0;
      let tc = 0;
      let entries = this.table.length;
      if (needEntries > this.table.length) {
        tc = Math.ceil((Math.max(needEntries, this.table.length * 2) * 8) / this.clusterSize);
        entries = (tc * this.clusterSize) / 8;
        if (tc * this.clusterSize > MAX_TABLE_BYTES) throw new ImageError(`${this.file.path}: image too large: refcount table would exceed 8 MiB`);
      }
      if (missing.length === newBlocks.length && tc === tableClusters) {
        tableEntries = entries;
        break;
      }
      newBlocks = missing;
      tableClusters = tc;
    }
    const regionEnd = start + n + newBlocks.length + tableClusters;
    const cs = this.clusterSize;
    const blockOffsets = new Map<number, number>();
    newBlocks.forEach((bi, j) => {
      const at = (start + n + j) * cs;
      const block = new Uint8Array(cs);
      for (let c = Math.max(start, bi * epb); c < Math.min(regionEnd, (bi + 1) * epb); c++) {
        setRefcount(block, c - bi * epb, this.bits, 1);
      }
      this.guard.check(at, cs, "new refcount block");
      this.file.write(at, block);
      this.guard.add(at, cs);
      this.cacheBlock(at, block);
      blockOffsets.set(bi, at);
    });
    for (let c = start; c < regionEnd; ) {
      const bi = Math.floor(c / epb);
      const end = Math.min(regionEnd, (bi + 1) * epb);
      if (!blockOffsets.has(bi)) this.setRange(c, end - c, 1);
      c = end;
    }
    if (tableClusters === 0) {
      const entry = new Uint8Array(8);
      for (const [bi, at] of blockOffsets) {
        writeU64(new DataView(entry.buffer), 0, at);
        this.file.write(this.tableOffset + bi * 8, entry);
        this.table[bi] = at;
      }
    } else {
      const newTable = this.table.slice();
      while (newTable.length < tableEntries) newTable.push(0);
      for (const [bi, at] of blockOffsets) newTable[bi] = at;
      const raw = new Uint8Array(tableClusters * cs);
      const view = new DataView(raw.buffer);
      newTable.forEach((off, i) => writeU64(view, i * 8, off));
      const at = (start + n + newBlocks.length) * cs;
      this.guard.check(at, raw.length, "new refcount table");
      this.file.write(at, raw);
      this.guard.add(at, raw.length);
      this.onTableMoved(at, tableClusters);
      const oldOffset = this.tableOffset;
      const oldClusters = this.tableClusters;
      this.table = newTable;
      this.tableOffset = at;
      this.tableClusters = tableClusters;
      this.guard.remove(oldOffset, oldClusters * cs);
      this.endCluster = Math.max(this.endCluster, regionEnd);
      this.free(oldOffset, oldClusters * cs);
    }
    this.endCluster = Math.max(this.endCluster, regionEnd);
  }

  private blockFor(cluster: number): Uint8Array | null {
    const bi = Math.floor(cluster / this.entriesPerBlock);
    if (bi >= this.table.length) return null;
    const offset = this.table[bi];
    if (offset === 0) return null;
    let block = this.blocks.get(offset);
    if (block === undefined) {
      block = this.file.readBytes(offset, this.clusterSize);
      this.cacheBlock(offset, block);
    }
    return block;
  }

  private cacheBlock(offset: number, block: Uint8Array): void {
    if (this.blocks.size >= BLOCK_CACHE_SIZE) this.blocks.delete(this.blocks.keys().next().value as number);
    this.blocks.set(offset, block);
  }
}
