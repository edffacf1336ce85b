/**
 * Recently used L2 tables, by host offset (least recently used evicted).
 * Tables are written through by the image on every change, so eviction
 * never loses anything; the cache only saves reads.
 */
export class L2Cache {
  private readonly tables = new Map<number, DataView>();

  constructor(private readonly capacity: number) {}

  get(offset: number): DataView | undefined {
    const t = this.tables.get(offset);
    if (t !== undefined) {
      this.tables.delete(offset);
      this.tables.set(offset, t);
    }
    return t;
  }

  has(offset: number): boolean {
    return this.tables.has(offset);
  }

  put(offset: number, table: DataView): void {
    this.tables.delete(offset);
    if (this.tables.size >= this.capacity) this.tables.delete(this.tables.keys().next().value as number);
    this.tables.set(offset, table);
  }

  drop(offset: number): void {
    this.tables.delete(offset);
  }

  clear(): void {
    this.tables.clear();
  }
}
