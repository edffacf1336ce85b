/**
 * virtio-blk's asynchronous requests on a qcow2 image (`Qcow2Image.submit`).
 *
 * The guest data moves on libuv's thread pool (preadv / pwritev straight
 * between guest RAM and the image file): reads of data clusters, reads
 * through to the backing file, writes to clusters the image already owns
 * (COPIED), and flush (fsync). Everything that changes metadata — a write
 * that must allocate or copy a cluster, DISCARD, WRITE_ZEROES — runs
 * through the synchronous code path at once, one at a time (JavaScript
 * runs one of them to its end before anything else), which keeps
 * allocation serialized per image and its crash ordering as it was. Table
 * lookups read an L2 table synchronously when it is not cached.
 *
 * Why this is safe with several requests in flight: the device never runs
 * two overlapping requests at once when one writes (blk-order.ts). A cluster
 * an in-flight request reads or writes in place is referenced, so no
 * allocation can reuse it; a write in place needs COPIED, and a cluster
 * being written in place is never reallocated by a non-overlapping write.
 */
import * as fs from "node:fs";
import { sliceBuffers, submitIo, type BlockDone, type BlockIo } from "../block-io.ts";
import { readvAll, writevAll } from "../host-fd.ts";
import { COMPRESSED, COPIED, ZERO, entryOffset, hiWord, loWord } from "./entries.ts";
import type { Qcow2Image } from "./qcow2-image.ts";

/** Largest single host write when guest-contiguous clusters are host-contiguous too. */
const MAX_RUN = 8 * 2 ** 20;

export function submitQcow2(img: Qcow2Image, io: BlockIo, done: BlockDone): void {
  const inside = io.position >= 0 && io.length >= 0 && io.position + io.length <= img.size;
  switch (io.op) {
    case "read":
      if (!inside) return done(false);
      return readAsync(img, io, done);
    case "write":
      if (img.readOnly || !inside) return done(false);
      if (writeInPlace(img, io, done)) return;
      return done(img.writeAt(io.position, gather(io), 0, io.length));
    case "flush": {
      const fd = img.file.descriptor;
      if (img.readOnly || fd < 0) return done(fd >= 0);
      return fsyncAsync(img, fd, done);
    }
    case "discard":
      return done(img.discard(io.position, io.length));
    case "write-zeroes":
      return done(img.writeZeroes(io.position, io.length, io.unmap));
  }
}

/** Counts outstanding parts of one request; `done` once, false if any part failed. */
class Parts {
  private pending = 1;
  private ok = true;

  constructor(
    private readonly img: Qcow2Image,
    private readonly done: BlockDone,
  ) {}

  add(): void {
    this.pending++;
  }

  /** One part ended (`err` null: fine). */
  end(err: Error | string | null): void {
    if (err !== null) {
      this.ok = false;
      const message = typeof err === "string" ? err : err.message;
      this.img.lastError = message.includes(this.img.path) ? message : `${this.img.path}: ${message}`;
    }
    if (--this.pending === 0) this.done(this.ok);
  }
}

function readAsync(img: Qcow2Image, io: BlockIo, done: BlockDone): void {
  const parts = new Parts(img, done);
  const fd = img.file.descriptor;
  let at = 0; // bytes into the request
  try {
    while (at < io.length) {
      const p = img.nextPiece(io.position + at, io.length - at);
      const bufs = sliceBuffers(io.buffers, at, p.length);
      if (p.kind === "compressed") copyInto(bufs, img.inflateEntry(p.hi, p.lo).subarray(p.within, p.within + p.length));
      else if (p.kind === "zero") for (const b of bufs) b.fill(0);
      else if (p.kind === "backing") readBacking(img, io.position + at, bufs, p.length, parts);
      else {
        parts.add();
        readvAll(fd, bufs, p.host, (err) => parts.end(err));
      }
      at += p.length;
    }
  } catch (e) {
    parts.end(e as Error);
    return;
  }
  parts.end(null);
}

function readBacking(img: Qcow2Image, position: number, bufs: Uint8Array[], n: number, parts: Parts): void {
  const b = img.backing;
  const avail = b === null ? 0 : Math.max(0, Math.min(n, b.size - position));
  if (avail < n) for (const z of sliceBuffers(bufs, avail, n - avail)) z.fill(0);
  if (avail === 0) return;
  parts.add();
  const io: BlockIo = { op: "read", position, length: avail, buffers: sliceBuffers(bufs, 0, avail), unmap: false };
  submitIo(b!, io, (ok) => parts.end(ok ? null : `reading the backing file failed${describe(b!)}`));
}

function describe(b: object): string {
  const why = (b as { lastError?: string | null }).lastError;
  return why ? `: ${why}` : "";
}

/**
 * Starts `io` as writes in place when every cluster it touches is a data
 * cluster this image owns alone; false (nothing done) otherwise.
 */
function writeInPlace(img: Qcow2Image, io: BlockIo, done: BlockDone): boolean {
  const cs = img.clusterSize;
  const runs: number[] = []; // [host, at, length] triples
  try {
    let position = io.position;
    let at = 0;
    while (at < io.length) {
      const gc = Math.floor(position / cs);
      const within = position - gc * cs;
      const n = Math.min(io.length - at, cs - within);
      const l2 = img.l2Table(gc);
      if (l2 === null) return false;
      const idx = gc % img.l2Entries;
      const hi = hiWord(l2, idx);
      const lo = loWord(l2, idx);
      if (hi & COMPRESSED || !(hi & COPIED) || lo & ZERO) return false;
      const host = entryOffset(hi, lo, "L2 entry");
      if (host === 0) return false;
      img.checkDataCluster(host);
      img.guard.check(host, cs, "guest data");
      const k = runs.length;
      if (k > 0 && runs[k - 3] + runs[k - 1] === host + within && runs[k - 1] < MAX_RUN) runs[k - 1] += n;
      else runs.push(host + within, at, n);
      position += n;
      at += n;
    }
  } catch {
    return false; // the synchronous path reports it
  }
  const parts = new Parts(img, done);
  const fd = img.file.descriptor;
  for (let k = 0; k < runs.length; k += 3) {
    parts.add();
    writevAll(fd, sliceBuffers(io.buffers, runs[k + 1], runs[k + 2]), runs[k], (err) => parts.end(err));
  }
  parts.end(null);
  return true;
}

function fsyncAsync(img: Qcow2Image, fd: number, done: BlockDone): void {
  const parts = new Parts(img, done);
  fs.fsync(fd, (err) => parts.end(err));
}

/** The request's data as one buffer (the synchronous path takes one). */
function gather(io: BlockIo): Uint8Array {
  if (io.buffers.length === 1) return io.buffers[0];
  const all = new Uint8Array(io.length);
  let at = 0;
  for (const b of io.buffers) {
    all.set(b, at);
    at += b.length;
  }
  return all;
}

function copyInto(bufs: Uint8Array[], src: Uint8Array): void {
  let at = 0;
  for (const b of bufs) {
    b.set(src.subarray(at, at + b.length));
    at += b.length;
  }
}
