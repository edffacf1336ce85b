/**
 * Hostile and corrupt images: every defect is a clear ImageError naming the
 * file — never another exception, a hang, or a write outside the image.
 * Targeted cases first, then a seeded fuzz of the header and the tables.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { openImage, openQcow2 } from "../../src/backends/block/open-image.ts";
import { checkImage } from "../../src/backends/block/qcow2/check.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { ImageError } from "../../src/backends/block/qcow2/errors.ts";
import type { Qcow2Image } from "../../src/backends/block/qcow2/qcow2-image.ts";
import { createSnapshot } from "../../src/backends/block/qcow2/snapshots.ts";
import { pattern, rng, scratchDir } from "./helpers.ts";

function patch(file: string, at: number, bytes: number[] | Uint8Array): void {
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, at);
  fs.closeSync(fd);
}

function u32(v: number): number[] {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

function u64(v: number): number[] {
  return [...u32(Math.floor(v / 2 ** 32)), ...u32(v >>> 0)];
}

/** A 1 MiB image with 4 KiB clusters, some data and one snapshot. */
function sample(dir: string, name = "s.qcow2"): string {
  const file = path.join(dir, name);
  createQcow2(file, { size: 2 ** 20, clusterBits: 12 });
  const image = openQcow2(file, false);
  image.write(0, pattern(300000, 1), 0, 300000);
  createSnapshot(image, "snap");
  image.write(100000, pattern(50000, 2), 0, 50000);
  image.close();
  return file;
}

function refused(file: string, readOnly: boolean, message: RegExp): void {
  assert.throws(
    () => openQcow2(file, readOnly),
    (e: Error) => e instanceof ImageError && message.test(e.message) && e.message.includes(file),
    `expected ${message}`,
  );
}

test("header defects are refused with a message naming the problem", (t) => {
  const dir = scratchDir(t);
  const cases: Array<[string, number, number[], RegExp]> = [
    ["version 4", 4, u32(4), /qcow2 version 4 is not supported/],
    ["cluster_bits 30", 20, u32(30), /cluster_bits 30 is outside 9\.\.21/],
    ["cluster_bits 0", 20, u32(0), /cluster_bits 0/],
    ["AES encryption", 32, u32(1), /encrypted qcow2 images \(crypt_method 1\) are not supported/],
    ["external data file", 72, u64(4), /features we do not implement: external data file/],
    ["unknown incompatible bit", 72, [0, 0, 1, 0, 0, 0, 0, 0], /incompatible feature bit 40/],
    ["extended L2", 72, u64(16), /extended L2 entries/],
    ["zstd", 104, [1], /compression type 1 \(zstd\) is not supported/],
    ["huge size", 24, u64(2 ** 60), /beyond 2\^53|larger than we support/],
    ["size past the L1 table", 24, u64(2 ** 40), /L1 table \(\d+ entries\) is too small/],
    ["L1 outside the file", 40, u64(2 ** 40), /L1 table .* lies outside the file/],
    ["L1 on the header", 40, u64(0), /L1 table overlaps the header/],
    ["L1 unaligned", 40, u64(4096 + 8), /L1 table offset 0x1008 is not cluster-aligned/],
    ["refcount table outside", 48, u64(2 ** 45), /refcount table .* lies outside the file/],
    ["empty refcount table", 56, u32(0), /refcount table is empty/],
    ["huge refcount table", 56, u32(1 << 20), /refcount table is larger than 8 MiB/],
    ["refcount order 7", 96, u32(7), /refcount_order 7 is above 6/],
    ["too many snapshots", 60, u32(70000), /70000 snapshots is more than 65536/],
    ["backing name outside the cluster", 8, u64(4090), /backing file name does not lie inside the first cluster/],
    ["header length", 100, u32(13), /header_length 13 is invalid/],
    ["extension overrun", 112, [0, 0, 0, 9, 0xff, 0xff, 0, 0], /header extension 0x9 runs past the header area/],
  ];
  for (const [what, at, bytes, message] of cases) {
    const file = sample(dir, `${what.replace(/\W/g, "_")}.qcow2`);
    if (what === "backing name outside the cluster") patch(file, 16, u32(100));
    patch(file, at, bytes);
    refused(file, true, message);
  }
});

test("a corrupt-marked image opens read-only only; a dirty one must be repaired first", (t) => {
  const dir = scratchDir(t);
  const corrupt = sample(dir, "corrupt.qcow2");
  patch(corrupt, 72, u64(2));
  refused(corrupt, false, /marked corrupt; open it read-only/);
  openQcow2(corrupt, true).close();
  const dirty = sample(dir, "dirty.qcow2");
  patch(dirty, 72, u64(1));
  refused(dirty, false, /not closed cleanly/);
  openQcow2(dirty, true).close();
});

test("tables pointing at metadata or outside the file fail the I/O, never overwrite metadata", (t) => {
  const dir = scratchDir(t);
  const file = sample(dir);
  let image = openQcow2(file, false);
  const l1At = image.header.l1TableOffset;
  const l2At = image.l1.getUint32(4) & ~0x1ff;
  image.close();
  // L2 entry 0 → the L1 table itself, flagged COPIED (writable in place).
  patch(file, l2At, [0x80, 0, 0, 0, ...u32(l1At)]);
  const before = fs.readFileSync(file);
  image = openQcow2(file, false);
  const buf = new Uint8Array(4096).fill(0xee);
  assert.equal(image.writeAt(0, buf, 0, 4096), false);
  assert.match(image.lastError ?? "", /image is corrupt: guest data at 0x[0-9a-f]+ overlaps metadata; refusing to write/);
  image.close();
  assert.deepEqual(fs.readFileSync(file).subarray(l1At, l1At + 4096), before.subarray(l1At, l1At + 4096), "L1 table intact");
  // L1 entry → far past the end of the file.
  patch(file, l1At, u64(2 ** 44));
  image = openQcow2(file, false);
  assert.equal(image.readAt(0, buf, 0, 512), false);
  assert.match(image.lastError ?? "", /L2 table at 0x100000000000 is unaligned or outside the file/);
  assert.equal(image.writeAt(0, buf, 0, 512), false);
  image.close();
  assert.ok(fs.statSync(file).size < before.length + 2 ** 20, "the file did not grow toward the bogus offset");
});

test("a raw file probed without format= is raw; format=qcow2 on it is an error", (t) => {
  const dir = scratchDir(t);
  const raw = path.join(dir, "r.img");
  fs.writeFileSync(raw, pattern(8192, 3));
  const b = openImage(raw, { readOnly: true });
  assert.equal(b.size, 8192);
  b.close();
  assert.throws(() => openImage(raw, { readOnly: true, format: "qcow2" }), (e: Error) => e instanceof ImageError && /no qcow2 magic/.test(e.message));
  const tiny = path.join(dir, "tiny.qcow2");
  fs.writeFileSync(tiny, Uint8Array.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
  assert.throws(() => openImage(tiny, { readOnly: true }), /file is shorter than a qcow2 header/);
});

/** Opens, reads everything, writes a little, checks and closes; every failure must be an ImageError. */
function exercise(file: string, seed: number): void {
  const attempt = (op: () => void) => {
    try {
      op();
    } catch (e) {
      if (!(e instanceof ImageError)) throw new Error(`seed ${seed}: ${(e as Error).stack}`);
    }
  };
  let image: Qcow2Image | null = null;
  attempt(() => {
    image = openQcow2(file, false);
  });
  if (image === null) return;
  const img = image as Qcow2Image;
  const r = rng(seed);
  const buf = new Uint8Array(65536);
  for (let pos = 0; pos < Math.min(img.size, 4 * 2 ** 20); pos += 65536) attempt(() => img.read(pos, buf, 0, Math.min(65536, img.size - pos)));
  for (let i = 0; i < 8 && img.size > 0; i++) {
    const len = 1 + r(Math.min(img.size, 20000));
    const pos = r(img.size - len + 1);
    attempt(() => img.write(pos, buf, 0, len));
  }
  attempt(() => void checkImage(img));
  attempt(() => img.close());
}

test("fuzz: random damage to the header and tables never escapes as a crash or grows the file wildly", (t) => {
  const dir = scratchDir(t);
  const pristine = sample(dir, "pristine.qcow2");
  const backing = path.join(dir, "backing.raw");
  fs.writeFileSync(backing, pattern(65536, 4));
  const backingHash = crypto.createHash("sha256").update(fs.readFileSync(backing)).digest("hex");
  const original = fs.readFileSync(pristine);
  const image = openQcow2(pristine, true);
  const tables = [image.header.l1TableOffset, image.header.refcountTableOffset, image.header.snapshotsOffset, image.refcounts.blockOffsets()[0]];
  const l2 = image.l1.getUint32(4) & ~0x1ff;
  tables.push(l2);
  image.close();
  const victim = path.join(dir, "victim.qcow2");
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const bytes = Buffer.from(original);
    const damage = 1 + r(4);
    for (let d = 0; d < damage; d++) {
      // Half the time the header (and its extension area), else one 8-byte table entry.
      if (r(2) === 0) {
        const at = r(160);
        bytes[at] = r(4) === 0 ? 0xff : r(256);
      } else {
        const at = tables[r(tables.length)] + 8 * r(16);
        const kind = r(4);
        const entry = kind === 0 ? tables[r(tables.length)] : kind === 1 ? r(2 ** 31) * 512 : r(2 ** 31);
        bytes.writeUInt32BE(r(2) === 0 ? (0x8000_0000 | (r(256) << 16)) >>> 0 : r(4), at);
        bytes.writeUInt32BE(entry >>> 0, at + 4);
      }
    }
    if (seed % 10 === 0) {
      // A backing file name, sometimes pointing at the image itself.
      const name = Buffer.from(seed % 20 === 0 ? "victim.qcow2" : "backing.raw");
      bytes.writeUInt32BE(0, 8);
      bytes.writeUInt32BE(3000, 12);
      bytes.writeUInt32BE(name.length, 16);
      name.copy(bytes, 3000);
    }
    fs.writeFileSync(victim, bytes);
    exercise(victim, seed);
    assert.ok(fs.statSync(victim).size <= original.length + 16 * 2 ** 20, `seed ${seed}: image grew to ${fs.statSync(victim).size}`);
    fs.rmSync(`${victim}.lock`, { force: true });
  }
  assert.equal(crypto.createHash("sha256").update(fs.readFileSync(backing)).digest("hex"), backingHash, "the backing file was never written");
  assert.deepEqual(fs.readdirSync(dir).sort(), ["backing.raw", "pristine.qcow2", "victim.qcow2"], "no file was created beside the image");
});

test("snapshot tables claiming huge L1 tables are refused before anything walks them", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "many.qcow2");
  createQcow2(file, { size: 2 ** 20, clusterBits: 9 });
  const tableAt = 64 * 2 ** 20;
  const entry = (i: number) => {
    const e = new Uint8Array(48);
    const v = new DataView(e.buffer);
    v.setUint32(4, 512 * (1000 + i)); // l1_table_offset: distinct, aligned, inside the (sparse) file
    v.setUint32(8, 4 * 2 ** 20); // l1_size: 32 MiB of entries
    v.setUint16(12, 1);
    v.setUint16(14, 1);
    e[40] = 0x31;
    e[41] = 0x61 + i;
    return e;
  };
  for (let i = 0; i < 17; i++) patch(file, tableAt + 48 * i, entry(i));
  patch(file, 60, [...u32(17), ...u64(tableAt)]);
  refused(file, true, /snapshots' L1 tables add up to more than 512 MiB/);
});
