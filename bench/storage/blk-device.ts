/**
 * virtio-blk's host side alone, without a guest: requests made by the mock
 * driver (as Linux makes them: header, data pages, status byte; 1 MiB as
 * 256 scattered 4 KiB pages through an indirect table) against a raw file
 * in the page cache. Compares the device served synchronously (the backend
 * without `submit`: what every request cost the guest's thread before
 * asynchronous I/O) with the asynchronous path, at queue depth 1 and 16 (4 for 1 MiB).
 *
 *   node --import tsx bench/storage/blk-device.ts [--ms 2000]
 *
 * Per-request time here is what the device adds to a guest's request on
 * top of the guest's own driver code.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { BlockBackend } from "../../src/backends/block/block-backend.ts";
import { RawFileBackend } from "../../src/backends/block/raw-file.ts";
import { VIRTIO_BLK_T_IN, VirtioBlk } from "../../src/devices/virtio/blk.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory, type Buf } from "../../tests/virtio/mock-driver.ts";
import { printTable } from "../stats.ts";

const { values } = parseArgs({ options: { ms: { type: "string", default: "2000" } } });
const budgetMs = Number(values.ms);
const DISK = 256 * 2 ** 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-blk-device-"));
const file = path.join(dir, "disk.raw");
const fd = fs.openSync(file, "w");
const mib = new Uint8Array(2 ** 20).fill(0x5a);
for (let i = 0; i < DISK; i += mib.length) fs.writeSync(fd, mib);
fs.closeSync(fd);

/** The same file without `submit`: the device serves it synchronously. */
function syncOnly(b: RawFileBackend): BlockBackend {
  return {
    size: b.size,
    readOnly: b.readOnly,
    readAt: (p, d, o, l) => b.readAt(p, d, o, l),
    writeAt: (p, s, o, l) => b.writeAt(p, s, o, l),
    flush: () => b.flush(),
    close: () => b.close(),
  };
}

async function run(mode: "sync" | "async", depth: number, ioBytes: number): Promise<number> {
  const raw = RawFileBackend.open(file);
  const mem = new TestMemory(192 * 2 ** 20);
  const blk = new VirtioBlk({ backend: mode === "sync" ? syncOnly(raw) : raw, queueSize: 256 });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: new MockIrq(), mem: mem.bus, device: blk });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  drv.init(1, {});
  const q = drv.queues[0];
  const pages = ioBytes / 4096;
  // Each slot: header, `pages` data pages every other page (not adjacent, as guest pages rarely are), status.
  const slots = Array.from({ length: depth }, () => {
    const hdr = drv.alloc.space(16);
    const data: Buf[] = [];
    for (let p = 0; p < pages; p++) {
      data.push({ addr: drv.alloc.alloc(4096, 8192), len: 4096 });
      drv.alloc.alloc(4096, 4096);
    }
    return { hdr, data, status: drv.alloc.space(1) };
  });
  let seed = 7;
  const offer = (s: (typeof slots)[number]) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const sector = ((seed % (DISK / ioBytes)) * ioBytes) / 512;
    const h = new DataView(mem.ram.buffer, mem.ram.byteOffset + mem.off(s.hdr.addr), 16);
    h.setUint32(0, VIRTIO_BLK_T_IN, true);
    h.setUint32(8, sector, true);
    byHead.set(q.add([s.hdr], [...s.data, s.status], { indirect: pages > 1 }), s);
  };
  const byHead = new Map<number, (typeof slots)[number]>();
  let done = 0;
  const start = performance.now();
  for (const s of slots) offer(s);
  drv.kick(0);
  while (performance.now() - start < budgetMs) {
    if (mode === "async") await new Promise<void>((resolve) => setImmediate(resolve));
    blk.completeIo();
    const used = q.takeUsed();
    for (const u of used) {
      done++;
      offer(byHead.get(u.id)!);
    }
    if (used.length > 0) drv.kick(0);
  }
  await blk.drainIo();
  raw.close();
  return (done / (performance.now() - start)) * 1000;
}

const rows: string[][] = [["workload", "depth", "sync", "async", "load"]];
for (const [name, bytes] of [["random 4 KiB read", 4096], ["random 1 MiB read (256 pages)", 2 ** 20]] as const) {
  for (const depth of bytes === 4096 ? [1, 16] : [1, 4]) {
    const s = await run("sync", depth, bytes);
    const a = await run("async", depth, bytes);
    const fmt = (r: number) => (bytes === 4096 ? `${Math.round(r)} IOPS` : `${Math.round((r * bytes) / 1e6)} MB/s`);
    rows.push([name, String(depth), fmt(s), fmt(a), os.loadavg()[0].toFixed(1)]);
  }
}
printTable(rows);
fs.rmSync(dir, { recursive: true });
