/**
 * HybridReader: small reads are served synchronously (completed before
 * `read` returns) with the right bytes, zeros past the end of the file;
 * large ones go to the thread pool; after two synchronous reads in a row
 * that were slow, reads go to the pool for the back-off period.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { HybridReader, SYNC_READ_MAX } from "../../src/backends/block/hybrid-read.ts";
import { pattern, scratchDir } from "./helpers.ts";

function read(r: HybridReader, fd: number, buffers: Uint8Array[], position: number): { sync: boolean; done: Promise<Error | null> } {
  let sync = true;
  let finished = false;
  const done = new Promise<Error | null>((resolve) =>
    r.read(fd, buffers, position, buffers.reduce((n, b) => n + b.length, 0), (err) => {
      finished = true;
      resolve(err);
    }),
  );
  sync = finished;
  return { sync, done };
}

test("small reads complete synchronously with the file's bytes (zeros past its end); large ones on the pool", async (t) => {
  const file = path.join(scratchDir(t), "disk.raw");
  const data = pattern(256 * 1024, 7);
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, "r");
  try {
    const r = new HybridReader();
    const a = new Uint8Array(1000);
    const b = new Uint8Array(3096);
    const small = read(r, fd, [a, b], 5000);
    assert.equal(small.sync, true);
    assert.equal(await small.done, null);
    assert.deepEqual(a, data.subarray(5000, 6000));
    assert.deepEqual(b, data.subarray(6000, 9096));
    const tail = new Uint8Array(8192).fill(0xee);
    const end = read(r, fd, [tail], data.length - 4096);
    assert.equal(end.sync, true);
    await end.done;
    assert.deepEqual(tail.subarray(0, 4096), data.subarray(data.length - 4096));
    assert.ok(tail.subarray(4096).every((x) => x === 0), "past the end reads as zeros");
    const big = new Uint8Array(SYNC_READ_MAX + 4096);
    const large = read(r, fd, [big], 0);
    assert.equal(large.sync, false);
    assert.equal(await large.done, null);
    assert.deepEqual(big, data.subarray(0, big.length));
    assert.deepEqual([r.syncReads, r.poolReads], [2, 1]);
  } finally {
    fs.closeSync(fd);
  }
});

test("after two slow synchronous reads in a row, small reads go to the pool", async (t) => {
  const file = path.join(scratchDir(t), "disk.raw");
  fs.writeFileSync(file, pattern(65536, 3));
  const fd = fs.openSync(file, "r");
  try {
    const r = new HybridReader(-1); // every synchronous read counts as slow
    for (const at of [0, 4096]) {
      const slow = read(r, fd, [new Uint8Array(4096)], at);
      assert.equal(slow.sync, true);
      await slow.done;
    }
    const next = read(r, fd, [new Uint8Array(4096)], 8192);
    assert.equal(next.sync, false, "the next read waits on the pool, not on this thread");
    await next.done;
    assert.deepEqual([r.syncReads, r.poolReads], [2, 1]);
  } finally {
    fs.closeSync(fd);
  }
});
