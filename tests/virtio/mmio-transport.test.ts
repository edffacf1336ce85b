import { test } from "node:test";
import assert from "node:assert/strict";
import { RAM_BASE } from "../../src/cpu/layout.ts";
import type { AccessSize } from "../../src/machine/device.ts";
import {
  INT_CONFIG_CHANGE,
  INT_USED_BUFFER,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  feature,
} from "../../src/devices/virtio/constants.ts";
import type { VirtioContext, VirtioDevice } from "../../src/devices/virtio/device.ts";
import * as R from "../../src/devices/virtio/mmio-transport.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { VirtioRng } from "../../src/devices/virtio/rng.ts";
import { DESC_F_NEXT, GuestAllocator, MockDriver, MockIrq, TestMemory } from "./mock-driver.ts";

const BASE = 0x10008000;
const IRQ = 8;

/** A device whose behaviour each test scripts. */
class ScriptedDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly name = "scripted";
  readonly features = feature(3) | feature(40);
  readonly queueSizes = [8, 4];
  readonly config = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
  ctx!: VirtioContext;
  notified: number[] = [];
  resets = 0;
  configWrites: [number, number, number][] = [];
  onNotify: (index: number) => void = () => {};

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }
  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.configWrites.push([offset, size, value]);
  }
  queueNotify(index: number): void {
    this.notified.push(index);
    this.onNotify(index);
  }
  reset(): void {
    this.resets++;
  }
  save(): unknown {
    return { v: 1, notified: [...this.notified] };
  }
  restore(state: unknown): void {
    this.notified = [...(state as { notified: number[] }).notified];
  }
}

function setup(device: VirtioDevice = new ScriptedDevice(), opts: { eventIdx?: boolean; indirect?: boolean } = {}) {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const t = new MmioTransport({ base: BASE, irq: IRQ, sink: irq, mem: mem.bus, device, ...opts });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  return { mem, irq, t, drv, device };
}

test("identification registers read like QEMU's virtio-mmio version 2", () => {
  const { drv, t } = setup();
  assert.equal(drv.reg(R.REG_MAGIC), 0x74726976);
  assert.equal(drv.reg(R.REG_VERSION), 2);
  assert.equal(drv.reg(R.REG_DEVICE_ID), 42);
  assert.equal(drv.reg(R.REG_VENDOR_ID), 0x554d4551);
  assert.equal(t.base, BASE);
  assert.equal(t.size, 0x1000);
  for (const r of [R.REG_SHM_LEN_LOW, R.REG_SHM_LEN_HIGH, R.REG_SHM_BASE_LOW, R.REG_SHM_BASE_HIGH]) {
    assert.equal(drv.reg(r), 0xffffffff, "no shared memory regions");
  }
});

test("offered features add VERSION_1, EVENT_IDX and INDIRECT_DESC to the device's", () => {
  const { drv } = setup();
  drv.setReg(R.REG_DEVICE_FEATURES_SEL, 0);
  assert.equal(drv.reg(R.REG_DEVICE_FEATURES), (1 << 3) | (1 << 28) | (1 << 29));
  drv.setReg(R.REG_DEVICE_FEATURES_SEL, 1);
  assert.equal(drv.reg(R.REG_DEVICE_FEATURES), (1 << 0) | (1 << 8));
  drv.setReg(R.REG_DEVICE_FEATURES_SEL, 2);
  assert.equal(drv.reg(R.REG_DEVICE_FEATURES), 0);
  const plain = setup(new ScriptedDevice(), { eventIdx: false, indirect: false }).drv;
  assert.equal(plain.reg(R.REG_DEVICE_FEATURES), 1 << 3);
});

test("feature negotiation accepts a subset with VERSION_1 and nothing else", () => {
  const version = feature(VIRTIO_F_VERSION_1);
  assert.equal(setup().drv.init(2, { accept: version | feature(3) }), true);
  assert.equal(setup().drv.init(2, { accept: feature(3) }), false, "VERSION_1 is required");
  assert.equal(setup().drv.init(2, { accept: version | feature(4) }), false, "bit 4 was not offered");
  assert.equal(setup().drv.init(2, { accept: version | feature(63) }), false);
  const { drv, t } = setup();
  assert.equal(drv.init(2, { accept: version | feature(VIRTIO_F_EVENT_IDX) }), true);
  assert.equal(t.hasFeature(VIRTIO_F_EVENT_IDX), true);
  assert.equal(t.hasFeature(VIRTIO_F_INDIRECT_DESC), false);
  assert.equal(t.hasFeature(3), false);
  assert.equal(t.queues[0].eventIdx, true);
  assert.equal(t.queues[0].indirect, false);
  // Driver features are frozen once accepted.
  drv.setReg(R.REG_DRIVER_FEATURES_SEL, 0);
  drv.setReg(R.REG_DRIVER_FEATURES, 1 << 3);
  assert.equal(t.hasFeature(3), false);
});

test("queues report their maximum size; missing ones read 0", () => {
  const { drv } = setup();
  drv.setReg(R.REG_QUEUE_SEL, 0);
  assert.equal(drv.reg(R.REG_QUEUE_NUM_MAX), 8);
  drv.setReg(R.REG_QUEUE_SEL, 1);
  assert.equal(drv.reg(R.REG_QUEUE_NUM_MAX), 4);
  drv.setReg(R.REG_QUEUE_SEL, 2);
  assert.equal(drv.reg(R.REG_QUEUE_NUM_MAX), 0);
  assert.equal(drv.reg(R.REG_QUEUE_READY), 0);
  drv.setReg(R.REG_QUEUE_READY, 1); // no such queue: ignored
  assert.equal(drv.reg(R.REG_QUEUE_READY), 0);
  assert.equal(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("queue setup reads back and freezes while ready", () => {
  const { drv, t } = setup();
  assert.equal(drv.init(2), true);
  drv.setReg(R.REG_QUEUE_SEL, 1);
  const q = drv.queues[1];
  assert.equal(drv.reg(R.REG_QUEUE_READY), 1);
  assert.equal(drv.reg(R.REG_QUEUE_NUM), 4);
  assert.equal(drv.reg(R.REG_QUEUE_DESC_LOW), q.desc >>> 0);
  assert.equal(drv.reg(R.REG_QUEUE_DRIVER_LOW), q.avail >>> 0);
  assert.equal(drv.reg(R.REG_QUEUE_DEVICE_LOW), q.used >>> 0);
  drv.setReg(R.REG_QUEUE_DESC_LOW, 0x1234);
  drv.setReg(R.REG_QUEUE_NUM, 2);
  assert.equal(drv.reg(R.REG_QUEUE_DESC_LOW), q.desc >>> 0);
  assert.equal(t.queues[1].size, 4);
  drv.setReg(R.REG_QUEUE_READY, 0);
  assert.equal(drv.reg(R.REG_QUEUE_READY), 0);
  drv.setReg(R.REG_QUEUE_NUM, 2);
  assert.equal(t.queues[1].size, 2);
});

test("a ring outside RAM puts the device into NEEDS_RESET", () => {
  const { drv, irq } = setup();
  drv.setReg(R.REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  drv.setReg(R.REG_DRIVER_FEATURES_SEL, 1);
  drv.setReg(R.REG_DRIVER_FEATURES, 1);
  drv.setReg(R.REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  drv.setReg(R.REG_QUEUE_SEL, 0);
  drv.setReg(R.REG_QUEUE_DESC_LOW, 0x1000); // below RAM
  drv.setReg(R.REG_QUEUE_DRIVER_LOW, RAM_BASE);
  drv.setReg(R.REG_QUEUE_DEVICE_LOW, RAM_BASE + 0x1000);
  drv.setReg(R.REG_QUEUE_READY, 1);
  assert.equal(drv.reg(R.REG_QUEUE_READY), 0);
  assert.notEqual(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.equal(irq.level(IRQ), false, "no config interrupt before DRIVER_OK");
});

test("status 0 resets the device, the queues and the interrupt", () => {
  const device = new ScriptedDevice();
  const { drv, t, irq } = setup(device);
  drv.init(2);
  device.ctx.configChanged();
  assert.equal(irq.level(IRQ), true);
  t.needsReset("test");
  const resets = device.resets;
  drv.setReg(R.REG_STATUS, 0);
  assert.equal(drv.status(), 0);
  assert.equal(irq.level(IRQ), false);
  assert.equal(drv.reg(R.REG_INTERRUPT_STATUS), 0);
  assert.equal(device.resets, resets + 1);
  assert.equal(t.brokenReason, null);
  drv.setReg(R.REG_QUEUE_SEL, 0);
  assert.equal(drv.reg(R.REG_QUEUE_READY), 0);
  assert.equal(drv.reg(R.REG_QUEUE_DESC_LOW), 0);
  assert.equal(t.hasFeature(VIRTIO_F_VERSION_1), false);
  assert.equal(drv.init(2), true, "the device can be brought up again");
});

test("used-buffer interrupts are raised, acknowledged and lowered", () => {
  const { drv, irq } = setup(new VirtioRng({ source: { fill: (d, o, n) => d.fill(7, o, o + n) } }));
  drv.init(1);
  const q = drv.queues[0];
  const buf = drv.alloc.space(16);
  q.add([], [buf]);
  assert.equal(irq.level(IRQ), false);
  drv.kick(0);
  assert.equal(irq.level(IRQ), true);
  assert.equal(drv.reg(R.REG_INTERRUPT_STATUS), INT_USED_BUFFER);
  assert.equal(drv.ackInterrupt(), INT_USED_BUFFER);
  assert.equal(irq.level(IRQ), false);
  assert.deepEqual(q.takeUsed(), [{ id: 0, len: 16 }]);
  // With NO_INTERRUPT set (no EVENT_IDX negotiated) the device stays quiet.
  const plain = setup(new VirtioRng());
  plain.drv.init(1, { accept: feature(VIRTIO_F_VERSION_1) });
  plain.drv.queues[0].setAvailFlags(1);
  plain.drv.queues[0].add([], [plain.drv.alloc.space(4)]);
  plain.drv.kick(0);
  assert.equal(plain.drv.queues[0].usedIdx(), 1);
  assert.equal(plain.irq.level(IRQ), false);
});

test("notifications before DRIVER_OK are deferred until DRIVER_OK", () => {
  const device = new ScriptedDevice();
  const { drv } = setup(device);
  drv.init(2, { noDriverOk: true });
  drv.kick(0);
  drv.kick(1);
  assert.deepEqual(device.notified, []);
  drv.setReg(R.REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  assert.deepEqual(device.notified, [0, 1]);
  drv.kick(1);
  drv.kick(7); // no such queue
  drv.kick(0x10000); // only the low 16 bits name the queue
  assert.deepEqual(device.notified, [0, 1, 1, 0]);
});

test("DRIVER_OK without accepted features needs a reset", () => {
  const { drv, t } = setup();
  drv.setReg(R.REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  assert.notEqual(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.match(t.brokenReason ?? "", /features/);
});

test("a queue fault raises NEEDS_RESET with a config interrupt and stops every queue", () => {
  const { drv, irq, t } = setup(new VirtioRng());
  drv.init(1);
  const q = drv.queues[0];
  q.writeDesc(q.desc, 0, drv.alloc.space(4).addr, 4, DESC_F_NEXT, 0); // loops onto itself
  q.offer(0);
  assert.doesNotThrow(() => drv.kick(0));
  assert.notEqual(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.equal(drv.reg(R.REG_INTERRUPT_STATUS), INT_CONFIG_CHANGE);
  assert.equal(irq.level(IRQ), true);
  assert.equal(t.queues[0].running, false);
  // Writing the status does not clear the device-owned bit; only reset does.
  drv.setReg(R.REG_STATUS, drv.status() & ~STATUS_DEVICE_NEEDS_RESET);
  assert.notEqual(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("an exception inside a device becomes NEEDS_RESET, not a host crash", () => {
  const device = new ScriptedDevice();
  const { drv, t } = setup(device);
  drv.init(2);
  assert.deepEqual(device.notified, [0, 1], "the DRIVER_OK pass");
  device.onNotify = () => {
    throw new Error("boom");
  };
  assert.doesNotThrow(() => drv.kick(0));
  assert.notEqual(drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.match(t.brokenReason ?? "", /boom/);
  drv.kick(0);
  assert.deepEqual(device.notified, [0, 1, 0], "kicks after the failure are ignored");
});

test("control registers need aligned 32-bit access; config space takes any width", () => {
  const device = new ScriptedDevice();
  const { t } = setup(device);
  assert.equal(t.read(R.REG_MAGIC, 2), 0);
  assert.equal(t.read(R.REG_MAGIC + 1, 4), 0);
  t.write(R.REG_STATUS, 1, STATUS_ACKNOWLEDGE);
  assert.equal(t.read(R.REG_STATUS, 4), 0);
  assert.equal(t.read(R.REG_CONFIG, 4), 0x44332211);
  assert.equal(t.read(R.REG_CONFIG + 1, 2), 0x3322);
  assert.equal(t.read(R.REG_CONFIG + 7, 1), 0x88);
  assert.equal(t.read(R.REG_CONFIG + 6, 4), 0x8877, "bytes past the config space read 0");
  assert.equal(t.read(R.REG_CONFIG + 0x100, 4), 0);
  t.write(R.REG_CONFIG + 4, 2, 0xbeef);
  t.write(R.REG_CONFIG + 7, 2, 0xbeef); // straddles the end: ignored
  assert.deepEqual(device.configWrites, [[4, 2, 0xbeef]]);
  assert.equal(t.read(0x0f8, 4), 0, "unknown registers read 0");
});

test("config changes bump the generation and interrupt once the driver is up", () => {
  const device = new ScriptedDevice();
  const { drv, irq } = setup(device);
  const g0 = drv.reg(R.REG_CONFIG_GENERATION);
  device.ctx.configChanged();
  assert.equal(drv.reg(R.REG_CONFIG_GENERATION), g0 + 1);
  assert.equal(irq.level(IRQ), false);
  drv.init(2);
  device.ctx.configChanged();
  assert.equal(drv.reg(R.REG_CONFIG_GENERATION), g0 + 2);
  assert.equal(drv.reg(R.REG_INTERRUPT_STATUS), INT_CONFIG_CHANGE);
  assert.equal(irq.level(IRQ), true);
});

test("save and restore continue a running device in a new machine", () => {
  const src = setup(new VirtioRng({ source: { fill: (d, o, n) => d.fill(9, o, o + n) } }));
  src.drv.init(1);
  const q = src.drv.queues[0];
  const b1 = src.drv.alloc.space(8);
  q.add([], [b1]);
  src.drv.kick(0);
  const state = structuredClone(src.t.save());
  const ram = src.mem.ram.slice();

  const dst = setup(new VirtioRng({ source: { fill: (d, o, n) => d.fill(9, o, o + n) } }));
  dst.mem.ram.set(ram);
  dst.t.restore(state);
  assert.equal(dst.irq.level(IRQ), true, "the pending interrupt is driven again");
  assert.equal(dst.drv.status(), src.drv.status());
  assert.equal(dst.t.hasFeature(VIRTIO_F_EVENT_IDX), true);
  // The driver's bookkeeping lives in guest RAM, so the same DriverQueue view works.
  const q2 = Object.assign(Object.create(Object.getPrototypeOf(q)), q, { mem: dst.mem });
  const b2 = dst.drv.alloc.space(8); // allocator is fresh: lands somewhere in RAM
  q2.add([], [b2]);
  dst.drv.kick(0);
  assert.equal(q2.usedIdx(), 2);
  assert.deepEqual([...dst.mem.read(b2.addr, 8)], [9, 9, 9, 9, 9, 9, 9, 9]);
  assert.throws(() => dst.t.restore({ ...state, v: 2 as 1 }), /version 2/);
  assert.throws(() => setup().t.restore(state), /cannot restore/);
});
