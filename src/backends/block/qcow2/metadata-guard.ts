/**
 * The clusters that hold metadata (header, L1 tables, refcount table and
 * blocks, snapshot table). Before any guest data or L2 table is written to a
 * cluster we check it is not one of these: a corrupt or hostile image whose
 * tables point at each other then fails with an error instead of overwriting
 * its own metadata (QEMU's "overlap check" does the same).
 */
import { CorruptImageError, hex } from "./errors.ts";

export class MetadataGuard {
  private readonly clusters = new Set<number>();

  constructor(
    private readonly clusterBits: number,
    private readonly path: string,
  ) {}

  add(offset: number, bytes: number, _what?: string): void {
    for (let c = this.first(offset); c < this.end(offset, bytes); c++) this.clusters.add(c);
  }

  remove(offset: number, bytes: number): void {
    for (let c = this.first(offset); c < this.end(offset, bytes); c++) this.clusters.delete(c);
  }

  /** Throws if [offset, offset+bytes) touches metadata. */
  check(offset: number, bytes: number, what: string): void {
    for (let c = this.first(offset); c < this.end(offset, bytes); c++) {
      if (this.clusters.has(c)) {
        throw new CorruptImageError(`${this.path}: image is corrupt: ${what} at ${hex(offset)} overlaps metadata; refusing to write`);
      }
    }
  }

  private first(offset: number): number {
    return Math.floor(offset / 2 ** this.clusterBits);
  }

  private end(offset: number, bytes: number): number {
    return Math.ceil((offset + bytes) / 2 ** this.clusterBits);
  }
}
