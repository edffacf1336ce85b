import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openImage, openQcow2, probeFormat } from "../../src/backends/block/open-image.ts";
import { checkImage } from "../../src/backends/block/qcow2/check.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { ImageError } from "../../src/backends/block/qcow2/errors.ts";
import { applySnapshot, createSnapshot, deleteSnapshot } from "../../src/backends/block/qcow2/snapshots.ts";
import type { Qcow2Image } from "../../src/backends/block/qcow2/qcow2-image.ts";
import { pattern, rng, scratchDir } from "./helpers.ts";

function assertClean(image: Qcow2Image, what: string): void {
  const r = checkImage(image);
  assert.deepEqual(r.messages, [], `${what}: check found problems`);
  assert.equal(r.corruptions + r.leaks, 0, what);
}

function readAll(image: { size: number; readAt: (p: number, d: Uint8Array, o: number, l: number) => boolean }): Uint8Array {
  const out = new Uint8Array(image.size);
  assert.ok(image.readAt(0, out, 0, out.length));
  return out;
}

/** Random writes of random lengths, mirrored in a byte array; the image must read back the same. */
function randomWrites(image: Qcow2Image, model: Uint8Array, seed: number, count: number, maxLen: number): void {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const len = 1 + r(maxLen);
    const pos = r(model.length - len);
    const data = pattern(len, seed * 1000 + i);
    assert.ok(image.writeAt(pos, data, 0, len), image.lastError ?? "write failed");
    model.set(data, pos);
  }
}

test("a new image reads as zeros and passes the check", (t) => {
  const file = path.join(scratchDir(t), "a.qcow2");
  createQcow2(file, { size: 10 * 2 ** 20 });
  assert.equal(probeFormat(file), "qcow2");
  const image = openQcow2(file, true);
  assert.equal(image.size, 10 * 2 ** 20);
  assert.ok(readAll(image).every((b) => b === 0));
  assertClean(image, "fresh image");
  image.close();
});

for (const [clusterBits, refcountOrder] of [[16, 4], [9, 4], [12, 0], [12, 3], [12, 5], [10, 6]] as const) {
  test(`random writes read back and leave a clean image (cluster ${2 ** clusterBits} B, ${2 ** refcountOrder}-bit refcounts)`, (t) => {
    const file = path.join(scratchDir(t), "r.qcow2");
    const size = 3 * 2 ** 20 + 1536;
    createQcow2(file, { size, clusterBits, refcountOrder });
    const model = new Uint8Array(size);
    let image = openQcow2(file, false);
    randomWrites(image, model, clusterBits * 7 + refcountOrder, 150, 3 * 2 ** clusterBits);
    assert.deepEqual(readAll(image), model);
    assertClean(image, "after writes");
    image.close();
    image = openQcow2(file, true);
    assert.deepEqual(readAll(image), model, "after reopening");
    image.close();
  });
}

test("many small clusters grow the refcount table past its first cluster", (t) => {
  const file = path.join(scratchDir(t), "grow.qcow2");
  // 512-byte clusters, 16-bit refcounts: a block covers 256 clusters, the first table 64 blocks = 8 MiB.
  createQcow2(file, { size: 16 * 2 ** 20, clusterBits: 9 });
  const image = openQcow2(file, false);
  const tableBefore = image.header.refcountTableOffset;
  const data = pattern(16 * 2 ** 20, 3);
  assert.ok(image.writeAt(0, data, 0, data.length));
  assert.notEqual(image.header.refcountTableOffset, tableBefore, "the refcount table moved");
  assert.ok(image.header.refcountTableClusters > 1);
  assert.deepEqual(readAll(image), data);
  assertClean(image, "after growth");
  image.close();
});

test("resize grows the L1 table and keeps data; shrinking drops what is past the end", (t) => {
  const file = path.join(scratchDir(t), "resize.qcow2");
  createQcow2(file, { size: 2 ** 20, clusterBits: 9 });
  const image = openQcow2(file, false);
  const data = pattern(2 ** 20, 4);
  image.write(0, data, 0, data.length);
  const l1Before = image.header.l1Size;
  image.resize(8 * 2 ** 20);
  assert.ok(image.header.l1Size > l1Before);
  const tail = pattern(4096, 5);
  image.write(8 * 2 ** 20 - 4096, tail, 0, 4096);
  const all = readAll(image);
  assert.deepEqual(all.subarray(0, 2 ** 20), data);
  assert.deepEqual(all.subarray(8 * 2 ** 20 - 4096), tail);
  assertClean(image, "after growing");
  image.resize(2 ** 19);
  assert.deepEqual(readAll(image), data.subarray(0, 2 ** 19));
  assertClean(image, "after shrinking");
  image.close();
});

test("backing chains: unallocated clusters read through every level; writes copy on write", (t) => {
  const dir = scratchDir(t);
  const size = 2 ** 20;
  const model = new Uint8Array(size);
  const names = ["base.qcow2", "mid.qcow2", "top.qcow2"];
  createQcow2(path.join(dir, names[0]), { size, clusterBits: 12 });
  for (let level = 0; level < names.length; level++) {
    if (level > 0) createQcow2(path.join(dir, names[level]), { size, clusterBits: 12, backingFile: names[level - 1], backingFormat: "qcow2" });
    const image = openQcow2(path.join(dir, names[level]), false);
    randomWrites(image, model, 40 + level, 30, 9000);
    assert.deepEqual(readAll(image), model, `level ${level}`);
    assertClean(image, `level ${level}`);
    image.close();
  }
  // The base keeps only its own writes.
  const base = openImage(path.join(dir, names[0]), { readOnly: true });
  assert.notDeepEqual(readAll(base), model);
  base.close();
});

test("a raw backing file smaller than the overlay reads as zeros past its end", (t) => {
  const dir = scratchDir(t);
  const raw = pattern(10000, 6);
  fs.writeFileSync(path.join(dir, "base.raw"), raw);
  createQcow2(path.join(dir, "top.qcow2"), { size: 65536, clusterBits: 12, backingFile: "base.raw", backingFormat: "raw" });
  const image = openQcow2(path.join(dir, "top.qcow2"), false);
  const expect = new Uint8Array(65536);
  expect.set(raw);
  assert.deepEqual(readAll(image), expect);
  image.write(9990, new Uint8Array(20).fill(1), 0, 20);
  expect.fill(1, 9990, 10010);
  assert.deepEqual(readAll(image), expect);
  image.close();
  assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(dir, "base.raw"))), raw, "the backing file is never written");
});

test("a loop in the backing chain is an error naming the files", (t) => {
  const dir = scratchDir(t);
  createQcow2(path.join(dir, "a.qcow2"), { size: 65536, backingFile: "b.qcow2", backingFormat: "qcow2" });
  createQcow2(path.join(dir, "b.qcow2"), { size: 65536, backingFile: "a.qcow2", backingFormat: "qcow2" });
  createQcow2(path.join(dir, "self.qcow2"), { size: 65536, backingFile: "self.qcow2", backingFormat: "qcow2" });
  assert.throws(() => openQcow2(path.join(dir, "a.qcow2"), true), (e: Error) => e instanceof ImageError && /backing chain loop: .*a\.qcow2 -> .*b\.qcow2 -> .*a\.qcow2/.test(e.message));
  assert.throws(() => openQcow2(path.join(dir, "self.qcow2"), true), /backing chain loop/);
  assert.throws(() => openImage(path.join(dir, "missing-top.qcow2"), { readOnly: true }), /cannot open disk image/);
});

test("internal snapshots: create keeps the old contents, apply restores them, delete frees them", (t) => {
  const file = path.join(scratchDir(t), "snap.qcow2");
  const size = 2 ** 20;
  createQcow2(file, { size, clusterBits: 12 });
  const image = openQcow2(file, false);
  const model = new Uint8Array(size);
  randomWrites(image, model, 70, 40, 10000);
  const first = model.slice();
  createSnapshot(image, "first");
  assertClean(image, "after create");
  randomWrites(image, model, 71, 40, 10000);
  const second = model.slice();
  createSnapshot(image, "second");
  randomWrites(image, model, 72, 40, 10000);
  assertClean(image, "after writes over two snapshots");
  assert.deepEqual(readAll(image), model);
  assert.throws(() => createSnapshot(image, "first"), /already exists/);

  applySnapshot(image, "first");
  assert.deepEqual(readAll(image), first, "apply first");
  assertClean(image, "after apply");
  randomWrites(image, model, 73, 20, 10000);
  applySnapshot(image, "2"); // by id
  assert.deepEqual(readAll(image), second, "apply second by id");
  deleteSnapshot(image, "first");
  assert.deepEqual(image.snapshots.map((s) => s.name), ["second"]);
  assertClean(image, "after delete");
  const end = image.file.size;
  deleteSnapshot(image, "second");
  assertClean(image, "after deleting all");
  assert.deepEqual(readAll(image), second, "the active disk is untouched by deletes");
  // Freed clusters are reused: rewriting everything does not grow the file much.
  const again = pattern(size, 74);
  image.write(0, again, 0, size);
  assert.ok(image.file.size <= end + 64 * 4096, `file grew from ${end} to ${image.file.size}`);
  assertClean(image, "after reuse");
  image.close();
});

test("compressed clusters written by writeCompressed read back; overwriting frees them", (t) => {
  const file = path.join(scratchDir(t), "c.qcow2");
  createQcow2(file, { size: 2 ** 20, clusterBits: 12 });
  const image = openQcow2(file, false);
  const model = new Uint8Array(2 ** 20);
  for (let gc = 0; gc < 256; gc += 3) {
    const data = new Uint8Array(4096).fill(gc & 255);
    data.set(pattern(100, gc), 0); // mostly compressible
    image.writeCompressed(gc, data);
    model.set(data, gc * 4096);
  }
  assert.equal(image.clusterInfo(3).kind, "compressed");
  assert.deepEqual(readAll(image), model);
  assertClean(image, "compressed");
  randomWrites(image, model, 80, 50, 6000);
  assert.deepEqual(readAll(image), model);
  assertClean(image, "after overwriting compressed clusters");
  image.close();
});

test("deallocate: zero mode reads zeros over a backing file, backing mode reads through", (t) => {
  const dir = scratchDir(t);
  const base = pattern(65536, 9);
  fs.writeFileSync(path.join(dir, "b.raw"), base);
  createQcow2(path.join(dir, "t.qcow2"), { size: 65536, clusterBits: 12, backingFile: "b.raw", backingFormat: "raw" });
  const image = openQcow2(path.join(dir, "t.qcow2"), false);
  const ones = new Uint8Array(65536).fill(1);
  image.write(0, ones, 0, 65536);
  image.deallocate(4096, 8192, "zero");
  image.deallocate(16384, 4096, "backing");
  image.deallocate(30000, 100, "zero"); // partial cluster: written as zeros
  const expect = ones.slice();
  expect.fill(0, 4096, 12288);
  expect.set(base.subarray(16384, 20480), 16384);
  expect.fill(0, 30000, 30100);
  assert.deepEqual(readAll(image), expect);
  assert.equal(image.clusterInfo(1).kind, "zero");
  assert.equal(image.clusterInfo(4).kind, "unallocated");
  assertClean(image, "after deallocate");
  image.close();
});

test("opening formats: probing, and a qcow2 file is never written as raw", (t) => {
  const dir = scratchDir(t);
  const q = path.join(dir, "d.qcow2");
  createQcow2(q, { size: 65536 });
  const probed = openImage(q, { readOnly: false });
  assert.equal(probed.size, 65536, "probed as qcow2: the virtual size, not the file size");
  probed.close();
  assert.throws(() => openImage(q, { readOnly: false, format: "raw" }), /is a qcow2 image; format=raw would let the guest overwrite its metadata/);
  const rawView = openImage(q, { readOnly: true, format: "raw" });
  assert.equal(rawView.size, fs.statSync(q).size, "read-only raw access to a qcow2 file is allowed");
  rawView.close();
  const r = path.join(dir, "d.raw");
  fs.writeFileSync(r, new Uint8Array(4096));
  const raw = openImage(r, { readOnly: false });
  assert.equal(raw.size, 4096);
  raw.close();
});

test("a compressed cluster's host space reused by new compressed data never reads back stale", (t) => {
  const file = path.join(scratchDir(t), "reuse.qcow2");
  createQcow2(file, { size: 65536, clusterBits: 12 });
  const image = openQcow2(file, false);
  const a = new Uint8Array(4096).fill(1);
  const b = new Uint8Array(4096).fill(2);
  image.writeCompressed(0, a);
  const out = new Uint8Array(4096);
  image.read(0, out, 0, 4096);
  assert.deepEqual(out, a);
  const first = image.clusterInfo(0).host;
  image.write(0, new Uint8Array(4096).fill(3), 0, 4096); // frees the compressed cluster's host cluster
  image.writeCompressed(1, b); // packs into the cluster just freed, at the same offset
  assert.equal(image.clusterInfo(1).host, first, "the same host bytes were reused");
  image.read(4096, out, 0, 4096);
  assert.deepEqual(out, b);
  assertClean(image, "after reuse");
  image.close();
});
