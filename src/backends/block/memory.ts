/** A disk held in host memory: for tests, scratch disks and the browser. */
import type { BlockBackend } from "./block-backend.ts";

export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly readOnly: boolean;
  /** How many times `flush` was called. */
  flushes = 0;

  constructor(sizeOrBytes: number | Uint8Array, opts: { readOnly?: boolean } = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.readOnly = opts.readOnly === true;
  }

  get size(): number {
    return this.bytes.length;
  }

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    if (!this.inside(position, length)) return false;
    dst.set(this.bytes.subarray(position, position + length), offset);
    return true;
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    if (this.readOnly || !this.inside(position, length)) return false;
    this.bytes.set(src.subarray(offset, offset + length), position);
    return true;
  }

  flush(): boolean {
    this.flushes++;
    return true;
  }

  close(): void {}

  private inside(position: number, length: number): boolean {
    return position >= 0 && length >= 0 && position + length <= this.bytes.length;
  }
}
