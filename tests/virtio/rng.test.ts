import { test } from "node:test";
import assert from "node:assert/strict";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { RNG_MAX_PER_REQUEST, VirtioRng } from "../../src/devices/virtio/rng.ts";
import type { EntropySource } from "../../src/backends/entropy/entropy-source.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory } from "./mock-driver.ts";

function setup(source?: EntropySource) {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const rng = new VirtioRng({ source });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: rng });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  assert.equal(drv.init(1), true);
  assert.equal(drv.reg(0x008), 4, "entropy device ID");
  return { mem, irq, drv, q: drv.queues[0] };
}

/** A counting source, so tests can see exactly which bytes were filled. */
function counter(): EntropySource {
  let n = 1;
  return { fill: (dst, off, len) => { for (let i = 0; i < len; i++) dst[off + i] = n++ & 0xff; } };
}

test("the host RNG fills the guest buffer", () => {
  const r = setup();
  const buf = r.drv.alloc.space(64, 0);
  r.q.add([], [buf]);
  r.drv.kick(0);
  assert.deepEqual(r.q.takeUsed(), [{ id: 0, len: 64 }]);
  const got = r.mem.read(buf.addr, 64);
  // 64 zero bytes from a real RNG has probability 2^-512.
  assert.ok(got.some((b) => b !== 0), "buffer was filled");
  assert.equal(r.irq.level(8), true);
});

test("every writable segment is filled and readable ones are left alone", () => {
  const r = setup(counter());
  const ro = r.drv.alloc.data([0xaa, 0xaa]);
  const w1 = r.drv.alloc.space(3);
  const w2 = r.drv.alloc.space(4);
  r.q.add([ro], [w1, w2]);
  r.drv.kick(0);
  assert.deepEqual(r.q.takeUsed(), [{ id: 0, len: 7 }]);
  assert.deepEqual([...r.mem.read(w1.addr, 3)], [1, 2, 3]);
  assert.deepEqual([...r.mem.read(w2.addr, 4)], [4, 5, 6, 7]);
  assert.deepEqual([...r.mem.read(ro.addr, 2)], [0xaa, 0xaa]);
});

test("one request returns at most RNG_MAX_PER_REQUEST bytes", () => {
  const r = setup(counter());
  const big = r.drv.alloc.space(RNG_MAX_PER_REQUEST + 100, 0);
  r.q.add([], [big]);
  r.drv.kick(0);
  assert.deepEqual(r.q.takeUsed(), [{ id: 0, len: RNG_MAX_PER_REQUEST }]);
  const tail = r.mem.read(big.addr + RNG_MAX_PER_REQUEST, 100);
  assert.ok(tail.every((b) => b === 0), "nothing beyond the limit");
});
