/**
 * Copies a disk image without allocating its zero blocks, so a mostly empty
 * image (the default guest's data disk) stays mostly unallocated on the host,
 * as `cp --sparse=always` does. Written under a temporary name and renamed,
 * so an interrupted copy never leaves a half image behind.
 */
import { closeSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";

/** Allocation granularity checked for zeros: the usual filesystem block. */
const BLOCK = 4096;
const CHUNK = 1 << 20;

export function copySparse(from: string, to: string): void {
  const tmp = `${to}.${process.pid}.tmp`;
  const src = openSync(from, "r");
  let dst = -1;
  try {
    dst = openSync(tmp, "w");
    const buf = new Uint8Array(CHUNK);
    const words = new Uint32Array(buf.buffer);
    let position = 0;
    for (;;) {
      const n = readSync(src, buf, 0, CHUNK, position);
      if (n === 0) break;
      for (let block = 0; block < n; block += BLOCK) {
        const end = Math.min(n, block + BLOCK);
        if (!isZero(buf, words, block, end)) writeSync(dst, buf, block, end - block, position + block);
      }
      position += n;
    }
    ftruncateSync(dst, position); // trailing zero blocks: a hole up to the full size
    closeSync(dst);
    dst = -1;
    renameSync(tmp, to);
  } catch (e) {
    if (dst >= 0) closeSync(dst);
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    closeSync(src);
  }
}

function isZero(bytes: Uint8Array, words: Uint32Array, start: number, end: number): boolean {
  let i = start;
  for (; i + 4 <= end && (i & 3) === 0; i += 4) if (words[i >> 2] !== 0) return false;
  for (; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
