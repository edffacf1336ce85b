/**
 * The host side of a disk, as the virtio-blk device sees it: a byte array of
 * fixed size with positioned reads and writes. Methods return false on a
 * host I/O error (the guest then gets VIRTIO_BLK_S_IOERR); they never throw.
 *
 * Operations are synchronous: the device completes each request before the
 * hart continues. An asynchronous backend (worker thread, network storage)
 * would complete requests later through the same virtqueue API.
 */
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
  /** Makes every completed write durable (fsync). */
  flush(): boolean;
  /** Releases host resources; the backend is unusable afterwards. */
  close(): void;
}
