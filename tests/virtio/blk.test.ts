import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BadSectorsBackend } from "../../src/backends/block/bad-sectors.ts";
import type { BlockBackend } from "../../src/backends/block/block-backend.ts";
import { MemoryBlockBackend } from "../../src/backends/block/memory.ts";
import { RawFileBackend } from "../../src/backends/block/raw-file.ts";
import { STATUS_DEVICE_NEEDS_RESET, VIRTIO_F_VERSION_1, feature } from "../../src/devices/virtio/constants.ts";
import {
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VirtioBlk,
} from "../../src/devices/virtio/blk.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory, type Buf } from "./mock-driver.ts";

function setup(backend: BlockBackend, opts: { serial?: string; accept?: bigint } = {}) {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const blk = new VirtioBlk({ backend, serial: opts.serial, queueSize: 16 });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: blk });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  assert.equal(drv.init(1, { accept: opts.accept }), true);
  return { mem, irq, blk, t, drv, q: drv.queues[0] };
}

type Rig = ReturnType<typeof setup>;

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setUint32(8, sector % 0x1_0000_0000, true);
  v.setUint32(12, Math.floor(sector / 0x1_0000_0000), true);
  return h;
}

/**
 * Submits one request the way Linux's virtio_blk does (header, data, status
 * in separate descriptors) and returns the status byte and used length.
 */
function submit(
  r: Rig,
  type: number,
  sector: number,
  data: { out?: Buf[]; in?: Buf[] } = {},
  opts: { indirect?: boolean } = {},
): { status: number; len: number } {
  const hdr = r.drv.alloc.data(header(type, sector));
  const status = r.drv.alloc.space(1, 0xff);
  r.q.add([hdr, ...(data.out ?? [])], [...(data.in ?? []), status], opts);
  r.drv.kick(0);
  const used = r.q.takeUsed();
  assert.equal(used.length, 1, "one request completed");
  return { status: r.mem.read(status.addr, 1)[0], len: used[0].len };
}

/** As `submit`, for a backend that finishes later (a host file): waits for the device to drain. */
async function submitAsync(r: Rig, type: number, sector: number, data: { out?: Buf[]; in?: Buf[] } = {}): Promise<{ status: number; len: number }> {
  const hdr = r.drv.alloc.data(header(type, sector));
  const status = r.drv.alloc.space(1, 0xff);
  r.q.add([hdr, ...(data.out ?? [])], [...(data.in ?? []), status]);
  r.drv.kick(0);
  await r.blk.drainIo();
  const used = r.q.takeUsed();
  assert.equal(used.length, 1, "one request completed");
  return { status: r.mem.read(status.addr, 1)[0], len: used[0].len };
}

function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
}

test("config space reports capacity, size_max, seg_max and block size", () => {
  const { drv } = setup(new MemoryBlockBackend(64 * 512 + 100));
  assert.equal(drv.config(0, 4), 64, "capacity rounds down to whole sectors");
  assert.equal(drv.config(4, 4), 0);
  assert.equal(drv.config(8, 4), 1 << 20);
  assert.equal(drv.config(12, 4), 14, "seg_max is queue size - 2");
  assert.equal(drv.config(20, 4), 512);
  assert.equal((drv.offered >> BigInt(VIRTIO_BLK_F_FLUSH)) & 1n, 1n);
  assert.equal((drv.offered >> BigInt(VIRTIO_BLK_F_RO)) & 1n, 0n);
  class HugeBackend extends MemoryBlockBackend {
    override get size(): number {
      return 2 ** 41;
    }
  }
  const big = new VirtioBlk({ backend: new HugeBackend(0) });
  const view = new DataView(big.config.buffer);
  assert.equal(view.getUint32(0, true), 0);
  assert.equal(view.getUint32(4, true), 1, "2^41 bytes is 2^32 sectors");
});

test("a written sector reads back through the queue", () => {
  const disk = new MemoryBlockBackend(64 * 512);
  const r = setup(disk);
  const data = pattern(1024, 3);
  // Data split across three descriptors, one of them unaligned to the sector.
  const w = submit(r, VIRTIO_BLK_T_OUT, 5, {
    out: [r.drv.alloc.data(data.subarray(0, 100)), r.drv.alloc.data(data.subarray(100, 612)), r.drv.alloc.data(data.subarray(612))],
  });
  assert.deepEqual(w, { status: VIRTIO_BLK_S_OK, len: 1 });
  assert.deepEqual(disk.bytes.subarray(5 * 512, 7 * 512), data);
  assert.equal(disk.bytes[5 * 512 - 1], 0, "nothing before the sector");
  assert.equal(disk.bytes[7 * 512], 0, "nothing after the data");
  const a = r.drv.alloc.space(300, 0xcc);
  const b = r.drv.alloc.space(724, 0xcc);
  const rd = submit(r, VIRTIO_BLK_T_IN, 5, { in: [a, b] });
  assert.deepEqual(rd, { status: VIRTIO_BLK_S_OK, len: 1025 });
  const back = new Uint8Array(1024);
  back.set(r.mem.read(a.addr, 300), 0);
  back.set(r.mem.read(b.addr, 724), 300);
  assert.deepEqual(back, data);
});

test("requests work through indirect descriptors and adjacent segments", () => {
  const disk = new MemoryBlockBackend(64 * 512);
  const r = setup(disk);
  const data = pattern(2048, 11);
  const buf = r.drv.alloc.data(data);
  // Four adjacent pieces of one buffer: the device merges them into one host write.
  const pieces = [0, 512, 1024, 1536].map((o) => ({ addr: buf.addr + o, len: 512 }));
  assert.equal(submit(r, VIRTIO_BLK_T_OUT, 60, { out: pieces }, { indirect: true }).status, VIRTIO_BLK_S_OK);
  assert.deepEqual(disk.bytes.subarray(60 * 512), data);
  const into = r.drv.alloc.space(2048);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 60, { in: [into] }, { indirect: true }).status, VIRTIO_BLK_S_OK);
  assert.deepEqual(r.mem.read(into.addr, 2048), data);
});

test("header, data and status may share descriptors", () => {
  const disk = new MemoryBlockBackend(8 * 512);
  const r = setup(disk);
  const data = pattern(512, 1);
  const req = new Uint8Array(16 + 512);
  req.set(header(VIRTIO_BLK_T_OUT, 2));
  req.set(data, 16);
  const out = r.drv.alloc.data(req);
  const status = r.drv.alloc.space(1, 0xff);
  r.q.add([out], [status]);
  r.drv.kick(0);
  assert.equal(r.mem.read(status.addr, 1)[0], VIRTIO_BLK_S_OK);
  assert.deepEqual(disk.bytes.subarray(1024, 1536), data);
  // A read whose data and status byte are one writable buffer.
  r.q.takeUsed();
  const hdr = r.drv.alloc.data(header(VIRTIO_BLK_T_IN, 2));
  const inbuf = r.drv.alloc.space(513, 0xff);
  r.q.add([hdr], [inbuf]);
  r.drv.kick(0);
  const got = r.mem.read(inbuf.addr, 513);
  assert.deepEqual(got.subarray(0, 512), data);
  assert.equal(got[512], VIRTIO_BLK_S_OK);
});

test("flush reaches the backend", () => {
  const disk = new MemoryBlockBackend(8 * 512);
  const r = setup(disk);
  assert.deepEqual(submit(r, VIRTIO_BLK_T_FLUSH, 0), { status: VIRTIO_BLK_S_OK, len: 1 });
  assert.equal(disk.flushes, 1);
  class FailingFlush extends MemoryBlockBackend {
    override flush(): boolean {
      return false;
    }
  }
  const failing: BlockBackend = new FailingFlush(8 * 512);
  assert.equal(submit(setup(failing), VIRTIO_BLK_T_FLUSH, 0).status, VIRTIO_BLK_S_IOERR);
});

test("read-only drives advertise RO and fail writes without touching data", () => {
  const disk = new MemoryBlockBackend(pattern(8 * 512, 5), { readOnly: true });
  const before = disk.bytes.slice();
  const r = setup(disk);
  assert.equal((r.drv.offered >> BigInt(VIRTIO_BLK_F_RO)) & 1n, 1n);
  const res = submit(r, VIRTIO_BLK_T_OUT, 1, { out: [r.drv.alloc.data(new Uint8Array(512))] });
  assert.equal(res.status, VIRTIO_BLK_S_IOERR);
  assert.deepEqual(disk.bytes, before);
  const into = r.drv.alloc.space(512);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 1, { in: [into] }).status, VIRTIO_BLK_S_OK);
  assert.deepEqual(r.mem.read(into.addr, 512), before.subarray(512, 1024));
});

test("requests beyond the disk or not in whole sectors fail with IOERR", () => {
  const disk = new MemoryBlockBackend(8 * 512);
  const r = setup(disk);
  const sector = () => r.drv.alloc.space(512);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 8, { in: [sector()] }).status, VIRTIO_BLK_S_IOERR);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 7, { in: [sector(), sector()] }).status, VIRTIO_BLK_S_IOERR);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 7, { in: [sector()] }).status, VIRTIO_BLK_S_OK);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 2 ** 40, { in: [sector()] }).status, VIRTIO_BLK_S_IOERR);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 2 ** 63, { in: [sector()] }).status, VIRTIO_BLK_S_IOERR);
  assert.equal(submit(r, VIRTIO_BLK_T_IN, 0, { in: [r.drv.alloc.space(100)] }).status, VIRTIO_BLK_S_IOERR);
  const odd = r.drv.alloc.data(new Uint8Array(700).fill(1));
  assert.equal(submit(r, VIRTIO_BLK_T_OUT, 0, { out: [odd] }).status, VIRTIO_BLK_S_IOERR);
  assert.ok(disk.bytes.every((b) => b === 0), "failed writes wrote nothing");
});

test("bad sectors fail only the requests that touch them", () => {
  const disk = new MemoryBlockBackend(pattern(16 * 512, 9));
  const r = setup(new BadSectorsBackend(disk, [{ sector: 4, count: 2 }]));
  const read = (s: number, n: number) => submit(r, VIRTIO_BLK_T_IN, s, { in: [r.drv.alloc.space(512 * n)] }).status;
  assert.equal(read(3, 1), VIRTIO_BLK_S_OK);
  assert.equal(read(4, 1), VIRTIO_BLK_S_IOERR);
  assert.equal(read(5, 1), VIRTIO_BLK_S_IOERR);
  assert.equal(read(2, 3), VIRTIO_BLK_S_IOERR);
  assert.equal(read(6, 2), VIRTIO_BLK_S_OK);
  const w = submit(r, VIRTIO_BLK_T_OUT, 5, { out: [r.drv.alloc.data(new Uint8Array(512))] });
  assert.equal(w.status, VIRTIO_BLK_S_IOERR);
  assert.notEqual(disk.bytes[5 * 512 + 1], 0);
});

test("GET_ID returns the serial, NUL-padded to 20 bytes", () => {
  const r = setup(new MemoryBlockBackend(512), { serial: "disk-01" });
  const id = r.drv.alloc.space(20, 0xff);
  assert.equal(submit(r, VIRTIO_BLK_T_GET_ID, 0, { in: [id] }).status, VIRTIO_BLK_S_OK);
  const got = r.mem.read(id.addr, 20);
  assert.equal(new TextDecoder().decode(got.subarray(0, 7)), "disk-01");
  assert.ok(got.subarray(7).every((b) => b === 0));
  const short = r.drv.alloc.space(4, 0xff);
  assert.equal(submit(r, VIRTIO_BLK_T_GET_ID, 0, { in: [short] }).status, VIRTIO_BLK_S_OK);
  assert.equal(new TextDecoder().decode(r.mem.read(short.addr, 4)), "disk");
  assert.throws(() => new VirtioBlk({ backend: new MemoryBlockBackend(512), serial: "x".repeat(21) }), /20 bytes/);
});

test("unknown request types get UNSUPP", () => {
  const r = setup(new MemoryBlockBackend(512));
  for (const type of [2, 11, 13, 14, 0xffffffff]) {
    assert.equal(submit(r, type, 0, { in: [r.drv.alloc.space(512)] }).status, VIRTIO_BLK_S_UNSUPP, `type ${type}`);
  }
});

test("a request without header or status byte needs a reset", () => {
  const r = setup(new MemoryBlockBackend(512));
  r.q.add([r.drv.alloc.data(new Uint8Array(8))], [r.drv.alloc.space(1)]);
  r.drv.kick(0);
  assert.notEqual(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  const r2 = setup(new MemoryBlockBackend(512));
  r2.q.add([r2.drv.alloc.data(header(VIRTIO_BLK_T_FLUSH, 0))], []);
  r2.drv.kick(0);
  assert.notEqual(r2.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("several queued requests complete in one kick with one interrupt", () => {
  const disk = new MemoryBlockBackend(pattern(8 * 512, 2));
  const r = setup(disk);
  const bufs = [0, 1, 2].map(() => r.drv.alloc.space(512));
  const statuses = bufs.map((b, i) => {
    const status = r.drv.alloc.space(1, 0xff);
    r.q.add([r.drv.alloc.data(header(VIRTIO_BLK_T_IN, i))], [b, status]);
    return status;
  });
  r.drv.kick(0);
  assert.equal(r.q.takeUsed().length, 3);
  assert.equal(r.irq.raised.get(8), 1);
  statuses.forEach((s) => assert.equal(r.mem.read(s.addr, 1)[0], VIRTIO_BLK_S_OK));
  bufs.forEach((b, i) => assert.deepEqual(r.mem.read(b.addr, 512), disk.bytes.subarray(i * 512, (i + 1) * 512)));
});

test("works without EVENT_IDX and INDIRECT_DESC negotiated", () => {
  const disk = new MemoryBlockBackend(8 * 512);
  const r = setup(disk, { accept: feature(VIRTIO_F_VERSION_1) | feature(VIRTIO_BLK_F_FLUSH) });
  const data = pattern(512, 4);
  assert.equal(submit(r, VIRTIO_BLK_T_OUT, 3, { out: [r.drv.alloc.data(data)] }).status, VIRTIO_BLK_S_OK);
  assert.deepEqual(disk.bytes.subarray(1536, 2048), data);
  r.q.add([r.drv.alloc.data(header(VIRTIO_BLK_T_IN, 3))], [r.drv.alloc.space(513)], { indirect: true });
  r.drv.kick(0);
  assert.notEqual(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0, "indirect was not negotiated");
});

test("raw file backend: data and flushes reach the file", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-blk-"));
  try {
    const file = path.join(dir, "disk.img");
    fs.writeFileSync(file, new Uint8Array(16 * 512));
    const backend = RawFileBackend.open(file);
    assert.equal(backend.size, 8192);
    assert.equal(backend.readOnly, false);
    const r = setup(backend);
    const data = pattern(1024, 77);
    assert.equal((await submitAsync(r, VIRTIO_BLK_T_OUT, 10, { out: [r.drv.alloc.data(data)] })).status, VIRTIO_BLK_S_OK);
    assert.equal((await submitAsync(r, VIRTIO_BLK_T_FLUSH, 0)).status, VIRTIO_BLK_S_OK);
    assert.deepEqual(new Uint8Array(fs.readFileSync(file)).subarray(10 * 512, 12 * 512), data);
    const into = r.drv.alloc.space(1024);
    assert.equal((await submitAsync(r, VIRTIO_BLK_T_IN, 10, { in: [into] })).status, VIRTIO_BLK_S_OK);
    assert.deepEqual(r.mem.read(into.addr, 1024), data);
    assert.equal(backend.readAt(8192 - 10, new Uint8Array(20), 0, 20), false, "past the end");
    backend.close();
    assert.equal(backend.readAt(0, new Uint8Array(4), 0, 4), false, "closed");

    const ro = RawFileBackend.open(file, { readOnly: true });
    assert.equal(ro.readOnly, true);
    assert.equal(ro.writeAt(0, new Uint8Array(4), 0, 4), false);
    const got = new Uint8Array(1024);
    assert.equal(ro.readAt(10 * 512, got, 0, 1024), true);
    assert.deepEqual(got, data);
    ro.close();
    assert.throws(() => RawFileBackend.open(path.join(dir, "missing.img")), /cannot open disk image .*missing\.img/);
    assert.throws(() => RawFileBackend.open(dir), /cannot open disk image/);
    assert.throws(() => RawFileBackend.open(dir, { readOnly: true }), /cannot use disk image .*not a regular file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
