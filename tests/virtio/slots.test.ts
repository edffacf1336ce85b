import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBlockBackend } from "../../src/backends/block/memory.ts";
import { NullEthernetBackend } from "../../src/backends/net/null.ts";
import { VirtioBlk } from "../../src/devices/virtio/blk.ts";
import { createVirtioSlots } from "../../src/devices/virtio/index.ts";
import { VirtioNet } from "../../src/devices/virtio/net.ts";
import { VirtioRng } from "../../src/devices/virtio/rng.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory } from "./mock-driver.ts";

test("devices fill the slots from the top, like QEMU's virt board", () => {
  const mem = new TestMemory(1 << 16);
  const irq = new MockIrq();
  const blk = new VirtioBlk({ backend: new MemoryBlockBackend(4096) });
  const net = new VirtioNet({ backend: new NullEthernetBackend() });
  const v = createVirtioSlots({ mem: mem.bus, sink: irq, devices: [blk, net] });
  assert.equal(v.slots.length, 8);
  assert.deepEqual(
    v.slots.map((s) => [s.index, s.base, s.size, s.irq, s.nodeName]),
    [7, 6, 5, 4, 3, 2, 1, 0].map((i) => [i, 0x10001000 + 0x1000 * i, 0x1000, 1 + i, `virtio_mmio@${(0x10001000 + 0x1000 * i).toString(16)}`]),
  );
  const populated = v.populated();
  assert.deepEqual(populated.map((s) => [s.base, s.irq, s.transport?.device]), [
    [0x10008000, 8, blk],
    [0x10007000, 7, net],
  ]);
  assert.equal(populated[0].mmio, populated[0].transport);
});

test("every slot maps on the bus; empty ones answer with DeviceID 0", () => {
  const mem = new TestMemory(1 << 16);
  const v = createVirtioSlots({ mem: mem.bus, sink: new MockIrq(), devices: [new VirtioRng()] });
  for (const s of v.slots) mem.bus.addDevice(s.mmio);
  const id = (base: number) => [mem.bus.read(base, 4) >>> 0, mem.bus.read(base + 4, 4), mem.bus.read(base + 8, 4)];
  assert.deepEqual(id(0x10008000), [0x74726976, 2, 4]);
  assert.deepEqual(id(0x10001000), [0x74726976, 2, 0]);
  assert.equal(mem.bus.read(0x1000100c, 4) >>> 0, 0x554d4551);
  assert.equal(mem.bus.read(0x10001034, 4), 0, "an empty slot has no queues");
  assert.equal(mem.bus.write(0x10001070, 4, 1, 0), true);
  assert.equal(mem.bus.read(0x10001070, 4), 0, "and ignores writes");
});

test("more than eight devices is an error that says so", () => {
  const mem = new TestMemory(1 << 16);
  const devices = Array.from({ length: 9 }, () => new VirtioRng());
  assert.throws(() => createVirtioSlots({ mem: mem.bus, sink: new MockIrq(), devices }), /9 virtio devices requested but the virt board has 8/);
});

test("save and restore cover every populated slot", () => {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const v = createVirtioSlots({ mem: mem.bus, sink: irq, devices: [new VirtioRng(), new VirtioRng()] });
  const drv = new MockDriver(mem, v.slots[1].mmio, new GuestAllocator(mem));
  drv.init(1);
  drv.queues[0].add([], [drv.alloc.space(8)]);
  drv.kick(0);
  const state = structuredClone(v.save());
  const mem2 = new TestMemory(1 << 20);
  mem2.ram.set(mem.ram);
  const irq2 = new MockIrq();
  const v2 = createVirtioSlots({ mem: mem2.bus, sink: irq2, devices: [new VirtioRng(), new VirtioRng()] });
  v2.restore(state);
  assert.equal(v2.slots[1].mmio.read(0x70, 4), drv.status());
  assert.equal(v2.slots[0].mmio.read(0x70, 4), 0);
  assert.equal(irq2.level(7), true, "slot 6 (IRQ 7) had an interrupt pending");
  const v3 = createVirtioSlots({ mem: mem2.bus, sink: irq2, devices: [new VirtioRng()] });
  assert.throws(() => v3.restore(state), /devices differ/);
});
