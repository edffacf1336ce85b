/**
 * Asynchronous block requests: what virtio-blk hands a backend
 * (`BlockBackend.submit`) and how a backend without its own asynchronous
 * path serves them (`submitSync`).
 *
 * A request's `buffers` are views of guest RAM (one per run of adjacent
 * guest segments); a read fills them in order, a write takes them in order.
 * The backend calls `done` exactly once, later or at once; the device keeps
 * the buffers untouched until then and orders overlapping requests itself.
 */
import type { BlockBackend } from "./block-backend.ts";

export type BlockOp = "read" | "write" | "flush" | "discard" | "write-zeroes";

export interface BlockIo {
  op: BlockOp;
  /** Byte offset on the disk (read, write, discard, write-zeroes). */
  position: number;
  /** Bytes: the buffers' total for read and write; the range for discard and write-zeroes. */
  length: number;
  buffers: Uint8Array[];
  /** write-zeroes: the backend may free the storage. */
  unmap: boolean;
}

/** `ok` false: a host I/O error (the guest sees VIRTIO_BLK_S_IOERR). */
export type BlockDone = (ok: boolean) => void;

/** Runs `io` on `backend`: its own asynchronous path if it has one, else synchronously. */
export function submitIo(backend: BlockBackend, io: BlockIo, done: BlockDone): void {
  if (backend.submit !== undefined) backend.submit(io, done);
  else submitSync(backend, io, done);
}

/** Serves `io` with the backend's synchronous methods and calls `done` before returning. */
export function submitSync(backend: BlockBackend, io: BlockIo, done: BlockDone): void {
  done(runSync(backend, io));
}

function runSync(b: BlockBackend, io: BlockIo): boolean {
  switch (io.op) {
    case "flush":
      return b.flush();
    case "discard":
      return b.discard !== undefined && b.discard(io.position, io.length);
    case "write-zeroes":
      return b.writeZeroes !== undefined && b.writeZeroes(io.position, io.length, io.unmap);
    case "read":
    case "write": {
      let at = io.position;
      for (const buf of io.buffers) {
        const ok = io.op === "read" ? b.readAt(at, buf, 0, buf.length) : b.writeAt(at, buf, 0, buf.length);
        if (!ok) return false;
        at += buf.length;
      }
      return true;
    }
  }
}

/** Views of `buffers` covering bytes [from, from + length) of their concatenation. */
export function sliceBuffers(buffers: readonly Uint8Array[], from: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const buf of buffers) {
    if (length === 0) break;
    if (from >= buf.length) {
      from -= buf.length;
      continue;
    }
    const n = Math.min(buf.length - from, length);
    out.push(buf.subarray(from, from + n));
    from = 0;
    length -= n;
  }
  return out;
}
