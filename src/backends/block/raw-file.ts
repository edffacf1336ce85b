/**
 * A raw disk image in a host file on one file descriptor: synchronous
 * positioned I/O (readAt / writeAt, for `img` tools and tests) and
 * asynchronous vectored I/O on libuv's thread pool (`submit`, for
 * virtio-blk), so a VM's reads and writes never wait on the host disk.
 */
import * as fs from "node:fs";
import type { BlockBackend } from "./block-backend.ts";
import { submitSync, type BlockDone, type BlockIo } from "./block-io.ts";
import { openImageFd, writevAll } from "./host-fd.ts";
import { HybridReader } from "./hybrid-read.ts";

export class RawFileBackend implements BlockBackend {
  readonly size: number;
  /** Small reads synchronously while the page cache has them (hybrid-read.ts). */
  readonly reader = new HybridReader();
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
    const wording = { noun: "disk image ", readOnlyHint: "add readonly=on to use it read-only", makeError: (m: string) => new Error(m) };
    return new RawFileBackend(path, openImageFd(path, readOnly, wording), readOnly);
  }

  submit(io: BlockIo, done: BlockDone): void {
    const finish = (err: Error | null) => done(err === null);
    switch (io.op) {
      case "read":
        if (!this.inside(io.position, io.length)) return done(false);
        return this.reader.read(this.fd, io.buffers, io.position, io.length, finish);
      case "write":
        if (this.readOnly || !this.inside(io.position, io.length)) return done(false);
        return writevAll(this.fd, io.buffers, io.position, finish);
      case "flush":
        if (this.readOnly || this.fd < 0) return done(this.fd >= 0);
        return fs.fsync(this.fd, finish);
      default:
        return submitSync(this, io, done);
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
