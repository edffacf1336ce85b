/**
 * The host side of a disk, as the virtio-blk device sees it: a byte array of
 * fixed size with positioned reads and writes. Methods return false on a
 * host I/O error (the guest then gets VIRTIO_BLK_S_IOERR); they never throw.
 *
 * The methods below are synchronous (img tools, tests). virtio-blk uses
 * `submit` where a backend has it: the request runs on the host while the
 * guest continues, and `done` reports it later (block-io.ts); a backend
 * without `submit` is served through the synchronous methods.
 */
import type { BlockDone, BlockIo } from "./block-io.ts";

export interface BlockBackend {
  /** Size in bytes (the device exposes floor(size / 512) sectors). */
  readonly size: number;
  readonly readOnly: boolean;
  /** The host file behind the disk, if any: names it in snapshots. */
  readonly path?: string;
  /**
   * What the backend holds beyond its file (a snapshot=on overlay's
   * writes), for VM snapshots: plain, structured-clone-able data.
   */
  save?(): unknown;
  restore?(state: unknown): void;
  /** Reads `length` bytes at byte `position` into `dst[offset..]`. */
  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean;
  /** Writes `src[offset .. offset+length)` at byte `position`. */
  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean;
  /**
   * Optional (virtio-blk DISCARD, offered only when present): the guest no
   * longer needs these bytes; afterwards they read as zeros or unchanged.
   */
  discard?(position: number, length: number): boolean;
  /**
   * Optional (virtio-blk WRITE_ZEROES): the bytes read as zeros afterwards;
   * `unmap` lets the backend free their storage rather than keep it.
   */
  writeZeroes?(position: number, length: number, unmap: boolean): boolean;
  /**
   * Optional: starts `io` and calls `done` once it finished (never throws).
   * Requests may run in parallel; the caller never submits two that overlap
   * while one of them writes, and submits a flush only after the writes it
   * covers are done.
   */
  submit?(io: BlockIo, done: BlockDone): void;
  /** Makes every completed write durable (fsync). */
  flush(): boolean;
  /** Releases host resources; the backend is unusable afterwards. */
  close(): void;
}
