/**
 * One drive of a VM that runs in a browser tab, opened by the daemon as the
 * guest sees it: the image through its backend (raw or qcow2, locked while
 * the lease lives), or for a snapshot=on drive the pristine image plus the
 * overlay the guest had written when it moved (carried in the lease
 * snapshot) plus every block the tab has synced since. A snapshot=on
 * drive's synced blocks are also appended to a journal file beside the
 * lease snapshot, so a restarted daemon rebuilds the same overlay.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { openDrive, type BlockBackend } from "../../backends/block/index.ts";
import type { DriveConfig } from "../../vmm/config.ts";
import { conflict, invalid } from "../errors.ts";

export const SECTOR = 512;
/** The largest block one PUT may write. */
export const MAX_WRITE_BYTES = 4 * 2 ** 20;
/** Journal record header: offset (u64 LE) and length (u32 LE). */
const RECORD_HEADER = 12;

export class LeaseDrive {
  private constructor(
    readonly config: DriveConfig,
    private readonly backend: BlockBackend,
    /** snapshot=on drives only: where synced blocks are journaled. */
    private readonly journal: number | null,
  ) {}

  /**
   * Opens drive `config`; `overlay` is the snapshot=on overlay saved in the
   * lease snapshot (virtio-blk's backend state), `journalFile` where synced
   * writes of a snapshot=on drive are kept (replayed when it exists).
   */
  static open(config: DriveConfig, overlay: unknown, journalFile: string): LeaseDrive {
    const backend = openDrive({ file: config.file, readOnly: config.readonly, snapshot: config.snapshot, format: config.format, cache: config.cache });
    let journal: number | null = null;
    try {
      if (backend.restore !== undefined) {
        if (overlay !== undefined) backend.restore(overlay);
        journal = openSync(journalFile, "a+");
        replay(journal, backend);
      }
      return new LeaseDrive(config, backend, journal);
    } catch (e) {
      if (journal !== null) closeSync(journal);
      backend.close();
      throw e;
    }
  }

  get sizeBytes(): number {
    return Math.floor(this.backend.size / SECTOR) * SECTOR;
  }

  get readonly(): boolean {
    return this.backend.readOnly;
  }

  /** The overlay to give back to the guest's snapshot=on disk on the host (undefined for other drives). */
  overlayState(): unknown {
    return this.backend.save?.();
  }

  read(position: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    if (!this.backend.readAt(position, out, 0, length)) throw new Error(`reading ${length} bytes at ${position} of ${this.config.file} failed`);
    return out;
  }

  /** Writes a block the tab synced: sector-aligned, at most 4 MiB, inside the drive. */
  write(offset: number, data: Uint8Array): void {
    if (this.readonly) throw conflict(`drive ${this.config.file} is read-only`);
    if (data.length === 0 || data.length % SECTOR !== 0 || data.length > MAX_WRITE_BYTES) {
      throw invalid(`a drive write is a multiple of ${SECTOR} bytes, 512 B to 4 MiB (got ${data.length} bytes)`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % SECTOR !== 0) throw invalid(`offset ${offset} is not a multiple of ${SECTOR}`);
    if (offset + data.length > this.sizeBytes) throw invalid(`a write of ${data.length} bytes at ${offset} ends past the drive's ${this.sizeBytes} bytes`);
    if (this.journal !== null) {
      const header = Buffer.alloc(RECORD_HEADER);
      header.writeBigUInt64LE(BigInt(offset), 0);
      header.writeUInt32LE(data.length, 8);
      writeSync(this.journal, header);
      writeSync(this.journal, data);
      fsyncSync(this.journal);
    }
    if (!this.backend.writeAt(offset, data, 0, data.length)) throw new Error(`writing ${data.length} bytes at ${offset} of ${this.config.file} failed`);
    if (this.journal === null && !this.backend.flush()) throw new Error(`flushing ${this.config.file} failed`);
  }

  /** Releases the image (and its write lock) and the journal. */
  close(): void {
    if (this.journal !== null) closeSync(this.journal);
    this.backend.close();
  }
}

/** Applies a journal's complete records; a torn last record (a crash mid-append) is cut off. */
function replay(fd: number, backend: BlockBackend): void {
  const size = fstatSync(fd).size;
  const header = Buffer.alloc(RECORD_HEADER);
  let at = 0;
  while (at + RECORD_HEADER <= size) {
    readSync(fd, header, 0, RECORD_HEADER, at);
    const offset = Number(header.readBigUInt64LE(0));
    const length = header.readUInt32LE(8);
    if (length > MAX_WRITE_BYTES || at + RECORD_HEADER + length > size) break;
    const data = Buffer.alloc(length);
    readSync(fd, data, 0, length, at + RECORD_HEADER);
    backend.writeAt(offset, data, 0, length);
    at += RECORD_HEADER + length;
  }
  ftruncateSync(fd, at);
}
