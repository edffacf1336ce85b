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

  /** Host memory the overlay holds, in bytes. */
  get overlayBytes(): number {
    return this.chunks.size * CHUNK;
  }

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    if (!this.inside(position, length)) return false;
    let done = 0;
    while (done < length) {
      const at = position + done;
      const index = Math.floor(at / CHUNK);
      const within = at - index * CHUNK;
      const n = Math.min(length - done, CHUNK - within);
      const chunk = this.chunks.get(index);
      if (chunk) dst.set(chunk.subarray(within, within + n), offset + done);
      else if (!this.base.readAt(at, dst, offset + done, n)) return false;
      done += n;
    }
    return true;
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    if (!this.inside(position, length)) return false;
    let done = 0;
    while (done < length) {
      const at = position + done;
      const index = Math.floor(at / CHUNK);
      const within = at - index * CHUNK;
      const n = Math.min(length - done, CHUNK - within);
      const chunk = this.chunk(index);
      if (chunk === null) return false;
      chunk.set(src.subarray(offset + done, offset + done + n), within);
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
