/**
 * virtio-blk DISCARD and WRITE_ZEROES on image backends, through the mock
 * driver: features offered only when the drive can honour them, ranges read
 * as zeros afterwards, qcow2 clusters freed only with discard=unmap.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BlockBackend } from "../../src/backends/block/block-backend.ts";
import { openDrive, parseDriveSpec } from "../../src/backends/block/drive-spec.ts";
import { qcow2Of } from "../../src/backends/block/open-image.ts";
import { checkImage } from "../../src/backends/block/qcow2/check.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import {
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlk,
} from "../../src/devices/virtio/blk.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory, type Buf } from "../virtio/mock-driver.ts";
import { pattern, scratchDir } from "./helpers.ts";

function rig(backend: BlockBackend) {
  const mem = new TestMemory(1 << 20);
  const blk = new VirtioBlk({ backend, queueSize: 16 });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: new MockIrq(), mem: mem.bus, device: blk });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  assert.equal(drv.init(1, {}), true);
  const submit = (type: number, sector: number, out: Buf[] = [], inn: Buf[] = []) => {
    const h = new Uint8Array(16);
    new DataView(h.buffer).setUint32(0, type, true);
    new DataView(h.buffer).setUint32(8, sector, true);
    const status = drv.alloc.space(1, 0xff);
    drv.queues[0].add([drv.alloc.data(h), ...out], [...inn, status]);
    drv.kick(0);
    assert.equal(drv.queues[0].takeUsed().length, 1);
    return mem.read(status.addr, 1)[0];
  };
  const segment = (sector: number, count: number, flags: number) => {
    const s = new Uint8Array(16);
    const v = new DataView(s.buffer);
    v.setUint32(0, sector, true);
    v.setUint32(8, count, true);
    v.setUint32(12, flags, true);
    return drv.alloc.data(s);
  };
  const offered = (bit: number) => ((drv.offered >> BigInt(bit)) & 1n) === 1n;
  return { mem, drv, submit, segment, offered };
}

test("qcow2 with discard=unmap: DISCARD frees clusters, WRITE_ZEROES zeroes; both read back as zeros", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "d.qcow2");
  createQcow2(file, { size: 2 ** 20, clusterBits: 12 });
  const backend = openDrive(parseDriveSpec(`file=${file},discard=unmap`));
  const r = rig(backend);
  assert.ok(r.offered(VIRTIO_BLK_F_DISCARD) && r.offered(VIRTIO_BLK_F_WRITE_ZEROES));
  assert.equal(r.drv.config(56, 1), 1, "write_zeroes_may_unmap");
  const data = pattern(65536, 1);
  assert.equal(r.submit(VIRTIO_BLK_T_OUT, 0, [r.drv.alloc.data(data)]), VIRTIO_BLK_S_OK);
  const image = qcow2Of(backend)!;
  const allocated = () => checkImage(image).allocatedClusters;
  assert.equal(allocated(), 16);
  assert.equal(r.submit(VIRTIO_BLK_T_DISCARD, 0, [r.segment(8, 16, 0)]), VIRTIO_BLK_S_OK); // 4..12 KiB
  assert.equal(allocated(), 14, "two whole 4 KiB clusters freed");
  assert.equal(r.submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, [r.segment(40, 24, 0)]), VIRTIO_BLK_S_OK); // keep allocation
  assert.equal(allocated(), 11, "zeroed clusters stay allocated but no longer count as data");
  assert.equal(r.submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, [r.segment(100, 3, 1)]), VIRTIO_BLK_S_OK); // partial, unmap
  const back = r.drv.alloc.space(65536);
  assert.equal(r.submit(VIRTIO_BLK_T_IN, 0, [], [back]), VIRTIO_BLK_S_OK);
  const expect = data.slice();
  expect.fill(0, 4096, 12288);
  expect.fill(0, 40 * 512, 64 * 512);
  expect.fill(0, 100 * 512, 103 * 512);
  assert.deepEqual(r.mem.read(back.addr, 65536), expect);
  // Bad requests: reserved flags, two segments, past the end.
  assert.equal(r.submit(VIRTIO_BLK_T_DISCARD, 0, [r.segment(0, 8, 1)]), VIRTIO_BLK_S_UNSUPP);
  assert.equal(r.submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, [r.segment(0, 8, 2)]), VIRTIO_BLK_S_UNSUPP);
  assert.equal(r.submit(VIRTIO_BLK_T_DISCARD, 0, [r.segment(0, 8, 0), r.segment(16, 8, 0)]), VIRTIO_BLK_S_UNSUPP);
  assert.equal(r.submit(VIRTIO_BLK_T_DISCARD, 0, [r.segment(2040, 16, 0)]), VIRTIO_BLK_S_IOERR);
  const c = checkImage(image);
  assert.deepEqual(c.messages, []);
  backend.close();
});

test("without discard=unmap DISCARD is not offered and WRITE_ZEROES never frees; raw and read-only drives", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "d.qcow2");
  createQcow2(file, { size: 2 ** 20, clusterBits: 12 });
  const q = openDrive(parseDriveSpec(`file=${file}`));
  let r = rig(q);
  assert.ok(!r.offered(VIRTIO_BLK_F_DISCARD) && r.offered(VIRTIO_BLK_F_WRITE_ZEROES));
  assert.equal(r.drv.config(56, 1), 0);
  assert.equal(r.submit(VIRTIO_BLK_T_OUT, 0, [r.drv.alloc.data(pattern(8192, 2))]), VIRTIO_BLK_S_OK);
  assert.equal(r.submit(VIRTIO_BLK_T_DISCARD, 0, [r.segment(0, 16, 0)]), VIRTIO_BLK_S_UNSUPP);
  assert.equal(r.submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, [r.segment(0, 16, 1)]), VIRTIO_BLK_S_OK);
  assert.equal(qcow2Of(q)!.clusterInfo(0).host !== 0, true, "unmap ignored: the cluster keeps its allocation");
  q.close();
  const raw = path.join(dir, "r.img");
  fs.writeFileSync(raw, pattern(65536, 3));
  const rb = openDrive(parseDriveSpec(`file=${raw},discard=unmap`));
  r = rig(rb);
  assert.ok(!r.offered(VIRTIO_BLK_F_DISCARD), "raw files cannot free space without fallocate");
  assert.equal(r.submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, [r.segment(1, 2, 0)]), VIRTIO_BLK_S_OK);
  rb.close();
  const bytes = fs.readFileSync(raw);
  const expect = pattern(65536, 3);
  expect.fill(0, 512, 1536);
  assert.deepEqual(new Uint8Array(bytes), expect, "sectors 1-2 zeroed, the rest untouched");
  const ro = openDrive(parseDriveSpec(`file=${file},readonly=on,discard=unmap`));
  r = rig(ro);
  assert.ok(!r.offered(VIRTIO_BLK_F_DISCARD) && !r.offered(VIRTIO_BLK_F_WRITE_ZEROES));
  ro.close();
  assert.throws(() => parseDriveSpec("file=x,discard=maybe"), /discard=maybe must be unmap or ignore/);
});

test("cache=: unsafe makes FLUSH a no-op, writethrough flushes every write, none is refused with the reason", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "d.qcow2");
  createQcow2(file, { size: 2 ** 20, clusterBits: 12 });
  const syncs = (spec: string, op: (b: BlockBackend) => void) => {
    const b = openDrive(parseDriveSpec(`file=${file},${spec}`));
    const image = qcow2Of(b)!;
    let n = 0;
    const sync = image.file.sync.bind(image.file);
    image.file.sync = () => {
      n++;
      sync();
    };
    op(b);
    b.close();
    return n;
  };
  const writeAndFlush = (b: BlockBackend) => {
    assert.ok(b.writeAt(0, pattern(4096, 1), 0, 4096));
    assert.ok(b.writeAt(8192, pattern(4096, 2), 0, 4096));
    assert.ok(b.flush());
  };
  assert.equal(syncs("cache=writeback", writeAndFlush), 2, "the guest's flush, and close");
  assert.equal(syncs("cache=unsafe", writeAndFlush), 1, "close only");
  assert.equal(syncs("cache=writethrough", writeAndFlush), 4, "each write, the flush, and close");
  assert.throws(() => parseDriveSpec(`file=${file},cache=none`), /cache=none \(O_DIRECT\) is not supported: .*same durability promise/);
  assert.throws(() => parseDriveSpec(`file=${file},cache=fast`), /cache=fast must be one of writeback, writethrough, unsafe/);
});
