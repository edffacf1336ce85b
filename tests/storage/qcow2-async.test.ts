/**
 * qcow2's asynchronous path (Qcow2Image.submit) with many requests in
 * flight at once, as virtio-blk issues them (never two overlapping where
 * one writes): batches of random reads, partial and whole-cluster writes
 * (in place and allocating), write-zeroes, discards and flushes over an image with a
 * raw backing file, checked against a model after every batch; at the end
 * both `typevisor`'s and `qemu-img check` find the image clean and the
 * backing file untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BlockIo } from "../../src/backends/block/block-io.ts";
import { openImage, qcow2Of } from "../../src/backends/block/open-image.ts";
import { checkImage } from "../../src/backends/block/qcow2/check.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { pattern, rng, run, scratchDir } from "./helpers.ts";

const SIZE = 4 * 2 ** 20;

for (const clusterBits of [12, 16]) {
  test(`qcow2 (${2 ** clusterBits}-byte clusters): batches of concurrent requests match a model; the image checks clean`, async (t) => {
    const dir = scratchDir(t);
    const base = pattern(SIZE / 2, 5); // the backing file covers the first half
    fs.writeFileSync(path.join(dir, "base.raw"), base);
    const file = path.join(dir, "top.qcow2");
    createQcow2(file, { size: SIZE, clusterBits, backingFile: "base.raw", backingFormat: "raw" });
    const model = new Uint8Array(SIZE);
    model.set(base);
    const backend = openImage(file, { readOnly: false });
    const img = qcow2Of(backend)!;
    assert.ok(img !== null && img.submit !== undefined);
    const r = rng(clusterBits * 1000 + 1);
    let pending = 0;
    let maxPending = 0;
    try {
      for (let batch = 0; batch < 60; batch++) {
        // Requests on disjoint ranges (writes never overlap anything else in the batch).
        const taken: [number, number][] = [];
        const promises: Promise<void>[] = [];
        const checks: (() => void)[] = [];
        for (let k = 0; k < 12; k++) {
          const len = [512, 4096, 2 ** clusterBits, 3 * 2 ** clusterBits + 1024, 96 * 1024][r(5)];
          const pos = r((SIZE - len) / 512) * 512;
          if (taken.some(([a, b]) => pos < b && a < pos + len)) continue;
          taken.push([pos, pos + len]);
          const kind = r(10);
          // Guest RAM is scattered: split the data into 1–3 buffers.
          const cut1 = Math.floor(len / 1024) * 512;
          const split = (data: Uint8Array) => (r(2) === 0 || cut1 === 0 ? [data] : [data.subarray(0, cut1), data.subarray(cut1)]);
          let io: BlockIo;
          if (kind < 4) {
            const into = new Uint8Array(len).fill(0xee);
            io = { op: "read", position: pos, length: len, buffers: split(into), unmap: false };
            const expect = model.slice(pos, pos + len);
            checks.push(() => assert.deepEqual(into, expect, `batch ${batch}: read of ${len} at ${pos}`));
          } else if (kind < 9) {
            const data = pattern(len, batch * 100 + k);
            io = { op: "write", position: pos, length: len, buffers: split(data), unmap: false };
            model.set(data, pos);
          } else if (r(2) === 0) {
            io = { op: "write-zeroes", position: pos, length: len, buffers: [], unmap: r(2) === 0 };
            model.fill(0, pos, pos + len);
          } else {
            // DISCARD frees whole clusters only (they then read as zeros); partial ones are left alone.
            io = { op: "discard", position: pos, length: len, buffers: [], unmap: false };
            const cs = 2 ** clusterBits;
            model.fill(0, Math.ceil(pos / cs) * cs, Math.max(Math.ceil(pos / cs) * cs, Math.floor((pos + len) / cs) * cs));
          }
          pending++;
          maxPending = Math.max(maxPending, pending);
          promises.push(
            new Promise((resolve) =>
              img.submit!(io, (ok) => {
                pending--;
                assert.equal(ok, true, `batch ${batch}: ${io.op} of ${len} at ${pos} failed: ${img.lastError}`);
                resolve();
              }),
            ),
          );
        }
        if (batch % 10 === 9) promises.push(new Promise((resolve) => img.submit!({ op: "flush", position: 0, length: 0, buffers: [], unmap: false }, (ok) => (assert.ok(ok), resolve()))));
        await Promise.all(promises);
        for (const c of checks) c();
      }
      assert.ok(maxPending >= 8, "many requests were in flight together");
      const all = new Uint8Array(SIZE);
      assert.equal(backend.readAt(0, all, 0, SIZE), true);
      assert.ok(Buffer.from(all).equals(Buffer.from(model)), "the whole disk matches the model");
      assert.equal(checkImage(img).corruptions, 0);
    } finally {
      backend.close();
    }
    assert.ok(Buffer.from(fs.readFileSync(path.join(dir, "base.raw"))).equals(Buffer.from(base)), "the backing file is never written");
    const q = run("qemu-img", ["check", file]);
    assert.equal(q.status, 0, `qemu-img check: ${q.stdout}${q.stderr}`);
  });
}
