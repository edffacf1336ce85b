/**
 * qcow2 metadata changes on the asynchronous path (metadata-lane.ts,
 * l2-prefetch.ts): a request that allocates, copies a partial cluster from
 * the backing file, frees clusters or misses the L2 cache makes no
 * synchronous metadata read or write from submit to completion (so it
 * never holds up the machine's thread on the host disk), and its writes reach
 * the file in exactly the order the synchronous path makes them (the
 * order crash safety rests on: refcount and data before the L2 entry, the
 * entry before the old cluster is released, a new L2 table before its L1
 * entry).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import * as path from "node:path";
import type { BlockIo } from "../../src/backends/block/block-io.ts";
import { openImage, qcow2Of } from "../../src/backends/block/open-image.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import type { Qcow2Image } from "../../src/backends/block/qcow2/qcow2-image.ts";
import { pattern, run, scratchDir } from "./helpers.ts";

const fsModule = createRequire(import.meta.url)("node:fs") as Record<string, unknown>;
// Not readvSync: that is HybridReader's small data read from the page cache, synchronous by design
// (hybrid-read.ts); the image's own metadata I/O (HostFile) goes through readSync / writeSync.
const SYNC_CALLS = ["readSync", "writeSync", "writevSync", "fsyncSync", "fdatasyncSync", "ftruncateSync"];
const ASYNC_WRITES = ["write", "writev"];

/** Replaces fs functions (seen by every module) for the duration of `body`. */
async function withFsSpy<T>(wrap: (name: string, orig: (...a: unknown[]) => unknown) => (...a: unknown[]) => unknown, names: string[], body: () => Promise<T>): Promise<T> {
  const saved = names.map((n) => fsModule[n]);
  names.forEach((n, i) => (fsModule[n] = wrap(n, saved[i] as (...a: unknown[]) => unknown)));
  syncBuiltinESMExports();
  try {
    return await body();
  } finally {
    names.forEach((n, i) => (fsModule[n] = saved[i]));
    syncBuiltinESMExports();
  }
}

function submit(img: Qcow2Image, io: BlockIo): Promise<boolean> {
  return new Promise((resolve) => img.submit(io, resolve));
}

const io = (op: BlockIo["op"], position: number, data: Uint8Array | number, unmap = false): BlockIo =>
  typeof data === "number"
    ? { op, position, length: data, buffers: op === "read" ? [new Uint8Array(data)] : [], unmap }
    : { op, position, length: data.length, buffers: [data], unmap };

/** Requests that change metadata, each on a fresh part of a 64 KiB-cluster image over a raw backing file. */
function metadataRequests(): { name: string; io: BlockIo; dropTables: boolean }[] {
  const K = 1024;
  return [
    { name: "partial write over the backing file (copy-in)", io: io("write", 6 * 64 * K + 1000, pattern(3000, 1)), dropTables: false },
    { name: "whole-cluster writes in a new L2 table", io: io("write", 600 * 64 * K, pattern(3 * 64 * K, 2)), dropTables: false },
    { name: "write across a cluster boundary, both ends partial", io: io("write", 20 * 64 * K - 512, pattern(64 * K + 1024, 3)), dropTables: false },
    { name: "write-zeroes with unmap", io: io("write-zeroes", 30 * 64 * K + 4096, 200 * K, true), dropTables: false },
    { name: "write-zeroes keeping the allocation", io: io("write-zeroes", 40 * 64 * K, 128 * K), dropTables: false },
    { name: "discard", io: io("discard", 50 * 64 * K, 256 * K), dropTables: false },
    { name: "allocating write after the L2 cache was dropped", io: io("write", 7 * 64 * K, pattern(4096, 4)), dropTables: true },
    { name: "write in place after the L2 cache was dropped", io: io("write", 5 * 64 * K, pattern(512, 5)), dropTables: true },
    { name: "read (too large for the synchronous path) after the L2 cache was dropped", io: io("read", 5 * 64 * K, 128 * K), dropTables: true },
  ];
}

function makeImage(dir: string, name: string): string {
  const base = path.join(dir, "base.raw");
  if (!fs.existsSync(base)) fs.writeFileSync(base, pattern(8 * 2 ** 20, 9));
  const file = path.join(dir, name);
  createQcow2(file, { size: 64 * 2 ** 20, backingFile: "base.raw", backingFormat: "raw" });
  return file;
}

test("metadata changes, copy-ins and L2 misses do no synchronous metadata I/O from submit to completion", async (t) => {
  const dir = scratchDir(t);
  const file = makeImage(dir, "top.qcow2");
  const backend = openImage(file, { readOnly: false });
  const img = qcow2Of(backend)!;
  try {
    // Some data first (synchronously), so later requests find allocated clusters and full L2 tables.
    for (const at of [5, 30, 31, 40, 41, 50, 51, 52]) assert.ok(backend.writeAt(at * 65536, pattern(65536, at), 0, 65536));
    for (const r of metadataRequests()) {
      if (r.dropTables) img.dropCachedTables();
      const calls: string[] = [];
      const ok = await withFsSpy((name, orig) => (...a) => (calls.push(name), orig(...a)), SYNC_CALLS, () => submit(img, r.io));
      assert.equal(ok, true, `${r.name}: ${img.lastError}`);
      assert.deepEqual(calls, [], `${r.name}: synchronous calls ${calls.join(", ")}`);
    }
    // And the results are right: read back through the synchronous path.
    const back = new Uint8Array(3000);
    assert.ok(backend.readAt(6 * 65536 + 1000, back, 0, 3000));
    assert.deepEqual(back, pattern(3000, 1));
    const zeros = new Uint8Array(200 * 1024);
    assert.ok(backend.readAt(30 * 65536 + 4096, zeros, 0, zeros.length));
    assert.ok(zeros.every((b) => b === 0));
  } finally {
    backend.close();
  }
  const q = run("qemu-img", ["check", file]);
  assert.equal(q.status, 0, `qemu-img check: ${q.stdout}${q.stderr}`);
});

test("the asynchronous path writes the file in the same order, with the same bytes, as the synchronous path", async (t) => {
  const dir = scratchDir(t);
  const logs: Record<"sync" | "async", string[]> = { sync: [], async: [] };
  for (const mode of ["sync", "async"] as const) {
    const file = makeImage(dir, `${mode}.qcow2`);
    const backend = openImage(file, { readOnly: false });
    const img = qcow2Of(backend)!;
    const log = logs[mode];
    // What reaches the file: (position, sha of bytes) of each write, in the order it is issued.
    const record = (position: number, bytes: Uint8Array[]): void => {
      const h = Buffer.concat(bytes.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
      log.push(`${position}:${h.length}:${crypto.createHash("sha256").update(h).digest("hex").slice(0, 16)}`);
    };
    try {
      await withFsSpy(
        (name, orig) => (...a) => {
          if (name === "writeSync") record(a[4] as number, [(a[1] as Uint8Array).subarray(a[2] as number, (a[2] as number) + (a[3] as number))]);
          else if (name === "write") record(a[4] as number, [(a[1] as Uint8Array).subarray(a[2] as number, (a[2] as number) + (a[3] as number))]);
          else if (name === "writev") record(a[2] as number, a[1] as Uint8Array[]);
          return orig(...a);
        },
        ["writeSync", ...ASYNC_WRITES],
        async () => {
          for (const r of metadataRequests()) {
            if (r.dropTables) img.dropCachedTables();
            if (r.io.op === "read") continue;
            const ok = mode === "async"
              ? await submit(img, r.io)
              : r.io.op === "write"
                ? img.writeAt(r.io.position, r.io.buffers[0], 0, r.io.length)
                : r.io.op === "discard"
                  ? img.discard(r.io.position, r.io.length)
                  : img.writeZeroes(r.io.position, r.io.length, r.io.unmap);
            assert.equal(ok, true, `${mode} ${r.name}: ${img.lastError}`);
          }
        },
      );
    } finally {
      backend.close();
    }
  }
  assert.ok(logs.sync.length > 20, `the requests made ${logs.sync.length} writes`);
  assert.deepEqual(logs.async, logs.sync);
});
