/**
 * The virtio-blk request parser and the request ordering, alone: a seeded
 * fuzz of chain shapes and header bytes (every parsed request stays inside
 * its chain and its disk), and a seeded fuzz of request sequences finished
 * in random order (no two conflicting requests ever run together, a flush
 * never runs before an earlier write finished, and everything runs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mustFollow, RequestOrder } from "../../src/devices/virtio/blk-order.ts";
import {
  BlkRequest,
  HEADER_SIZE,
  SECTOR_SIZE,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  parseBlkRequest,
  type BlkDisk,
} from "../../src/devices/virtio/blk-request.ts";
import { DescriptorChain } from "../../src/devices/virtio/virtqueue.ts";
import { TestMemory } from "./mock-driver.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1103515245 + 12345) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

const TYPES = [VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, 8, 11, VIRTIO_BLK_T_WRITE_ZEROES, 7, 0xffffffff];

test("parser fuzz: 20000 random chains parse inside their segments and the disk, or are refused", () => {
  const mem = new TestMemory(1 << 20);
  const chain = new DescriptorChain(mem.bus, 64);
  const disk: BlkDisk = { capacity: 4096, readOnly: false, canDiscard: true, canWriteZeroes: true };
  const req = new BlkRequest();
  const r = rng(10);
  for (let iter = 0; iter < 20000; iter++) {
    const count = 1 + r(6);
    chain.head = r(256);
    chain.count = count;
    chain.readable = r(count + 1);
    chain.readableBytes = 0;
    chain.writableBytes = 0;
    for (let i = 0; i < count; i++) {
      const len = [0, 1, 15, 16, 17, 512, 513, 4096, 32][r(9)];
      chain.offset[i] = r((1 << 20) - len + 1);
      chain.length[i] = len;
      if (i < chain.readable) chain.readableBytes += len;
      else chain.writableBytes += len;
    }
    // Random header bytes, often a valid type and a small sector.
    const hdr = new Uint8Array(HEADER_SIZE + 16);
    for (let i = 0; i < hdr.length; i++) hdr[i] = r(256);
    const v = new DataView(hdr.buffer);
    if (r(4) > 0) v.setUint32(0, TYPES[r(TYPES.length)], true);
    if (r(2) > 0) v.setUint32(8, r(5000), true), v.setUint32(12, 0, true);
    if (r(2) > 0) v.setUint32(24, r(8), true), v.setUint32(28, r(2), true);
    let at = 0;
    for (let i = 0; i < chain.readable && at < hdr.length; i++) {
      const n = Math.min(chain.length[i], hdr.length - at);
      mem.ram.set(hdr.subarray(at, at + n), chain.offset[i]);
      at += n;
    }
    const ok = parseBlkRequest(chain, disk, req);
    assert.equal(ok, chain.readableBytes >= HEADER_SIZE && chain.writableBytes >= 1, `iteration ${iter}: refused exactly the non-requests`);
    if (!ok) continue;
    const last = [...Array(count).keys()].filter((i) => i >= chain.readable && chain.length[i] > 0).pop()!;
    assert.equal(req.statusAt, chain.offset[last] + chain.length[last] - 1, "status byte is the last writable byte");
    if (req.status !== VIRTIO_BLK_S_OK) continue;
    if (req.type === VIRTIO_BLK_T_IN || req.type === VIRTIO_BLK_T_OUT) {
      assert.equal(req.length % SECTOR_SIZE, 0);
      assert.ok(req.position + req.length <= disk.capacity * SECTOR_SIZE, "inside the disk");
      let total = 0;
      for (let k = 0; k < req.runs; k++) {
        total += req.runLength[k];
        // Every byte of a run lies in one of the chain's segments (runs merge adjacent segments).
        let p = req.runOffset[k];
        const end = p + req.runLength[k];
        while (p < end) {
          const seg = [...Array(count).keys()].find((i) => p >= chain.offset[i] && p < chain.offset[i] + chain.length[i]);
          assert.ok(seg !== undefined, `iteration ${iter}: run byte ${p} is in no segment`);
          p = chain.offset[seg] + chain.length[seg];
        }
        assert.ok(req.runOffset[k] + req.runLength[k] <= 1 << 20, "inside RAM");
        if (req.type === VIRTIO_BLK_T_IN) assert.ok(req.runOffset[k] + req.runLength[k] - 1 !== req.statusAt || req.runLength[k] === 0, "reads never cover the status byte");
      }
      assert.equal(total, req.length, "runs cover exactly the data");
    } else if (req.type === 11 || req.type === VIRTIO_BLK_T_WRITE_ZEROES) {
      assert.ok(req.position + req.length <= disk.capacity * SECTOR_SIZE);
    }
  }
});

test("parser: a read-only disk fails writes, and discard is unsupported where the backend cannot", () => {
  const mem = new TestMemory(1 << 16);
  const chain = new DescriptorChain(mem.bus, 4);
  Object.assign(chain, { head: 0, count: 3, readable: 2, readableBytes: 16 + 512, writableBytes: 1 });
  chain.offset.set([0, 1024, 4096]);
  chain.length.set([16, 512, 1]);
  mem.ram[0] = VIRTIO_BLK_T_OUT;
  const req = new BlkRequest();
  assert.ok(parseBlkRequest(chain, { capacity: 100, readOnly: true, canDiscard: false, canWriteZeroes: false }, req));
  assert.equal(req.status, 1, "IOERR");
  assert.ok(parseBlkRequest(chain, { capacity: 100, readOnly: false, canDiscard: false, canWriteZeroes: false }, req));
  assert.equal(req.status, VIRTIO_BLK_S_OK);
  assert.deepEqual([req.runs, req.runOffset[0], req.runLength[0], req.position, req.length], [1, 1024, 512, 0, 512]);
  mem.ram[0] = 11; // DISCARD
  chain.length.set([16, 16, 1]);
  chain.readableBytes = 32;
  assert.ok(parseBlkRequest(chain, { capacity: 100, readOnly: false, canDiscard: false, canWriteZeroes: false }, req));
  assert.equal(req.status, 2, "UNSUPP");
});

test("ordering fuzz: conflicting requests never run together, flushes follow earlier writes, everything runs", () => {
  const r = rng(99);
  for (let round = 0; round < 300; round++) {
    const order = new RequestOrder();
    const all: BlkRequest[] = [];
    const running = new Set<BlkRequest>();
    const finished = new Set<BlkRequest>();
    const check = (x: BlkRequest) => {
      for (const y of running) {
        if (y === x) continue;
        const [earlier, later] = y.seq < x.seq ? [y, x] : [x, y];
        assert.ok(!mustFollow(later, earlier), `round ${round}: ${later.seq} runs beside ${earlier.seq}`);
      }
      for (const e of all) if (e.seq < x.seq && !finished.has(e)) assert.ok(!mustFollow(x, e), `round ${round}: ${x.seq} started before ${e.seq} finished`);
      running.add(x);
    };
    const n = 5 + r(30);
    for (let i = 0; i < n; i++) {
      const q = new BlkRequest();
      q.seq = i;
      q.type = [VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_WRITE_ZEROES][r(4)];
      q.position = r(16) * 512;
      q.length = q.type === VIRTIO_BLK_T_FLUSH ? 0 : (1 + r(4)) * 512;
      all.push(q);
      if (order.admit(q)) check(q);
      // Sometimes finish a random running request before the next arrives.
      while (running.size > 0 && r(3) === 0) {
        const done = [...running][r(running.size)];
        running.delete(done);
        finished.add(done);
        for (const s of order.finish(done)) check(s);
      }
    }
    while (running.size > 0) {
      const done = [...running][r(running.size)];
      running.delete(done);
      finished.add(done);
      for (const s of order.finish(done)) check(s);
    }
    assert.equal(finished.size, n, `round ${round}: every request ran`);
    assert.equal(order.waiting + order.inFlight, 0);
  }
});
