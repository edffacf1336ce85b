/**
 * Wraps a backend so that I/O touching given sectors fails, as on a disk
 * with media errors: for testing how guests (and the device) handle EIO.
 */
import type { BlockBackend } from "./block-backend.ts";

export interface SectorRange {
  /** First bad 512-byte sector. */
  sector: number;
  count: number;
}

export class BadSectorsBackend implements BlockBackend {
  constructor(
    private readonly inner: BlockBackend,
    private readonly bad: readonly SectorRange[],
  ) {}

  get size(): number {
    return this.inner.size;
  }

  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  get path(): string | undefined {
    return this.inner.path;
  }

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    return !this.touchesBad(position, length) && this.inner.readAt(position, dst, offset, length);
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    return !this.touchesBad(position, length) && this.inner.writeAt(position, src, offset, length);
  }

  flush(): boolean {
    return this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }

  private touchesBad(position: number, length: number): boolean {
    const end = position + length;
    return this.bad.some((r) => position < (r.sector + r.count) * 512 && r.sector * 512 < end);
  }
}
