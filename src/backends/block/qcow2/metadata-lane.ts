/**
 * qcow2 requests that change metadata — a write that allocates or copies a
 * cluster, DISCARD, WRITE_ZEROES — off the machine's thread, one at a time
 * per image.
 *
 * Each is worked out on the machine's thread by the synchronous code
 * (Qcow2Image.write / deallocate) with its file writes recorded instead of
 * made (planDeferred); the recorded writes are then made on the thread
 * pool one after another, each starting when the one before finished
 * (except a new cluster's data, which goes together with its refcount:
 * nothing points at the cluster yet, so either may land first), and the
 * request completes after the last. The file therefore goes through the
 * states the synchronous path would have put it in — a cluster's
 * refcount raised and its data written before an L2 entry points at it,
 * the entry changed before the old cluster's refcount is lowered, a new
 * L2 table written before the L1 entry — so a kill -9 at any moment
 * leaves what a kill of the synchronous path would: leaked clusters at
 * most. The next change is worked out only after the last
 * one's writes are all made, so it never reads tables the file does not
 * have yet; meanwhile reads and writes in place on other clusters go on.
 * Working one out reads no guest data (the caller reads partial clusters
 * ahead, on the thread pool); it may read a refcount block missing from
 * the cache synchronously.
 */
import type { BlockDone, BlockIo } from "../block-io.ts";
import type { Qcow2Image } from "./qcow2-image.ts";

export class MetadataLane {
  private busy = false;
  private readonly waiting: ((release: () => void) => void)[] = [];

  /** Runs `task` once no other task of this lane runs; the task calls `release` when it is done. */
  run(task: (release: () => void) => void): void {
    if (this.busy) {
      this.waiting.push(task);
      return;
    }
    this.busy = true;
    task(this.release);
  }

  private readonly release = (): void => {
    const next = this.waiting.shift();
    if (next === undefined) this.busy = false;
    else next(this.release);
  };
}

/**
 * Works out `io` (write, discard, write-zeroes) with deferred writes and
 * makes them in order; `copyIn` holds the partial clusters it rewrites.
 * Run inside the image's lane.
 */
export function applyDeferred(img: Qcow2Image, io: BlockIo, copyIn: Map<number, Uint8Array>, done: BlockDone): void {
  const plan = img.planDeferred(() => runSync(img, io), copyIn);
  // Even a failed plan's writes are made: the synchronous path would have made them before it failed.
  img.file.writeInOrder(plan.writes, (err) => {
    img.finishDeferred();
    if (err !== null) img.lastError = err.message;
    done(plan.ok && err === null);
  });
}

function runSync(img: Qcow2Image, io: BlockIo): boolean {
  switch (io.op) {
    case "write":
      return img.writeAt(io.position, gather(io), 0, io.length);
    case "discard":
      return img.discard(io.position, io.length);
    case "write-zeroes":
      return img.writeZeroes(io.position, io.length, io.unmap);
    default:
      return false;
  }
}

/** The request's data as one buffer (the synchronous code takes one); its own buffer when it has just one. */
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
