/**
 * One image file on the host: synchronous positioned reads and writes that
 * either move every byte or throw an ImageError naming the file.
 *
 * Writes can also be deferred (`deferWrites` … `takeDeferred`): they are
 * recorded in order instead of made, and reads see them, so the qcow2
 * code can work out a whole metadata update on the machine's thread and
 * have the writes made later, in the same order, on the thread pool
 * (async-alloc.ts).
 */
import * as fs from "node:fs";
import { openImageFd, writevAll } from "../host-fd.ts";
import { ImageError } from "./errors.ts";

/** One recorded write: `data` goes to `position`. */
export interface DeferredWrite {
  position: number;
  data: Uint8Array;
  /** May be made at the same time as the write before it (the order between the two does not matter). */
  withPrevious: boolean;
}

export class HostFile {
  /** Current length of the file in bytes (kept up to date by our own writes). */
  size: number;
  private fd: number;
  /** Writes recorded since deferWrites(), or null when writes are made at once. */
  private deferred: DeferredWrite[] | null = null;

  private constructor(
    readonly path: string,
    fd: number,
    readonly readOnly: boolean,
  ) {
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
  }

  static open(path: string, readOnly: boolean): HostFile {
    const wording = { noun: "", readOnlyHint: "open it read-only instead", makeError: (m: string) => new ImageError(m) };
    return new HostFile(path, openImageFd(path, readOnly, wording), readOnly);
  }

  /** The descriptor, for asynchronous I/O (host-fd.ts); -1 once closed. */
  get descriptor(): number {
    return this.fd;
  }

  /** Reads `length` bytes at `position`; bytes past the end of the file read as zeros. */
  read(position: number, dst: Uint8Array, offset = 0, length = dst.length - offset): void {
    let done = 0;
    try {
      while (done < length) {
        const n = fs.readSync(this.fd, dst, offset + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw new ImageError(`${this.path}: read of ${length} bytes at ${position} failed: ${(e as Error).message}`);
    }
    if (done < length) dst.fill(0, offset + done, offset + length);
    if (this.deferred !== null) this.overlayDeferred(position, dst, offset, length);
  }

  /** A fresh buffer with `length` bytes at `position`. */
  readBytes(position: number, length: number): Uint8Array {
    const buf = new Uint8Array(length);
    this.read(position, buf);
    return buf;
  }

  write(position: number, src: Uint8Array, offset = 0, length = src.length - offset): void {
    if (this.readOnly) throw new ImageError(`${this.path}: image is open read-only`);
    if (this.deferred !== null) return this.record(position, src.slice(offset, offset + length), false);
    let done = 0;
    try {
      while (done < length) done += fs.writeSync(this.fd, src, offset + done, length - done, position + done);
    } catch (e) {
      throw new ImageError(`${this.path}: write of ${length} bytes at ${position} failed: ${(e as Error).message}`);
    }
    if (position + length > this.size) this.size = position + length;
  }

  /**
   * As `write`, for a source that stays unchanged until the write is made
   * (guest RAM of a request in flight, a buffer of its own): a deferred
   * write keeps a view of it instead of a copy. `withPrevious`: when
   * deferred, it may be made together with the write recorded before it.
   */
  writeStable(position: number, src: Uint8Array, offset = 0, length = src.length - offset, withPrevious = false): void {
    if (this.deferred !== null && !this.readOnly) return this.record(position, src.subarray(offset, offset + length), withPrevious);
    this.write(position, src, offset, length);
  }

  /** Whether writes are being recorded (deferWrites). */
  get deferring(): boolean {
    return this.deferred !== null;
  }

  /** From now until takeDeferred(), writes are recorded instead of made. */
  deferWrites(): void {
    this.deferred = [];
  }

  /** The writes recorded since deferWrites(), in order; writes are made at once again. */
  takeDeferred(): DeferredWrite[] {
    const writes = this.deferred ?? [];
    this.deferred = null;
    return writes;
  }

  /**
   * Makes `writes` in order on the thread pool: each starts when the ones
   * before it finished, except that one marked `withPrevious` starts
   * together with the write before it. Stops at the first failure.
   */
  writeInOrder(writes: readonly DeferredWrite[], done: (err: Error | null) => void): void {
    const group = (k: number): void => {
      if (k === writes.length) return done(null);
      let end = k + 1;
      while (end < writes.length && writes[end].withPrevious) end++;
      let pending = end - k;
      let failed: Error | null = null;
      for (let i = k; i < end; i++) {
        const w = writes[i];
        writevAll(this.fd, [w.data], w.position, (err) => {
          if (err && failed === null) failed = new ImageError(`${this.path}: write of ${w.data.length} bytes at ${w.position} failed: ${err.message}`);
          if (--pending > 0) return;
          if (failed !== null) done(failed);
          else group(end);
        });
      }
    };
    group(0);
  }

  private record(position: number, data: Uint8Array, withPrevious: boolean): void {
    this.deferred!.push({ position, data, withPrevious });
    if (position + data.length > this.size) this.size = position + data.length;
  }

  /** Copies the recorded writes that fall inside [position, position+length) over what was read. */
  private overlayDeferred(position: number, dst: Uint8Array, offset: number, length: number): void {
    for (const w of this.deferred!) {
      const from = Math.max(position, w.position);
      const to = Math.min(position + length, w.position + w.data.length);
      if (from < to) dst.set(w.data.subarray(from - w.position, to - w.position), offset + from - position);
    }
  }

  truncate(length: number): void {
    try {
      fs.ftruncateSync(this.fd, length);
    } catch (e) {
      throw new ImageError(`${this.path}: truncate to ${length} bytes failed: ${(e as Error).message}`);
    }
    this.size = length;
  }

  sync(): void {
    if (this.readOnly) return;
    try {
      fs.fsyncSync(this.fd);
    } catch (e) {
      throw new ImageError(`${this.path}: fsync failed: ${(e as Error).message}`);
    }
  }

  /** Bytes the file occupies on the host disk (allocated blocks). */
  allocatedBytes(): number {
    return fs.fstatSync(this.fd).blocks * 512;
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
