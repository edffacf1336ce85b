/**
 * A host file opened as a disk image: the one way raw drives and qcow2
 * files are opened (a regular file, read-write unless read-only), and
 * vectored positioned I/O on libuv's thread pool, which is how virtio-blk's
 * requests reach the host disk without blocking the machine's thread
 * (docs/storage.md, "Asynchronous I/O").
 */
import * as fs from "node:fs";

export interface OpenWording {
  /** Names the file in messages: "disk image " for a drive, "" inside the qcow2 layer. */
  noun: string;
  /** Said when a writable open is refused for permissions. */
  readOnlyHint: string;
  makeError(message: string): Error;
}

/** Opens `path` as a disk image file; on failure throws an error naming the file and the reason. */
export function openImageFd(path: string, readOnly: boolean, w: OpenWording): number {
  let fd: number;
  try {
    fd = fs.openSync(path, readOnly ? "r" : "r+");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "EACCES" && !readOnly ? ` (${w.readOnlyHint})` : "";
    throw w.makeError(`cannot open ${w.noun}${path}: ${(e as Error).message}${why}`);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error("not a regular file");
    return fd;
  } catch (e) {
    fs.closeSync(fd);
    throw w.makeError(`cannot use ${w.noun}${path}: ${(e as Error).message}`);
  }
}

/**
 * Reads into `buffers` in order from `position` with preadv on the thread
 * pool. Bytes past the end of the file read as zeros. `done(null)` or the error.
 */
export function readvAll(fd: number, buffers: Uint8Array[], position: number, done: (err: Error | null) => void): void {
  if (buffers.length === 0) return done(null);
  fs.readv(fd, buffers, position, (err, n) => {
    if (err) return done(err);
    const total = byteLength(buffers);
    if (n === total) return done(null);
    if (n === 0) {
      for (const b of buffers) b.fill(0); // past the end of the file
      return done(null);
    }
    readvAll(fd, advance(buffers, n), position + n, done);
  });
}

/** Writes `buffers` in order at `position` with pwritev on the thread pool; `done(null)` or the error. */
export function writevAll(fd: number, buffers: Uint8Array[], position: number, done: (err: Error | null) => void): void {
  if (buffers.length === 0) return done(null);
  fs.writev(fd, buffers, position, (err, n) => {
    if (err) return done(err);
    if (n === byteLength(buffers)) return done(null);
    writevAll(fd, advance(buffers, n), position + n, done);
  });
}

function byteLength(buffers: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

/** The buffers after their first `n` bytes (a short transfer continues there). */
function advance(buffers: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n === 0 ? b : b.subarray(n));
    n = 0;
  }
  return out;
}
