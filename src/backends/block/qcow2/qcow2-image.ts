/**
 * A qcow2 image as a BlockBackend: guest offsets map through the L1 table
 * and L2 tables to host clusters; unallocated clusters read from the backing
 * image (or as zeros). Writes allocate a cluster (copying the rest of it
 * from wherever it read from) unless the cluster is already ours alone
 * (the COPIED flag), in which case they go in place.
 *
 * Ordering, for crash safety (kill -9 of the process; the page cache keeps
 * every completed write): a cluster's refcount is raised and its data
 * written before any table points at it, and references are dropped from
 * tables before refcounts are lowered. A crash therefore leaks clusters at
 * worst; `flush` (fsync) makes everything before it durable.
 */
import type { BlockBackend } from "../block-backend.ts";
import type { BlockDone, BlockIo } from "../block-io.ts";
import { HybridReader } from "../hybrid-read.ts";
import { submitQcow2 } from "./async-io.ts";
import { ClusterOrder } from "./cluster-order.ts";
import { decodeCompressed, deflateCluster, encodeCompressed, inflateCluster } from "./compressed.ts";
import { COMPRESSED, COPIED, ZERO, entryOffset, hiWord, loWord, setEntry, writeU64 } from "./entries.ts";
import { CorruptImageError, ImageError, hex } from "./errors.ts";
import {
  FIELD,
  HEADER_READ_BYTES,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  parseHeader,
  serializeHeader,
  type Qcow2Header,
} from "./header.ts";
import { HostFile, type DeferredWrite } from "./host-file.ts";
import { L2Cache } from "./l2-cache.ts";
import { MetadataGuard } from "./metadata-guard.ts";
import { MetadataLane } from "./metadata-lane.ts";
import { Refcounts } from "./refcounts.ts";
import { readSnapshotTable, type SnapshotEntry } from "./snapshot-table.ts";

/** L2 cache budget in bytes (QEMU's default on Linux is 32 MiB for large images; 4 MiB maps 32 GiB at 64 KiB clusters). */
const L2_CACHE_BYTES = 4 * 2 ** 20;
/** Largest single host read when guest-contiguous clusters are host-contiguous too. */
const MAX_COALESCED_READ = 8 * 2 ** 20;
/** Most clusters one write allocates and writes together. */
const MAX_BATCH_CLUSTERS = 256;

export type ClusterKind = "unallocated" | "zero" | "data" | "compressed";

export interface ClusterInfo {
  kind: ClusterKind;
  /** Host offset of the data (data clusters; zero clusters that keep an allocation; compressed data). */
  host: number;
}

/** One piece of a read (Qcow2Image.nextPiece). */
export interface ReadPiece {
  kind: "data" | "zero" | "backing" | "compressed";
  /** data: host offset of the first byte. */
  host: number;
  length: number;
  /** The L2 entry (compressed: to inflate) and the offset into the first cluster. */
  hi: number;
  lo: number;
  within: number;
}

export class Qcow2Image implements BlockBackend {
  readonly file: HostFile;
  header: Qcow2Header;
  readonly clusterBits: number;
  readonly clusterSize: number;
  readonly l2Entries: number;
  /** The active L1 table, as on disk. */
  l1: DataView;
  readonly guard: MetadataGuard;
  readonly refcounts: Refcounts;
  snapshots: SnapshotEntry[];
  snapshotTableBytes: number;
  /** The image unallocated clusters read from, or null. Set by whoever opened the chain. */
  backing: BlockBackend | null = null;
  /** Why the last readAt/writeAt/flush returned false. */
  lastError: string | null = null;
  /** Asynchronous requests not yet finished, by the clusters they touch (async-io.ts). */
  readonly requests = new ClusterOrder();
  /** Small data reads synchronously while the page cache has them (hybrid-read.ts). */
  readonly reader = new HybridReader();
  /** Serializes asynchronous metadata changes (metadata-lane.ts). */
  readonly lane = new MetadataLane();
  /** Counts finished deferred updates (planDeferred … finishDeferred): a table read started before the count moved may be stale. */
  metaEpoch = 0;
  /**
   * While a deferred update's writes are not all made: the L2 tables it
   * (or anyone) used, kept in memory whatever the cache evicts, since
   * their copies in the file may be behind.
   */
  private tablesInFlight: Map<number, DataView> | null = null;
  /** During planDeferred: the current contents of partial clusters a write must copy, read ahead by guest cluster. */
  private copyIn: Map<number, Uint8Array> | null = null;
  private readonly l2Cache: L2Cache;
  private readonly scratch: Uint8Array;
  private inflated: { at: number; data: Uint8Array } | null = null;
  private readonly piece: ReadPiece = { kind: "zero", host: 0, length: 0, hi: 0, lo: 0, within: 0 };
  private compressedCursor = 0;
  private compressedEnd = 0;

  private constructor(file: HostFile, forRepair: boolean) {
    this.file = file;
    const first = file.readBytes(0, Math.min(HEADER_READ_BYTES, Math.max(file.size, 0)));
    const h = parseHeader(first, file.size, file.path);
    this.header = h;
    if (!file.readOnly && h.incompatible & INCOMPAT_CORRUPT) {
      throw new ImageError(`${file.path}: image is marked corrupt; open it read-only, or repair it with 'qemu-img check -r all'`);
    }
    if (!file.readOnly && !forRepair && h.incompatible & INCOMPAT_DIRTY) {
      throw new ImageError(`${file.path}: image was not closed cleanly (lazy refcounts); repair it with 'typevisor img check -r all' first`);
    }
    this.clusterBits = h.clusterBits;
    this.clusterSize = 2 ** h.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.scratch = new Uint8Array(this.clusterSize);
    this.l2Cache = new L2Cache(Math.max(16, L2_CACHE_BYTES / this.clusterSize));
    this.guard = new MetadataGuard(h.clusterBits, file.path);
    this.guard.add(0, this.clusterSize);
    this.guard.add(h.l1TableOffset, h.l1Size * 8);
    this.guard.add(h.refcountTableOffset, h.refcountTableClusters * this.clusterSize);
    this.l1 = new DataView(file.readBytes(h.l1TableOffset, h.l1Size * 8).buffer);
    const table = h.nbSnapshots > 0
      ? readSnapshotTable(file, h.snapshotsOffset, h.nbSnapshots, this.clusterSize)
      : { entries: [], bytes: 0 };
    this.snapshots = table.entries;
    this.snapshotTableBytes = table.bytes;
    this.guard.add(h.snapshotsOffset, table.bytes);
    for (const s of this.snapshots) this.guard.add(s.l1TableOffset, s.l1Size * 8);
    this.refcounts = new Refcounts(
      file,
      h.clusterBits,
      h.refcountOrder,
      h.refcountTableOffset,
      h.refcountTableClusters,
      this.guard,
      (offset, clusters) => {
        const field = new Uint8Array(12);
        const v = new DataView(field.buffer);
        writeU64(v, 0, offset);
        v.setUint32(8, clusters);
        this.file.write(FIELD.refcountTable, field);
        h.refcountTableOffset = offset;
        h.refcountTableClusters = clusters;
      },
    );
    if (!file.readOnly) this.refcounts.preload();
    if (!file.readOnly && h.version === 3 && h.autoclear !== 0n) {
      // We do not keep bitmaps (or anything else autoclear covers) up to date: say so, as QEMU does.
      h.autoclear = 0n;
      this.writeHeaderU64(FIELD.autoclear, 0n);
    }
  }

  /**
   * Opens a qcow2 file (not its backing file: see openImage). Throws
   * ImageError. `forRepair` opens a dirty image for writing so that the
   * consistency check can rebuild its refcounts (see markClean).
   */
  static open(path: string, opts: { readOnly: boolean; forRepair?: boolean }): Qcow2Image {
    const file = HostFile.open(path, opts.readOnly);
    try {
      return new Qcow2Image(file, opts.forRepair === true);
    } catch (e) {
      file.close();
      const message = (e as Error).message;
      const named = message.includes(path) ? message : `${path}: ${message}`;
      throw e instanceof CorruptImageError ? new CorruptImageError(named) : new ImageError(named);
    }
  }

  get path(): string {
    return this.file.path;
  }

  get size(): number {
    return this.header.size;
  }

  get readOnly(): boolean {
    return this.file.readOnly;
  }

  // ---- BlockBackend: never throws ----

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    if (!this.inside(position, length)) return false;
    return this.guarded(() => this.read(position, dst, offset, length));
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    if (this.readOnly || !this.inside(position, length)) return false;
    return this.guarded(() => this.write(position, src, offset, length));
  }

  /** Drops whole clusters (they read as zeros); partial clusters are left as they are. */
  discard(position: number, length: number): boolean {
    if (this.readOnly || !this.inside(position, length)) return false;
    const cs = this.clusterSize;
    const start = Math.ceil(position / cs) * cs;
    const end = Math.floor((position + length) / cs) * cs;
    if (end <= start) return true;
    if (this.header.version === 2 && this.backing !== null) return true; // no zero flag: keep the data
    return this.guarded(() => this.deallocate(start, end - start, "zero"));
  }

  writeZeroes(position: number, length: number, unmap: boolean): boolean {
    if (this.readOnly || !this.inside(position, length)) return false;
    return this.guarded(() => this.deallocate(position, length, unmap ? "zero" : "zero-keep"));
  }

  flush(): boolean {
    return this.guarded(() => this.file.sync());
  }

  /** virtio-blk's asynchronous path (async-io.ts). */
  submit(io: BlockIo, done: BlockDone): void {
    submitQcow2(this, io, done);
  }

  close(): void {
    if (!this.readOnly && this.file.size % 512 !== 0) {
      // Compressed data may end mid-sector; keep the file a whole number of sectors, as QEMU's is.
      this.guarded(() => this.file.truncate(Math.ceil(this.file.size / 512) * 512));
    }
    this.file.close();
    this.backing?.close();
    this.backing = null;
  }

  // ---- Data path: throws ImageError ----

  read(position: number, dst: Uint8Array, offset: number, length: number): void {
    while (length > 0) {
      const p = this.nextPiece(position, length);
      const n = p.length;
      if (p.kind === "compressed") dst.set(this.inflateEntry(p.hi, p.lo).subarray(p.within, p.within + n), offset);
      else if (p.kind === "zero") dst.fill(0, offset, offset + n);
      else if (p.kind === "backing") this.readBacking(position, dst, offset, n);
      else this.file.read(p.host, dst, offset, n);
      position += n;
      offset += n;
      length -= n;
    }
  }

  /**
   * What backs the guest bytes from `position` on (at most `length`): one
   * cluster, or for data clusters as many following clusters as continue
   * the same host run (up to 8 MiB), so they are read with one call.
   * Throws CorruptImageError for an entry that cannot be. The returned
   * object is reused by the next call.
   */
  nextPiece(position: number, length: number): ReadPiece {
    const cs = this.clusterSize;
    const p = this.piece;
    const gc = Math.floor(position / cs);
    const within = position - gc * cs;
    let n = Math.min(length, cs - within);
    const l2 = this.l2Table(gc);
    const idx = gc % this.l2Entries;
    const hi = l2 === null ? 0 : hiWord(l2, idx);
    const lo = l2 === null ? 0 : loWord(l2, idx);
    p.hi = hi;
    p.lo = lo;
    p.within = within;
    p.host = 0;
    if (hi & COMPRESSED) {
      p.kind = "compressed";
    } else {
      const host = entryOffset(hi, lo, "L2 entry");
      if (lo & ZERO && this.header.version === 3) p.kind = "zero";
      else if (host === 0) p.kind = "backing";
      else {
        this.checkDataCluster(host);
        // Extend over following clusters that continue the same host run.
        while (n < length && n < MAX_COALESCED_READ && l2 !== null) {
          const nextIdx = idx + Math.ceil((within + n) / cs);
          if (nextIdx >= this.l2Entries) break;
          const nhi = hiWord(l2, nextIdx);
          const nlo = loWord(l2, nextIdx);
          if (nhi & COMPRESSED || nlo & ZERO) break;
          if (entryOffset(nhi, nlo, "L2 entry") !== host + (nextIdx - idx) * cs) break;
          n = Math.min(length, n + cs);
        }
        p.kind = "data";
        p.host = host + within;
      }
    }
    p.length = n;
    return p;
  }

  write(position: number, src: Uint8Array, offset: number, length: number): void {
    if (this.readOnly) throw new ImageError(`${this.path}: image is open read-only`);
    const cs = this.clusterSize;
    while (length > 0) {
      const gc = Math.floor(position / cs);
      const within = position - gc * cs;
      const n = Math.min(length, cs - within);
      const { table, at } = this.l2ForWrite(Math.floor(gc / this.l2Entries));
      const idx = gc % this.l2Entries;
      const hi = hiWord(table, idx);
      const lo = loWord(table, idx);
      const host = hi & COMPRESSED ? 0 : entryOffset(hi, lo, "L2 entry");
      const ours = !(hi & COMPRESSED) && (hi & COPIED) !== 0 && host !== 0;
      if (ours && !(lo & ZERO)) {
        this.checkDataCluster(host);
        this.guard.check(host, cs, "guest data");
        this.writeData(host + within, src, offset, n);
      } else {
        let cluster: Uint8Array;
        if (n === cs) {
          cluster = src.subarray(offset, offset + cs);
        } else {
          cluster = this.scratch;
          const ahead = this.copyIn?.get(gc);
          if (ahead !== undefined) cluster.set(ahead);
          else this.read(gc * cs, cluster, 0, cs);
          cluster.set(src.subarray(offset, offset + n), within);
        }
        if (ours) {
          // A zero cluster that kept its allocation: fill it and drop the zero flag.
          this.checkDataCluster(host);
          this.guard.check(host, cs, "guest data");
          this.writeData(host, cluster, 0, cs);
          this.setL2Entry(table, at, idx, host, COPIED, 0);
        } else {
          // Whole clusters that follow in the same L2 table and also need new
          // clusters share one allocation, one data write and one L2 write.
          let k = 1;
          if (n === cs) {
            while (k < MAX_BATCH_CLUSTERS && idx + k < this.l2Entries && (k + 1) * cs <= length && !(hiWord(table, idx + k) & COPIED)) k++;
          }
          const fresh = this.refcounts.allocate(k);
          this.guard.check(fresh, k * cs, "guest data");
          // Nothing points at the new clusters yet, so their data may land before or after their refcount.
          this.writeData(fresh, k === 1 ? cluster : src, k === 1 ? 0 : offset, k * cs, true);
          const old: number[] = [];
          for (let j = 0; j < k; j++) {
            old.push(hiWord(table, idx + j), loWord(table, idx + j));
            setEntry(table, idx + j, fresh + j * cs, COPIED, 0);
          }
          this.file.write(at + idx * 8, new Uint8Array(table.buffer, idx * 8, k * 8));
          for (let j = 0; j < k; j++) this.release(old[2 * j], old[2 * j + 1]);
          position += (k - 1) * cs;
          offset += (k - 1) * cs;
          length -= (k - 1) * cs;
        }
      }
      position += n;
      offset += n;
      length -= n;
    }
  }

  /**
   * Writes one whole cluster compressed (convert -c). Falls back to a normal
   * write when deflate saves nothing. Compressed clusters are packed into
   * host clusters; each one referencing a host cluster counts once in its refcount.
   */
  writeCompressed(guestCluster: number, data: Uint8Array): void {
    this.writePacked(guestCluster, data, deflateCluster(data));
  }

  /** writeCompressed with the deflating done already (`packed`: null if it did not pay). */
  writePacked(guestCluster: number, data: Uint8Array, packed: Uint8Array | null): void {
    const cs = this.clusterSize;
    if (packed === null) {
      this.write(guestCluster * cs, data, 0, cs);
      return;
    }
    const { table, at } = this.l2ForWrite(Math.floor(guestCluster / this.l2Entries));
    const idx = guestCluster % this.l2Entries;
    const oldHi = hiWord(table, idx);
    const oldLo = loWord(table, idx);
    if (this.compressedCursor + packed.length > this.compressedEnd) {
      const fresh = this.refcounts.allocate(1);
      this.guard.check(fresh, cs, "compressed data");
      this.compressedCursor = fresh;
      this.compressedEnd = fresh + cs;
    } else {
      this.refcounts.add(Math.floor(this.compressedCursor / cs), 1);
    }
    this.file.write(this.compressedCursor, packed);
    const [hi, lo] = encodeCompressed(this.compressedCursor, packed.length, this.clusterBits);
    table.setUint32(idx * 8, hi >>> 0);
    table.setUint32(idx * 8 + 4, lo >>> 0);
    this.file.write(at + idx * 8, new Uint8Array(table.buffer, idx * 8, 8));
    this.compressedCursor += packed.length;
    this.release(oldHi, oldLo);
  }

  /**
   * Drops the clusters wholly inside [position, position+length): they then
   * read as zeros (`zero`; needs version 3 when there is a backing file) or
   * from the backing file (`backing`). `zero-keep` reads as zeros too but
   * keeps clusters this image owns allocated (zero flag on the entry), so
   * later writes need no allocation. Partial clusters are written with
   * zeros in the zero modes and left alone in `backing` mode.
   */
  deallocate(position: number, length: number, how: "zero" | "zero-keep" | "backing"): void {
    const mode = how === "backing" ? "backing" : "zero";
    if (this.readOnly) throw new ImageError(`${this.path}: image is open read-only`);
    const cs = this.clusterSize;
    const end = position + length;
    const firstWhole = Math.ceil(position / cs);
    const endWhole = Math.floor(end / cs);
    const useZeroFlag = mode === "zero" && this.header.version === 3;
    if (mode === "zero" && !useZeroFlag && this.backing !== null) {
      this.write(position, new Uint8Array(length), 0, length);
      return;
    }
    if (mode === "zero" && firstWhole * cs > position) {
      const n = Math.min(end, firstWhole * cs) - position;
      this.write(position, new Uint8Array(n), 0, n);
    }
    for (let gc = firstWhole; gc < endWhole; gc++) {
      const l2 = this.l2Table(gc);
      const idx = gc % this.l2Entries;
      if (l2 === null && (mode === "backing" || this.backing === null)) continue;
      if (l2 !== null && hiWord(l2, idx) === 0 && loWord(l2, idx) === 0 && (mode === "backing" || this.backing === null)) continue;
      const { table, at } = this.l2ForWrite(Math.floor(gc / this.l2Entries));
      const hi = hiWord(table, idx);
      const lo = loWord(table, idx);
      const host = hi & COMPRESSED ? 0 : entryOffset(hi, lo, "L2 entry");
      if (how === "zero-keep" && useZeroFlag && host !== 0 && hi & COPIED) {
        this.setL2Entry(table, at, idx, host, COPIED, ZERO);
        continue;
      }
      this.setL2Entry(table, at, idx, 0, 0, useZeroFlag ? ZERO : 0);
      this.release(hi, lo);
    }
    if (mode === "zero" && endWhole * cs < end && endWhole >= firstWhole) {
      const n = end - endWhole * cs;
      this.write(endWhole * cs, new Uint8Array(n), 0, n);
    }
  }

  /** What backs guest cluster `gc` in this image (not its backing file). */
  clusterInfo(gc: number): ClusterInfo {
    const l2 = this.l2Table(gc);
    const idx = gc % this.l2Entries;
    const hi = l2 === null ? 0 : hiWord(l2, idx);
    const lo = l2 === null ? 0 : loWord(l2, idx);
    if (hi & COMPRESSED) return { kind: "compressed", host: decodeCompressed(hi, lo, this.clusterBits).offset };
    const host = entryOffset(hi, lo, "L2 entry");
    if (lo & ZERO && this.header.version === 3) return { kind: "zero", host };
    return { kind: host === 0 ? "unallocated" : "data", host };
  }

  /** Changes the virtual size. Shrinking drops the clusters past the new end. */
  resize(newSize: number): void {
    if (this.readOnly) throw new ImageError(`${this.path}: image is open read-only`);
    const cs = this.clusterSize;
    if (newSize < this.size) {
      const from = Math.ceil(newSize / cs) * cs;
      if (from < this.size) this.deallocate(from, Math.ceil(this.size / cs) * cs - from, "backing");
    }
    const needL1 = Math.ceil(newSize / (cs * this.l2Entries));
    if (needL1 > this.header.l1Size) this.growL1(needL1);
    const field = new Uint8Array(8);
    writeU64(new DataView(field.buffer), 0, newSize);
    this.file.write(FIELD.size, field);
    this.header.size = newSize;
  }

  /** Replaces the active L1 table by a larger copy (at least `entries` entries). */
  growL1(entries: number): void {
    const cs = this.clusterSize;
    const bytes = entries * 8;
    if (bytes > 32 * 2 ** 20) throw new ImageError(`${this.path}: L1 table of ${entries} entries would exceed 32 MiB`);
    const clusters = Math.ceil(bytes / cs);
    const fresh = this.refcounts.allocate(clusters);
    this.guard.check(fresh, clusters * cs, "new L1 table");
    const table = new Uint8Array(bytes);
    table.set(new Uint8Array(this.l1.buffer, this.l1.byteOffset, this.l1.byteLength));
    this.file.write(fresh, table);
    this.guard.add(fresh, bytes);
    const field = new Uint8Array(12);
    const v = new DataView(field.buffer);
    v.setUint32(0, entries);
    writeU64(v, 4, fresh);
    this.file.write(FIELD.l1SizeAndOffset, field);
    const old = this.header.l1TableOffset;
    const oldBytes = this.header.l1Size * 8;
    this.header.l1Size = entries;
    this.header.l1TableOffset = fresh;
    this.l1 = new DataView(table.buffer);
    if (oldBytes > 0) this.refcounts.free(old, oldBytes);
  }

  /** Rewrites the header cluster with a new backing file name and format (null: none). */
  setBackingFile(name: string | null, format: string | null): void {
    if (this.readOnly) throw new ImageError(`${this.path}: image is open read-only`);
    const h: Qcow2Header = { ...this.header, backingFile: name, backingFormat: name === null ? null : format };
    const bytes = serializeHeader(h);
    const old = serializeHeader(this.header);
    const out = new Uint8Array(Math.max(bytes.length, old.length));
    out.set(bytes);
    this.file.write(0, out);
    h.backingFileOffset = name === null ? 0 : bytes.length - new TextEncoder().encode(name).length;
    h.backingFileSize = name === null ? 0 : new TextEncoder().encode(name).length;
    this.header = h;
  }

  // ---- Table access (also used by snapshots and check) ----

  /** The L2 table mapping guest cluster `gc`, or null if there is none. */
  l2Table(gc: number): DataView | null {
    const l1Index = Math.floor(gc / this.l2Entries);
    if (l1Index >= this.header.l1Size) return null;
    const at = entryOffset(hiWord(this.l1, l1Index), loWord(this.l1, l1Index), "L1 entry");
    return at === 0 ? null : this.loadL2(at);
  }

  loadL2(at: number): DataView {
    const held = this.tablesInFlight?.get(at);
    if (held !== undefined) return held;
    let table = this.l2Cache.get(at);
    if (table === undefined) {
      this.checkL2Offset(at);
      table = new DataView(this.file.readBytes(at, this.clusterSize).buffer);
      this.l2Cache.put(at, table);
    }
    this.tablesInFlight?.set(at, table);
    return table;
  }

  /** Throws CorruptImageError unless an L2 table can be at `at`. */
  checkL2Offset(at: number): void {
    if (at % this.clusterSize !== 0 || at + this.clusterSize > this.file.size) {
      throw new CorruptImageError(`${this.path}: image is corrupt: L2 table at ${hex(at)} is unaligned or outside the file`);
    }
  }

  /** Whether the L2 table at `at` is in memory (loadL2 will not read the file). */
  hasL2(at: number): boolean {
    return this.l2Cache.has(at) || this.tablesInFlight?.has(at) === true;
  }

  /**
   * Caches an L2 table read on the thread pool, unless it may be stale: a
   * deferred update finished since the read started (`epoch`), or one in
   * progress holds the table.
   */
  adoptL2(at: number, bytes: Uint8Array, epoch: number): void {
    if (epoch !== this.metaEpoch || this.hasL2(at)) return;
    this.l2Cache.put(at, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /**
   * The host offset of guest cluster `gc` when a write can go there in
   * place (a data cluster this image owns alone), else -1. Throws
   * CorruptImageError for an entry that cannot be.
   */
  inPlaceHost(gc: number): number {
    const l2 = this.l2Table(gc);
    if (l2 === null) return -1;
    const idx = gc % this.l2Entries;
    const hi = hiWord(l2, idx);
    const lo = loWord(l2, idx);
    if (hi & COMPRESSED || !(hi & COPIED) || lo & ZERO) return -1;
    const host = entryOffset(hi, lo, "L2 entry");
    if (host === 0) return -1;
    this.checkDataCluster(host);
    this.guard.check(host, this.clusterSize, "guest data");
    return host;
  }

  /**
   * Runs `op` (writeAt, discard or writeZeroes) with its file writes
   * recorded instead of made; returns its result and the writes, in order,
   * which the caller makes in that order and then calls finishDeferred.
   * `copyIn` holds the current contents of partial clusters `op` may
   * rewrite, read ahead, so that working it out reads no guest data.
   */
  planDeferred(op: () => boolean, copyIn: Map<number, Uint8Array>): { ok: boolean; writes: DeferredWrite[] } {
    this.tablesInFlight = new Map();
    this.copyIn = copyIn;
    this.file.deferWrites();
    try {
      const ok = op();
      return { ok, writes: this.file.takeDeferred() };
    } finally {
      this.file.takeDeferred();
      this.copyIn = null;
    }
  }

  /** The writes of the last planDeferred are all made (or failed): tables may be read from the file again. */
  finishDeferred(): void {
    this.tablesInFlight = null;
    this.metaEpoch++;
  }

  /** Writes entry `idx` of the L2 table at host offset `at` (and its cached copy). */
  setL2Entry(table: DataView, at: number, idx: number, host: number, flagsHi: number, flagsLo: number): void {
    setEntry(table, idx, host, flagsHi, flagsLo);
    this.file.write(at + idx * 8, new Uint8Array(table.buffer, idx * 8, 8));
  }

  /** Writes entry `idx` of the active L1 table. */
  setL1Entry(idx: number, host: number, flagsHi: number): void {
    setEntry(this.l1, idx, host, flagsHi, 0);
    this.file.write(this.header.l1TableOffset + idx * 8, new Uint8Array(this.l1.buffer, idx * 8, 8));
  }

  /** Drops this image's reference to whatever an L2 entry pointed at. */
  release(hi: number, lo: number): void {
    if (hi & COMPRESSED) {
      const c = decodeCompressed(hi, lo, this.clusterBits);
      // Its host bytes may be reused for other compressed data at the same offset.
      if (this.inflated?.at === c.offset) this.inflated = null;
      // Stop packing into a host cluster that may now be freed (and then allocated for anything).
      const cs = this.clusterSize;
      const cursorCluster = Math.floor(this.compressedCursor / cs);
      if (cursorCluster >= Math.floor(c.sectorStart / cs) && cursorCluster * cs < c.sectorStart + c.sectors * 512) {
        this.compressedCursor = 0;
        this.compressedEnd = 0;
      }
      this.refcounts.free(c.sectorStart, c.sectors * 512);
      return;
    }
    const host = entryOffset(hi, lo, "L2 entry");
    if (host !== 0) this.refcounts.free(host, this.clusterSize);
  }

  /** Clears the dirty bit once refcounts are known to be right (after a repair). */
  markClean(): void {
    if (!(this.header.incompatible & INCOMPAT_DIRTY)) return;
    this.file.sync();
    this.header.incompatible &= ~INCOMPAT_DIRTY;
    this.writeHeaderU64(FIELD.incompatible, this.header.incompatible);
  }

  writeHeaderU64(at: number, value: bigint): void {
    const field = new Uint8Array(8);
    new DataView(field.buffer).setBigUint64(0, value);
    this.file.write(at, field);
  }

  dropCachedTables(): void {
    this.l2Cache.clear();
    this.inflated = null;
  }

  /** The L2 table for L1 entry `l1Index`, made writable: allocated if missing, copied if shared. */
  private l2ForWrite(l1Index: number): { table: DataView; at: number } {
    const cs = this.clusterSize;
    const hi = hiWord(this.l1, l1Index);
    const old = entryOffset(hi, loWord(this.l1, l1Index), "L1 entry");
    if (old !== 0 && hi & COPIED) {
      const table = this.loadL2(old);
      this.guard.check(old, cs, "L2 table");
      return { table, at: old };
    }
    const fresh = this.refcounts.allocate(1);
    this.guard.check(fresh, cs, "new L2 table");
    const bytes = old === 0 ? new Uint8Array(cs) : new Uint8Array(this.loadL2(old).buffer.slice(0));
    this.file.write(fresh, bytes);
    const table = new DataView(bytes.buffer);
    this.l2Cache.put(fresh, table);
    this.tablesInFlight?.set(fresh, table);
    this.setL1Entry(l1Index, fresh, COPIED);
    if (old !== 0) this.refcounts.free(old, cs);
    return { table, at: fresh };
  }

  /**
   * Writes guest data: kept by reference when writes are deferred, except
   * the scratch cluster, which is reused (copied). `withPrevious`: see
   * HostFile.writeStable.
   */
  private writeData(at: number, buf: Uint8Array, offset: number, length: number, withPrevious = false): void {
    if (buf === this.scratch && this.file.deferring) this.file.writeStable(at, buf.slice(offset, offset + length), 0, length, withPrevious);
    else this.file.writeStable(at, buf, offset, length, withPrevious);
  }

  private readBacking(position: number, dst: Uint8Array, offset: number, n: number): void {
    const b = this.backing;
    const avail = b === null ? 0 : Math.max(0, Math.min(n, b.size - position));
    if (avail > 0 && !b!.readAt(position, dst, offset, avail)) {
      const why = (b as { lastError?: string | null }).lastError;
      throw new ImageError(`${this.path}: reading the backing file failed${why ? `: ${why}` : ""}`);
    }
    if (avail < n) dst.fill(0, offset + avail, offset + n);
  }

  /** The inflated cluster a compressed L2 entry points at (the last one is kept). */
  inflateEntry(hi: number, lo: number): Uint8Array {
    const c = decodeCompressed(hi, lo, this.clusterBits);
    if (this.inflated !== null && this.inflated.at === c.offset) return this.inflated.data;
    if (c.offset + 1 > this.file.size) {
      throw new CorruptImageError(`${this.path}: image is corrupt: compressed cluster at ${hex(c.offset)} is outside the file`);
    }
    const data = inflateCluster(this.file.readBytes(c.offset, c.length), this.clusterSize, c.offset);
    this.inflated = { at: c.offset, data };
    return data;
  }

  /** Throws CorruptImageError unless `host` can be a data cluster of this image. */
  checkDataCluster(host: number): void {
    if (host % this.clusterSize !== 0) {
      throw new CorruptImageError(`${this.path}: image is corrupt: data cluster offset ${hex(host)} is not cluster-aligned`);
    }
    if (host >= Math.max(this.file.size, this.refcounts.endCluster * this.clusterSize)) {
      if (!this.readOnly) {
        throw new CorruptImageError(`${this.path}: image is corrupt: data cluster at ${hex(host)} is past the end of the file`);
      }
    }
  }

  private guarded(op: () => void): boolean {
    try {
      op();
      return true;
    } catch (e) {
      const message = (e as Error).message;
      this.lastError = message.includes(this.path) ? message : `${this.path}: ${message}`;
      return false;
    }
  }

  private inside(position: number, length: number): boolean {
    return position >= 0 && length >= 0 && position + length <= this.size;
  }
}
