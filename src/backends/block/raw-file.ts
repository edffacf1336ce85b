/**
 * A raw disk image in a host file, accessed with synchronous positioned I/O
 * on one file descriptor (fs.readSync / writeSync / fsyncSync).
 */
import * as fs from "node:fs";
import type { BlockBackend } from "./block-backend.ts";

export class RawFileBackend implements BlockBackend {
  readonly size: number;
  private fd: number;

  private constructor(
    readonly path: string,
    fd: number,
    readonly readOnly: boolean,
  ) {
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
  }

  /** Opens `path`; throws an Error that names the file and the reason. */
  static open(path: string, opts: { readOnly?: boolean } = {}): RawFileBackend {
    const readOnly = opts.readOnly === true;
    let fd: number;
    try {
      fd = fs.openSync(path, readOnly ? "r" : "r+");
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === "EACCES" && !readOnly
        ? " (add readonly=on to use it read-only)"
        : "";
      throw new Error(`cannot open disk image ${path}: ${(e as Error).message}${why}`);
    }
    try {
      if (!fs.fstatSync(fd).isFile()) throw new Error("not a regular file");
      return new RawFileBackend(path, fd, readOnly);
    } catch (e) {
      fs.closeSync(fd);
      throw new Error(`cannot use disk image ${path}: ${(e as Error).message}`);
    }
  }

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    if (!this.inside(position, length)) return false;
    try {
      let done = 0;
      while (done < length) {
        const n = fs.readSync(this.fd, dst, offset + done, length - done, position + done);
        if (n === 0) {
          // The file shrank under us: what is gone reads as zeros.
          dst.fill(0, offset + done, offset + length);
          break;
        }
        done += n;
      }
      return true;
    } catch {
      return false;
    }
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    if (this.readOnly || !this.inside(position, length)) return false;
    try {
      let done = 0;
      while (done < length) {
        done += fs.writeSync(this.fd, src, offset + done, length - done, position + done);
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Writes zeros (Node has no fallocate to punch holes, so `unmap` frees nothing). */
  writeZeroes(position: number, length: number, _unmap: boolean): boolean {
    const zeros = new Uint8Array(Math.min(length, 2 ** 20));
    for (let done = 0; done < length; done += zeros.length) {
      if (!this.writeAt(position + done, zeros, 0, Math.min(zeros.length, length - done))) return false;
    }
    return true;
  }

  flush(): boolean {
    if (this.readOnly) return true;
    try {
      fs.fsyncSync(this.fd);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  private inside(position: number, length: number): boolean {
    return this.fd >= 0 && position >= 0 && length >= 0 && position + length <= this.size;
  }
}
