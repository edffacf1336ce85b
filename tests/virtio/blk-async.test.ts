/**
 * virtio-blk's asynchronous requests through the mock driver, with a
 * backend that holds every request until the test lets it finish: several
 * requests in flight, completion in any order by interrupt, the ordering
 * of overlapping requests and flushes, reset and drain while requests are
 * in flight, and a hostile driver that only breaks its own device.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BlockBackend } from "../../src/backends/block/block-backend.ts";
import { submitSync, type BlockDone, type BlockIo } from "../../src/backends/block/block-io.ts";
import { MemoryBlockBackend } from "../../src/backends/block/memory.ts";
import { STATUS_DEVICE_NEEDS_RESET } from "../../src/devices/virtio/constants.ts";
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VirtioBlk,
} from "../../src/devices/virtio/blk.ts";
import { MmioTransport, REG_STATUS } from "../../src/devices/virtio/mmio-transport.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory, type Buf } from "./mock-driver.ts";

/** A disk in memory whose requests wait in `held` until `finish` runs them. */
class HeldBackend implements BlockBackend {
  readonly disk = new MemoryBlockBackend(1024 * 512);
  readonly held: { io: BlockIo; done: BlockDone }[] = [];
  readonly size = this.disk.size;
  readonly readOnly = false;
  submit(io: BlockIo, done: BlockDone): void {
    this.held.push({ io: { ...io, buffers: [...io.buffers] }, done });
  }
  /** Runs the held request that matches, on the memory disk. */
  finish(match: (io: BlockIo) => boolean): void {
    const i = this.held.findIndex((h) => match(h.io));
    assert.ok(i >= 0, "the request is held by the backend");
    const [h] = this.held.splice(i, 1);
    submitSync(this.disk, h.io, h.done);
  }
  ops(): string[] {
    return this.held.map((h) => `${h.io.op}@${h.io.position / 512}`);
  }
  readAt = (p: number, d: Uint8Array, o: number, l: number) => this.disk.readAt(p, d, o, l);
  writeAt = (p: number, s: Uint8Array, o: number, l: number) => this.disk.writeAt(p, s, o, l);
  flush = () => this.disk.flush();
  close(): void {}
}

function rig() {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const backend = new HeldBackend();
  const blk = new VirtioBlk({ backend, queueSize: 16 });
  let ioReady = 0;
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: blk, onIoReady: () => ioReady++ });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  assert.equal(drv.init(1, {}), true);
  const q = drv.queues[0];
  /** Makes a request available and kicks; returns its head and status buffer. */
  const request = (type: number, sector: number, data: { out?: Buf[]; in?: Buf[] } = {}) => {
    const h = new Uint8Array(16);
    new DataView(h.buffer).setUint32(0, type, true);
    new DataView(h.buffer).setUint32(8, sector, true);
    const status = drv.alloc.space(1, 0xff);
    const head = drv.queues[0].add([drv.alloc.data(h), ...(data.out ?? [])], [...(data.in ?? []), status]);
    drv.kick(0);
    return { head, status };
  };
  return { mem, irq, backend, blk, t, drv, q, request, ioReadyCount: () => ioReady };
}

const fill = (len: number, v: number) => new Uint8Array(len).fill(v);

test("several requests are in flight at once and complete in the order the host finishes them, by interrupt", () => {
  const r = rig();
  r.backend.disk.writeAt(10 * 512, fill(512, 0xaa), 0, 512);
  r.backend.disk.writeAt(20 * 512, fill(512, 0xbb), 0, 512);
  const bufs = [r.drv.alloc.space(512), r.drv.alloc.space(512), r.drv.alloc.space(512)];
  const a = r.request(VIRTIO_BLK_T_IN, 10, { in: [bufs[0]] });
  const b = r.request(VIRTIO_BLK_T_IN, 20, { in: [bufs[1]] });
  const c = r.request(VIRTIO_BLK_T_IN, 30, { in: [bufs[2]] });
  assert.deepEqual(r.backend.ops(), ["read@10", "read@20", "read@30"], "all three went to the host at once");
  assert.equal(r.q.takeUsed().length, 0, "nothing completed yet");
  assert.equal(r.irq.level(8), false, "no interrupt before a completion");
  assert.equal(r.blk.inFlight, 3);

  r.backend.finish((io) => io.position === 20 * 512);
  assert.equal(r.ioReadyCount(), 1, "the machine was told");
  assert.equal(r.q.takeUsed().length, 0, "completion waits for the run loop");
  r.blk.completeIo();
  assert.deepEqual(r.q.takeUsed().map((u) => u.id), [b.head], "the second request completed first");
  assert.equal(r.mem.read(b.status.addr, 1)[0], VIRTIO_BLK_S_OK);
  assert.deepEqual(r.mem.read(bufs[1].addr, 512), fill(512, 0xbb));
  assert.equal(r.irq.level(8), true, "used-buffer interrupt");

  r.backend.finish((io) => io.position === 30 * 512);
  r.backend.finish((io) => io.position === 10 * 512);
  r.blk.completeIo();
  assert.deepEqual(r.q.takeUsed().map((u) => u.id).sort(), [a.head, c.head].sort(), "both in one batch");
  assert.deepEqual(r.mem.read(bufs[0].addr, 512), fill(512, 0xaa));
  assert.equal(r.blk.inFlight, 0);
});

test("a request overlapping an in-flight write waits for it; a FLUSH waits for earlier writes only", () => {
  const r = rig();
  const w = r.request(VIRTIO_BLK_T_OUT, 0, { out: [r.drv.alloc.data(fill(4096, 0x11))] });
  const into = r.drv.alloc.space(512);
  const overlapping = r.request(VIRTIO_BLK_T_IN, 4, { in: [into] });
  r.request(VIRTIO_BLK_T_IN, 100, { in: [r.drv.alloc.space(512)] });
  const flush = r.request(VIRTIO_BLK_T_FLUSH, 0);
  r.request(VIRTIO_BLK_T_OUT, 200, { out: [r.drv.alloc.data(fill(512, 0x22))] });
  assert.deepEqual(r.backend.ops(), ["write@0", "read@100", "write@200"], "the overlapping read and the flush are held");

  r.backend.finish((io) => io.position === 200 * 512);
  assert.deepEqual(r.backend.ops(), ["write@0", "read@100"], "the flush still waits for the first write");
  r.backend.finish((io) => io.op === "write");
  assert.deepEqual(r.backend.ops(), ["read@100", "read@4", "flush@0"], "both started once the write finished");
  const flushesBefore = r.backend.disk.flushes;
  r.backend.finish((io) => io.op === "flush");
  assert.equal(r.backend.disk.flushes, flushesBefore + 1);
  r.backend.finish((io) => io.position === 4 * 512);
  r.blk.completeIo();
  const used = r.q.takeUsed().map((u) => u.id);
  assert.ok(used.includes(w.head) && used.includes(overlapping.head) && used.includes(flush.head));
  assert.deepEqual(r.mem.read(into.addr, 512), fill(512, 0x11), "the read saw the write before it");
});

test("drainIo resolves only once every request finished and reached the used ring; save refuses before", async () => {
  const r = rig();
  r.request(VIRTIO_BLK_T_IN, 1, { in: [r.drv.alloc.space(512)] });
  r.request(VIRTIO_BLK_T_OUT, 1, { out: [r.drv.alloc.data(fill(512, 3))] }); // held behind the read
  assert.throws(() => r.blk.save(), /in flight/);
  let drained = false;
  const drain = r.blk.drainIo().then(() => (drained = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, false);
  r.backend.finish(() => true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, false, "the write started after the read and is still held");
  r.backend.finish(() => true);
  await drain;
  assert.equal(r.q.takeUsed().length, 2, "both completed to the driver by the drain");
  assert.equal(r.blk.inFlight, 0);
  r.blk.save();
});

test("a device reset drops the completions of requests still on the host", async () => {
  const r = rig();
  r.request(VIRTIO_BLK_T_IN, 1, { in: [r.drv.alloc.space(512)] });
  r.request(VIRTIO_BLK_T_OUT, 1, { out: [r.drv.alloc.data(fill(512, 3))] });
  r.t.write(REG_STATUS, 4, 0);
  r.drv.queues.length = 0; // the mock driver sets up fresh queues
  assert.equal(r.drv.init(1, {}), true);
  const drain = r.blk.drainIo();
  r.backend.finish(() => true);
  await drain;
  assert.deepEqual(r.backend.ops(), [], "the held write was dropped with the reset");
  assert.equal(r.drv.queues[0].takeUsed().length, 0, "nothing from before the reset reaches the new queue");
  const buf = r.drv.alloc.space(512);
  r.request(VIRTIO_BLK_T_IN, 2, { in: [buf] });
  r.backend.finish(() => true);
  r.blk.completeIo();
  assert.equal(r.drv.queues[0].takeUsed().length, 1, "the device works after the reset");
});

test("a hostile driver: out-of-range and malformed requests fail or reset this device only, and never reach the host", () => {
  const r = rig();
  const bad = [
    r.request(VIRTIO_BLK_T_IN, 0xffff_ffff, { in: [r.drv.alloc.space(512)] }),
    r.request(VIRTIO_BLK_T_OUT, 1023, { out: [r.drv.alloc.data(fill(1024, 1))] }),
    r.request(VIRTIO_BLK_T_IN, 0, { in: [r.drv.alloc.space(100)] }),
  ];
  assert.deepEqual(r.backend.ops(), [], "nothing went to the host");
  const used = r.q.takeUsed();
  assert.equal(used.length, 3);
  for (const b of bad) assert.equal(r.mem.read(b.status.addr, 1)[0], VIRTIO_BLK_S_IOERR);
  // A chain with a header but no writable status byte: the device stops, only it.
  const h = new Uint8Array(16);
  r.q.add([r.drv.alloc.data(h)], []);
  r.drv.kick(0);
  assert.notEqual(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.match(r.t.brokenReason ?? "", /without a header or a status byte/);
});
