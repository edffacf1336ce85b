/**
 * Asynchronous virtio-blk with real Linux (the default guest, second disk
 * /dev/vdb): a guest job keeps counting (a timer-driven loop) while a read
 * is held on the host, and the read completes (by interrupt) once the host
 * lets it go;
 * parallel guest readers put several requests in flight at once and read
 * the right bytes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BlockBackend } from "../../src/backends/block/block-backend.ts";
import type { BlockDone, BlockIo } from "../../src/backends/block/block-io.ts";
import { RawFileBackend } from "../../src/backends/block/raw-file.ts";
import { LinuxGuest, guestFiles } from "../vmm/linux-guest.ts";
import { pattern, scratchDir } from "./helpers.ts";

const DISK = 8 * 2 ** 20;
/** Reads touching this 4 KiB block wait until the test opens the gate. */
const GATED_BLOCK = 1500;

/** A raw file whose reads of GATED_BLOCK are held, and every read is slowed a little; counts requests in flight. */
class GatedDisk implements BlockBackend {
  inFlight = 0;
  maxInFlight = 0;
  held: (() => void)[] = [];
  gate = true;
  pending: NodeJS.Timeout | null = null;
  /** Opens the gate: held reads go to the file. */
  release(): void {
    this.gate = false;
    if (this.pending !== null) clearInterval(this.pending);
    for (const go of this.held.splice(0)) go();
  }
  constructor(readonly inner: RawFileBackend) {}
  get size() {
    return this.inner.size;
  }
  get readOnly() {
    return this.inner.readOnly;
  }
  submit(io: BlockIo, done: BlockDone): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const go = () =>
      this.inner.submit(io, (ok) => {
        this.inFlight--;
        done(ok);
      });
    const gated = io.op === "read" && io.position < (GATED_BLOCK + 1) * 4096 && io.position + io.length > GATED_BLOCK * 4096;
    if (gated && this.gate) {
      this.held.push(go);
      // A real slow disk has an operation pending in the event loop; so does this one while it holds.
      this.pending ??= setInterval(() => {}, 1000);
    }
    else if (io.op === "read") setTimeout(go, 5); // slow enough that parallel readers overlap
    else go();
  }
  readAt = (p: number, d: Uint8Array, o: number, l: number) => this.inner.readAt(p, d, o, l);
  writeAt = (p: number, s: Uint8Array, o: number, l: number) => this.inner.writeAt(p, s, o, l);
  flush = () => this.inner.flush();
  close = () => this.inner.close();
}

test("Linux: the guest keeps running while a read is held on the host; parallel readers keep several requests in flight", async (t) => {
  const dir = scratchDir(t);
  const data = pattern(DISK, 42);
  const file = path.join(dir, "vdb.raw");
  fs.writeFileSync(file, data);
  const disk = new GatedDisk(RawFileBackend.open(file, { readOnly: true }));
  const files = await guestFiles(dir);
  const guest = new LinuxGuest(files, { disks: [disk] }).start();
  try {
    await guest.booted(files.readyMarker);
    // A job that keeps counting (on a timer: a CPU-bound loop can starve the shell, see docs/storage.md).
    await guest.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done) & echo counting");
    await guest.run(
      `(dd if=/dev/vdb of=/tmp/block bs=4096 count=1 skip=${GATED_BLOCK} iflag=direct 2>/dev/null; echo $? > /tmp/dd.done) & echo started`,
    );
    while (disk.held.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    // The counter rewrites the file: read until it holds a number.
    const count = async () => {
      for (;;) {
        const n = (await guest.run("cat /tmp/count")).trim();
        if (n !== "") return Number(n);
      }
    };
    const first = await count();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = await count();
    assert.ok(second > first, `the guest counted on while its read was held (${first} then ${second})`);
    assert.equal(disk.held.length, 1, "the read is still held");
    assert.equal((await guest.run("cat /tmp/dd.done 2>/dev/null || echo waiting")).trim(), "waiting", "dd is still waiting");

    disk.release();
    assert.equal((await guest.run("while [ ! -e /tmp/dd.done ]; do sleep 0.1; done; cat /tmp/dd.done")).trim(), "0", "dd succeeded");
    const want = crypto.createHash("md5").update(data.subarray(GATED_BLOCK * 4096, (GATED_BLOCK + 1) * 4096)).digest("hex");
    assert.match(await guest.run("md5sum /tmp/block"), new RegExp(want), "the held read completed with the right data");

    disk.maxInFlight = 0;
    const sums = await guest.run(
      // `wait` for these readers only: the counter job never ends.
      "p=''; for k in 0 1 2 3 4 5 6 7; do (dd if=/dev/vdb bs=65536 count=8 skip=$((k*8)) iflag=direct 2>/dev/null | md5sum > /tmp/sum$k) & p=\"$p $!\"; done; wait $p; cat /tmp/sum0 /tmp/sum1 /tmp/sum2 /tmp/sum3 /tmp/sum4 /tmp/sum5 /tmp/sum6 /tmp/sum7",
    );
    for (let k = 0; k < 8; k++) {
      const h = crypto.createHash("md5").update(data.subarray(k * 8 * 65536, (k + 1) * 8 * 65536)).digest("hex");
      assert.match(sums, new RegExp(h), `reader ${k} got its bytes`);
    }
    assert.ok(disk.maxInFlight >= 2, `several requests were in flight at once (at most ${disk.maxInFlight})`);
  } finally {
    disk.release();
    await guest.stop();
  }
});
