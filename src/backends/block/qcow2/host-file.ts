/**
 * One image file on the host: synchronous positioned reads and writes that
 * either move every byte or throw an ImageError naming the file.
 */
import * as fs from "node:fs";
import { openImageFd } from "../host-fd.ts";
import { ImageError } from "./errors.ts";

export class HostFile {
  /** Current length of the file in bytes (kept up to date by our own writes). */
  size: number;
  private fd: number;

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
  }

  /** A fresh buffer with `length` bytes at `position`. */
  readBytes(position: number, length: number): Uint8Array {
    const buf = new Uint8Array(length);
    this.read(position, buf);
    return buf;
  }

  write(position: number, src: Uint8Array, offset = 0, length = src.length - offset): void {
    if (this.readOnly) throw new ImageError(`${this.path}: image is open read-only`);
    let done = 0;
    try {
      while (done < length) done += fs.writeSync(this.fd, src, offset + done, length - done, position + done);
    } catch (e) {
      throw new ImageError(`${this.path}: write of ${length} bytes at ${position} failed: ${(e as Error).message}`);
    }
    if (position + length > this.size) this.size = position + length;
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
