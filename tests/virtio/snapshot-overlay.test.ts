import { test } from "node:test";
import assert from "node:assert/strict";
import { BadSectorsBackend, MemoryBlockBackend, SnapshotOverlayBackend } from "../../src/backends/block/index.ts";

function pattern(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff);
}

test("writes land in the overlay; the image underneath never changes", () => {
  const image = pattern(3 * 4096 + 512);
  const base = new MemoryBlockBackend(image.slice(), { readOnly: true });
  const disk = new SnapshotOverlayBackend(base);
  assert.equal(disk.size, image.length);
  assert.equal(disk.readOnly, false);

  // A write straddling two chunks, and one at the short last chunk.
  const data = new Uint8Array(1000).fill(0xee);
  assert.ok(disk.writeAt(4096 - 300, data, 0, 1000));
  assert.ok(disk.writeAt(3 * 4096 + 500, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), 0, 12));
  assert.deepEqual(base.bytes, image, "the base image is untouched");
  assert.equal(disk.overlayBytes, 3 * 4096);

  const expected = image.slice();
  expected.fill(0xee, 4096 - 300, 4096 + 700);
  expected.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 3 * 4096 + 500);
  const all = new Uint8Array(image.length);
  assert.ok(disk.readAt(0, all, 0, all.length));
  assert.deepEqual(all, expected, "reads see the writes, and the image elsewhere");
  assert.ok(disk.flush());
});

test("out-of-range requests and base read errors fail without throwing", () => {
  const base = new BadSectorsBackend(new MemoryBlockBackend(8192), [{ sector: 9, count: 1 }]);
  const disk = new SnapshotOverlayBackend(base);
  const buf = new Uint8Array(16);
  assert.equal(disk.readAt(8190, buf, 0, 16), false);
  assert.equal(disk.writeAt(-1, buf, 0, 1), false);
  assert.equal(disk.writeAt(4096, buf, 0, 16), false, "copying the chunk in needs the bad sector");
  assert.equal(disk.writeAt(0, buf, 0, 16), true);
});

test("the overlay is bounded: past its limit, writes to new chunks fail and the rest still works", () => {
  const disk = new SnapshotOverlayBackend(new MemoryBlockBackend(8 * 4096), 2 * 4096);
  const data = new Uint8Array(512).fill(5);
  assert.ok(disk.writeAt(0, data, 0, 512));
  assert.ok(disk.writeAt(4096 * 5, data, 0, 512));
  assert.equal(disk.writeAt(4096 * 2, data, 0, 512), false, "a third chunk would pass the limit");
  assert.equal(disk.overlayBytes, 2 * 4096);
  assert.ok(disk.writeAt(100, data, 0, 512), "chunks already in the overlay stay writable");
  const back = new Uint8Array(512);
  assert.ok(disk.readAt(4096 * 2, back, 0, 512));
  assert.deepEqual(back, new Uint8Array(512), "the failed write left nothing behind");
});
