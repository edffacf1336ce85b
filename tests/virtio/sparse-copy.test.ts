import { after, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copySparse } from "../../src/backends/block/sparse-copy.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-sparse-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const MiB = 2 ** 20;

/** A 64 MiB image with data in three places and holes elsewhere (like a fresh ext4 image). */
function sparseImage(path: string): void {
  const fd = openSync(path, "w");
  for (const at of [0, 10 * MiB + 123, 40 * MiB]) writeSync(fd, Buffer.alloc(3 * 4096, at & 0xff | 1), 0, 3 * 4096, at);
  writeSync(fd, Buffer.alloc(1), 0, 1, 64 * MiB - 1); // size 64 MiB, last byte zero
  closeSync(fd);
}

test("copies byte for byte, allocating about what the source has allocated", () => {
  const src = join(tmp, "src.img");
  const dst = join(tmp, "dst.img");
  sparseImage(src);
  copySparse(src, dst);
  assert.ok(readFileSync(dst).equals(readFileSync(src)));
  const [from, to] = [statSync(src), statSync(dst)];
  assert.equal(to.size, 64 * MiB);
  assert.ok(from.blocks < (64 * MiB) / 512 / 10, `the source is sparse (${from.blocks} blocks)`);
  assert.ok(to.blocks <= from.blocks + 16, `copy ${to.blocks} blocks of 512 vs source ${from.blocks}`);
  assert.deepEqual(readdirSync(tmp).sort(), ["dst.img", "src.img"], "no temporary file left");
});

test("zeros written out in full are not copied: the copy is sparser than its source", () => {
  const src = join(tmp, "dense.img");
  const data = new Uint8Array(16 * MiB);
  data.fill(9, 5 * MiB, 5 * MiB + 4096);
  writeFileSync(src, data);
  const dst = join(tmp, "dense-copy.img");
  copySparse(src, dst);
  assert.ok(readFileSync(dst).equals(readFileSync(src)));
  assert.ok(statSync(src).blocks >= (16 * MiB) / 512);
  assert.ok(statSync(dst).blocks <= 64, `copy allocates ${statSync(dst).blocks} blocks of 512`);
});

test("a failed copy leaves nothing behind", () => {
  const dst = join(tmp, "never.img");
  assert.throws(() => copySparse(join(tmp, "missing.img"), dst), /ENOENT/);
  assert.equal(existsSync(dst), false);
});
