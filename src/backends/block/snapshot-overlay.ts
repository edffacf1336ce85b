/**
 * `-snapshot` / `snapshot=on`, as QEMU does it: the guest writes to a
 * copy-on-write overlay held in host memory and discarded at close; the
 * image underneath is opened read-only and never modified. Reads come from
 * the overlay where the guest wrote, else from the image.
 *
 * The overlay is bounded (default 1 GiB of host memory) so that a guest
 * writing a big disk end to end cannot exhaust the host: past the bound,
 * writes to chunks not yet in the overlay fail (the guest sees an I/O error).
 */
import type { BlockBackend } from "./block-backend.ts";

/** Overlay granularity: a guest write copies at most this much of the image first. */
const CHUNK = 4096;
export const DEFAULT_OVERLAY_LIMIT = 2 ** 30;

/** Plain saved overlay: the written chunks' indexes, ascending, and their bytes back to back. */
export interface SnapshotOverlayState {
  v: 1;
  chunk: number;
  indexes: number[];
  data: Uint8Array;
}

export class SnapshotOverlayBackend implements BlockBackend {
  readonly readOnly = false;
  /** Chunks the guest has written, by index (position / CHUNK). */
  private readonly chunks = new Map<number, Uint8Array>();

  /** `limitBytes`: the most host memory the overlay may hold. */
  constructor(
    private readonly base: BlockBackend,
    private readonly limitBytes = DEFAULT_OVERLAY_LIMIT,
  ) {}

  get size(): number {
    return this.base.size;
  }

  /** The image underneath: a VM snapshot names it as the disk it belongs to. */
  get path(): string | undefined {
    return this.base.path;
  }

  /** The guest's writes so far, so a VM snapshot carries them (they exist nowhere else). */
  save(): SnapshotOverlayState {
    const indexes = [...this.chunks.keys()].sort((a, b) => a - b);
    const data = new Uint8Array(indexes.length * CHUNK);
    indexes.forEach((index, i) => data.set(this.chunks.get(index)!, i * CHUNK));
    return { v: 1, chunk: CHUNK, indexes, data };
  }

  /** Replaces the overlay with a saved one; throws on a state that does not fit this disk. */
  restore(state: unknown): void {
    const s = state as SnapshotOverlayState | null;
    const chunks = Math.ceil(this.size / CHUNK);
    const ok =
      s?.v === 1 &&
      s.chunk === CHUNK &&
      Array.isArray(s.indexes) &&
      s.data instanceof Uint8Array &&
      s.data.length === s.indexes.length * CHUNK &&
      s.data.length <= this.limitBytes &&
      s.indexes.every((x, i) => Number.isInteger(x) && x >= 0 && x < chunks && (i === 0 || x > s.indexes[i - 1]));
    if (!ok) throw new Error("snapshot overlay: the saved overlay does not fit this disk");
    this.chunks.clear();
    s.indexes.forEach((index, i) => this.chunks.set(index, s.data.slice(i * CHUNK, (i + 1) * CHUNK)));
  }

  /** Host memory the overlay holds, in bytes. */
  get overlayBytes(): number {
    return this.chunks.size * CHUNK;
  }

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    return this.eachChunk(position, length, (index, within, n, done) => {
      const chunk = this.chunks.get(index);
      if (!chunk) return this.base.readAt(position + done, dst, offset + done, n);
      dst.set(chunk.subarray(within, within + n), offset + done);
      return true;
    });
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    return this.eachChunk(position, length, (index, within, n, done) => {
      const chunk = this.chunk(index);
      if (chunk === null) return false;
      chunk.set(src.subarray(offset + done, offset + done + n), within);
      return true;
    });
  }

  /**
   * Calls `part` for each chunk piece of [position, position + length): the
   * chunk's index, the offset within it, the piece's length and the bytes
   * before it. False when the range is outside the disk or a part fails.
   */
  private eachChunk(position: number, length: number, part: (index: number, within: number, n: number, done: number) => boolean): boolean {
    if (!this.inside(position, length)) return false;
    let done = 0;
    while (done < length) {
      const at = position + done;
      const index = Math.floor(at / CHUNK);
      const within = at - index * CHUNK;
      const n = Math.min(length - done, CHUNK - within);
      if (!part(index, within, n, done)) return false;
      done += n;
    }
    return true;
  }

  /** Nothing is ever made durable: the overlay dies with the VM. */
  flush(): boolean {
    return true;
  }

  close(): void {
    this.chunks.clear();
    this.base.close();
  }

  /** The overlay chunk `index`, copied from the image on first write; null on a read error or when full. */
  private chunk(index: number): Uint8Array | null {
    let chunk = this.chunks.get(index);
    if (chunk) return chunk;
    if (this.overlayBytes + CHUNK > this.limitBytes) return null;
    chunk = new Uint8Array(CHUNK);
    const start = index * CHUNK;
    const n = Math.min(CHUNK, this.size - start);
    if (!this.base.readAt(start, chunk, 0, n)) return null;
    this.chunks.set(index, chunk);
    return chunk;
  }

  private inside(position: number, length: number): boolean {
    return position >= 0 && length >= 0 && position + length <= this.size;
  }
}
