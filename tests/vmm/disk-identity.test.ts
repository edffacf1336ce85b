/** virtio-blk in snapshots: the disk's identity is checked, a backend's own state (an overlay) travels with it. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBlockBackend } from "../../src/backends/block/memory.ts";
import { RawFileBackend } from "../../src/backends/block/raw-file.ts";
import { VirtioBlk } from "../../src/devices/virtio/blk.ts";

const dir = mkdtempSync(join(tmpdir(), "tv-disk-id-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A disk with state beyond its bytes, as a snapshot=on overlay has. */
class StatefulDisk extends MemoryBlockBackend {
  restored: unknown = null;
  save(): unknown {
    return { written: [1, 2, 3] };
  }
  restore(state: unknown): void {
    this.restored = state;
  }
}

test("a disk file's path, size and read-only flag are its identity", () => {
  const a = join(dir, "a.img");
  writeFileSync(a, new Uint8Array(4096));
  const state = new VirtioBlk({ backend: RawFileBackend.open(a) }).save();
  assert.equal(new VirtioBlk({ backend: RawFileBackend.open(a) }).mismatch(state), null);
  assert.match(new VirtioBlk({ backend: RawFileBackend.open(a, { readOnly: true }) }).mismatch(state) ?? "", /was writable/);
  assert.match(new VirtioBlk({ backend: new MemoryBlockBackend(4096) }).mismatch(state) ?? "", /belongs to disk .*a\.img, not an in-memory disk/);
  assert.throws(() => new VirtioBlk({ backend: new MemoryBlockBackend(4096) }).restore(state), /belongs to disk/);
});

test("a backend's own state is saved and restored with the device, and only onto a disk that takes it", () => {
  const state = new VirtioBlk({ backend: new StatefulDisk(4096) }).save();
  const target = new StatefulDisk(4096);
  new VirtioBlk({ backend: target }).restore(state);
  assert.deepEqual(target.restored, { written: [1, 2, 3] });
  assert.match(new VirtioBlk({ backend: new MemoryBlockBackend(4096) }).mismatch(state) ?? "", /only a snapshot=on disk can take back/);
  const plain = new VirtioBlk({ backend: new MemoryBlockBackend(4096) }).save();
  assert.match(new VirtioBlk({ backend: new StatefulDisk(4096) }).mismatch(plain) ?? "", /holds no overlay/);
});
