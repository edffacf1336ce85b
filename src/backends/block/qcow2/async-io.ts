/**
 * virtio-blk's asynchronous requests on a qcow2 image (`Qcow2Image.submit`).
 * Nothing here waits for the host disk on the machine's thread.
 *
 * Guest data moves on libuv's thread pool (preadv / pwritev straight
 * between guest RAM and the image file): reads of data clusters, reads
 * through to the backing file, writes to clusters the image already owns
 * (COPIED), and flush (fsync). L2 tables missing from the cache are read
 * on the pool first (l2-prefetch.ts). Requests that change metadata — a
 * write that must allocate or copy a cluster, DISCARD, WRITE_ZEROES — go
 * through the image's metadata lane (metadata-lane.ts): one at a time,
 * worked out on this thread, their writes made in order on the pool; the
 * partial clusters such a write must copy are read ahead on the pool.
 *
 * Ordering: the device never runs two requests at once whose bytes
 * overlap when one writes (blk-order.ts); ClusterOrder (cluster-order.ts)
 * also keeps a request that may change a cluster's mapping alone on its
 * clusters. So a cluster an in-flight request reads or writes in place is
 * referenced and stays so until it finishes (no allocation can reuse it),
 * and a write in place keeps COPIED, which only a change on its own
 * clusters could take away.
 */
import * as fs from "node:fs";
import { sliceBuffers, submitIo, type BlockDone, type BlockIo } from "../block-io.ts";
import { writevAll } from "../host-fd.ts";
import type { ClusterRequest } from "./cluster-order.ts";
import { prefetchL2 } from "./l2-prefetch.ts";
import { applyDeferred } from "./metadata-lane.ts";
import type { Qcow2Image } from "./qcow2-image.ts";

/** Largest single host write when guest-contiguous clusters are host-contiguous too. */
const MAX_RUN = 8 * 2 ** 20;

export function submitQcow2(img: Qcow2Image, io: BlockIo, done: BlockDone): void {
  const inside = io.position >= 0 && io.length >= 0 && io.position + io.length <= img.size;
  if (io.op === "flush") {
    const fd = img.file.descriptor;
    if (img.readOnly || fd < 0) return done(fd >= 0);
    return fsyncAsync(img, fd, done);
  }
  if (!inside || (io.op !== "read" && img.readOnly)) return done(false);
  const cs = img.clusterSize;
  const r: ClusterRequest = {
    first: Math.floor(io.position / cs),
    last: Math.floor((io.position + io.length - 1) / cs),
    exclusive: io.op !== "read",
    started: false,
    start: () => prefetchL2(img, io.position, io.length, () => run(img, io, r, finish)),
  };
  const finish = (ok: boolean): void => {
    img.requests.finish(r);
    done(ok);
  };
  img.requests.add(r);
}

function run(img: Qcow2Image, io: BlockIo, r: ClusterRequest, done: BlockDone): void {
  if (io.op === "read") return readAsync(img, io, done);
  if (io.op === "write" && writeInPlace(img, io, done)) return img.requests.relax(r);
  img.lane.run((release) =>
    readPartialClusters(img, io, (copyIn) =>
      applyDeferred(img, io, copyIn, (ok) => {
        release();
        done(ok);
      }),
    ),
  );
}

/** Whether reading guest cluster `gc` touches a file (not when it reads as zeros: a zero cluster, or nothing under it). */
function needsRead(img: Qcow2Image, gc: number): boolean {
  const cs = img.clusterSize;
  const p = img.nextPiece(gc * cs, cs);
  if (p.kind === "zero") return false;
  if (p.kind === "backing") return img.backing !== null && gc * cs < img.backing.size;
  return true;
}

/**
 * Reads ahead the clusters a metadata change will rewrite only in part
 * (the first and last of a write or write-zeroes, unless written in place):
 * their current contents, whole, by guest cluster.
 */
function readPartialClusters(img: Qcow2Image, io: BlockIo, done: (copyIn: Map<number, Uint8Array>) => void): void {
  const cs = img.clusterSize;
  const copyIn = new Map<number, Uint8Array>();
  const end = io.position + io.length;
  const partial: number[] = [];
  if (io.op !== "discard" && io.length > 0) {
    if (io.position % cs !== 0 || io.length < cs) partial.push(Math.floor(io.position / cs));
    const last = Math.floor((end - 1) / cs);
    if (end % cs !== 0 && last !== partial[0]) partial.push(last);
  }
  let pending = 1;
  const ended = (): void => {
    if (--pending === 0) done(copyIn);
  };
  for (const gc of partial) {
    try {
      if (img.inPlaceHost(gc) >= 0 || !needsRead(img, gc)) continue;
    } catch {
      continue; // working the change out reports it
    }
    const cluster = new Uint8Array(cs);
    pending++;
    readAsync(img, { op: "read", position: gc * cs, length: cs, buffers: [cluster], unmap: false }, (ok) => {
      if (ok) copyIn.set(gc, cluster); // else the synchronous path reads (and reports) it
      ended();
    });
  }
  ended();
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
        img.reader.read(fd, bufs, p.host, p.length, (err) => parts.end(err));
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
      const host = img.inPlaceHost(gc);
      if (host < 0) return false;
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

function copyInto(bufs: Uint8Array[], src: Uint8Array): void {
  let at = 0;
  for (const b of bufs) {
    b.set(src.subarray(at, at + b.length));
    at += b.length;
  }
}
