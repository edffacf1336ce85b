/**
 * Small reads served synchronously while that is cheap, everything else on
 * libuv's thread pool.
 *
 * A read from the host's page cache takes a few microseconds; handing it
 * to the thread pool and back costs tens to hundreds (docs/storage.md), so
 * at queue depth 1 a guest's 4 KiB reads were ~3× slower asynchronously
 * than synchronously. Node cannot ask whether bytes are cached (no
 * mincore or preadv2 RWF_NOWAIT), so this watches instead: a small read is
 * made on the machine's thread and timed; after two in a row slow enough
 * to have waited for the disk, reads go to the pool for a while before the
 * next synchronous try. (One slow read alone is more often this thread
 * being preempted on a busy host than the disk.) The machine's thread
 * therefore waits for the disk at most twice per back-off period, for one
 * small read each time.
 */
import * as fs from "node:fs";
import { readvAll } from "./host-fd.ts";

/** Largest read made synchronously: copying this from the page cache costs less than a thread hand-off. */
export const SYNC_READ_MAX = 64 * 1024;
/** A synchronous read slower than this (ms) probably waited for the disk: a page-cache hit takes microseconds. */
const SLOW_READ_MS = 1;
/** Slow reads in a row that send reads to the pool. */
const SLOW_IN_A_ROW = 2;
/** How long (ms) reads then stay on the pool. */
const BACK_OFF_MS = 1000;

export class HybridReader {
  /** performance.now() before which every read goes to the pool. */
  private poolUntil = 0;
  private slowInARow = 0;
  /** Reads served synchronously and on the pool (for tests and benchmarks). */
  syncReads = 0;
  poolReads = 0;

  /** `slowReadMs`: a synchronous read slower than this sends reads to the pool for a while. */
  constructor(private readonly slowReadMs = SLOW_READ_MS) {}

  /** Reads into `buffers` in order from `position` as readvAll does; `done` is called before returning when served synchronously. */
  read(fd: number, buffers: Uint8Array[], position: number, length: number, done: (err: Error | null) => void): void {
    if (length > SYNC_READ_MAX || performance.now() < this.poolUntil) {
      this.poolReads++;
      return readvAll(fd, buffers, position, done);
    }
    this.syncReads++;
    const start = performance.now();
    let err: Error | null = null;
    try {
      readvSyncAll(fd, buffers, position, length);
    } catch (e) {
      err = e as Error;
    }
    const took = performance.now() - start;
    if (took <= this.slowReadMs) this.slowInARow = 0;
    else if (++this.slowInARow === SLOW_IN_A_ROW) {
      this.slowInARow = 0;
      this.poolUntil = start + took + BACK_OFF_MS;
    }
    done(err);
  }
}

/** preadv until `length` bytes are in; bytes past the end of the file read as zeros. */
function readvSyncAll(fd: number, buffers: Uint8Array[], position: number, length: number): void {
  let skip = fs.readvSync(fd, buffers, position);
  if (skip === length) return;
  // A short read (the end of the file, a signal): finish buffer by buffer.
  let at = position;
  for (const b of buffers) {
    let k = Math.min(skip, b.length);
    skip -= k;
    while (k < b.length) {
      const got = fs.readSync(fd, b, k, b.length - k, at + k);
      if (got === 0) {
        b.fill(0, k);
        break;
      }
      k += got;
    }
    at += b.length;
  }
}
