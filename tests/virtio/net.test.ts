import { test } from "node:test";
import assert from "node:assert/strict";
import type { EthernetBackend } from "../../src/backends/net/ethernet-backend.ts";
import { LoopbackEthernetBackend } from "../../src/backends/net/loopback.ts";
import { NullEthernetBackend } from "../../src/backends/net/null.ts";
import { INT_CONFIG_CHANGE, STATUS_DEVICE_NEEDS_RESET, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, feature } from "../../src/devices/virtio/constants.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import {
  MAX_PENDING_RX,
  NET_HDR_SIZE,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS,
  VirtioNet,
  parseMac,
} from "../../src/devices/virtio/net.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory } from "./mock-driver.ts";

/** A backend a test can inject frames through and that records what the guest sent. */
class CaptureBackend implements EthernetBackend {
  sent: Uint8Array[] = [];
  receiver: ((frame: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }
  inject(frame: Uint8Array): void {
    this.receiver?.(frame);
  }
}

const RX = 0;
const TX = 1;

/** The device without offloads (tests/net/virtio-offload.test.ts has those): what a driver taking only MAC and STATUS sees. */
const PLAIN_FEATURES = [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC].reduce((m, b) => m | feature(b), 0n);

function setup(backend: EthernetBackend, opts: { mac?: string; noDriverOk?: boolean } = {}) {
  const mem = new TestMemory(1 << 20);
  const irq = new MockIrq();
  const net = new VirtioNet({ backend, mac: opts.mac, queueSize: 16 });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: net });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  assert.equal(drv.init(2, { noDriverOk: opts.noDriverOk, accept: PLAIN_FEATURES }), true);
  return { mem, irq, net, t, drv, rx: drv.queues[RX], tx: drv.queues[TX] };
}

function frame(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 13 + seed) & 0xff);
}

/** Posts `n` receive buffers of `size` bytes, as Linux's small-buffer mode does. */
function postRx(r: ReturnType<typeof setup>, n: number, size = NET_HDR_SIZE + 1518) {
  const bufs = [];
  for (let i = 0; i < n; i++) {
    const b = r.drv.alloc.space(size, 0xee);
    r.rx.add([], [b]);
    bufs.push(b);
  }
  r.drv.kick(RX);
  return bufs;
}

test("config space holds the MAC and link status; MAC and STATUS are offered", () => {
  const r = setup(new NullEthernetBackend(), { mac: "02:00:de:ad:be:ef" });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => r.drv.config(i, 1)), [2, 0, 0xde, 0xad, 0xbe, 0xef]);
  assert.equal(r.drv.config(6, 2), 1, "link up");
  assert.equal((r.drv.offered >> BigInt(VIRTIO_NET_F_MAC)) & 1n, 1n);
  assert.equal((r.drv.offered >> BigInt(VIRTIO_NET_F_STATUS)) & 1n, 1n);
  assert.deepEqual([...parseMac("52:54:00:12:34:56")], [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
  assert.throws(() => parseMac("52:54:00:12:34"), /invalid MAC/);
  assert.throws(() => parseMac("52:54:00:12:34:zz"), /invalid MAC/);
  const dflt = setup(new NullEthernetBackend());
  assert.equal(dflt.drv.config(0, 4), 0x12005452, "QEMU's default 52:54:00:12:34:56");
  assert.equal(dflt.drv.config(4, 2), 0x5634);
});

test("transmitted frames reach the backend without the virtio header", () => {
  const backend = new CaptureBackend();
  const r = setup(backend);
  const f1 = frame(60, 1);
  const f2 = frame(1514, 2);
  // Linux pushes the header in front of the frame: one descriptor.
  const combined = new Uint8Array(NET_HDR_SIZE + f1.length);
  combined.set(f1, NET_HDR_SIZE);
  r.tx.add([r.drv.alloc.data(combined)], []);
  // Header and frame in separate descriptors, the frame itself split in two.
  r.tx.add([r.drv.alloc.data(new Uint8Array(NET_HDR_SIZE)), r.drv.alloc.data(f2.subarray(0, 700)), r.drv.alloc.data(f2.subarray(700))], []);
  r.drv.kick(TX);
  assert.equal(backend.sent.length, 2);
  assert.deepEqual(backend.sent[0], f1);
  assert.deepEqual(backend.sent[1], f2);
  assert.deepEqual(r.tx.takeUsed().map((u) => u.len), [0, 0]);
  assert.equal(r.irq.level(8), true);
  assert.equal(r.net.stats.txFrames, 2);
});

test("received frames land in guest buffers after a zeroed header", () => {
  const backend = new CaptureBackend();
  const r = setup(backend);
  const bufs = postRx(r, 2);
  const f = frame(98, 5);
  backend.inject(f);
  const used = r.rx.takeUsed();
  assert.deepEqual(used, [{ id: 0, len: NET_HDR_SIZE + 98 }]);
  const got = r.mem.read(bufs[0].addr, NET_HDR_SIZE + 98);
  assert.deepEqual([...got.subarray(0, NET_HDR_SIZE)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], "num_buffers = 1");
  assert.deepEqual(got.subarray(NET_HDR_SIZE), f);
  assert.equal(r.irq.level(8), true);
  assert.equal(r.net.stats.rxFrames, 1);
});

test("frames wait for receive buffers, in order, up to a limit", () => {
  const backend = new CaptureBackend();
  const r = setup(backend);
  const frames = [frame(64, 1), frame(65, 2), frame(66, 3)];
  for (const f of frames) backend.inject(f);
  assert.equal(r.rx.usedIdx(), 0);
  const bufs = postRx(r, 2);
  assert.deepEqual(r.rx.takeUsed().map((u) => u.len), [NET_HDR_SIZE + 64, NET_HDR_SIZE + 65]);
  assert.deepEqual(r.mem.read(bufs[1].addr + NET_HDR_SIZE, 65), frames[1]);
  const more = postRx(r, 1);
  assert.deepEqual(r.mem.read(more[0].addr + NET_HDR_SIZE, 66), frames[2]);
  for (let i = 0; i < MAX_PENDING_RX + 5; i++) backend.inject(frame(60, i));
  assert.equal(r.net.stats.rxDropped, 5);
});

test("a frame larger than the receive buffer is dropped and the buffer returned empty", () => {
  const backend = new CaptureBackend();
  const r = setup(backend);
  postRx(r, 2, 100);
  backend.inject(frame(200, 1));
  backend.inject(frame(80, 2));
  assert.deepEqual(r.rx.takeUsed().map((u) => u.len), [0, NET_HDR_SIZE + 80]);
  assert.equal(r.net.stats.rxDropped, 1);
});

test("frames arriving before the driver is ready are dropped", () => {
  const backend = new CaptureBackend();
  const r = setup(backend, { noDriverOk: true });
  backend.inject(frame(60, 1));
  assert.equal(r.net.stats.rxDropped, 1);
});

test("loopback: what the guest sends comes back to it", () => {
  const r = setup(new LoopbackEthernetBackend());
  const bufs = postRx(r, 1);
  const f = frame(342, 9);
  const pkt = new Uint8Array(NET_HDR_SIZE + f.length);
  pkt.set(f, NET_HDR_SIZE);
  r.tx.add([r.drv.alloc.data(pkt)], []);
  r.drv.kick(TX);
  assert.equal(r.tx.takeUsed().length, 1);
  assert.deepEqual(r.rx.takeUsed(), [{ id: 0, len: NET_HDR_SIZE + f.length }]);
  assert.deepEqual(r.mem.read(bufs[0].addr + NET_HDR_SIZE, f.length), f);
});

test("the null backend swallows frames", () => {
  const backend = new NullEthernetBackend();
  const r = setup(backend);
  r.tx.add([r.drv.alloc.data(new Uint8Array(NET_HDR_SIZE + 60))], []);
  r.drv.kick(TX);
  assert.equal(backend.sent, 1);
  assert.equal(r.tx.takeUsed().length, 1);
});

test("unplugging the cable clears LINK_UP, raises a config interrupt and drops input", () => {
  const backend = new CaptureBackend();
  const r = setup(backend);
  postRx(r, 1);
  r.net.setLinkUp(false);
  assert.equal(r.drv.config(6, 2), 0);
  assert.equal(r.drv.ackInterrupt(), INT_CONFIG_CHANGE);
  backend.inject(frame(60, 1));
  assert.equal(r.rx.usedIdx(), 0);
  r.net.setLinkUp(true);
  assert.equal(r.drv.config(6, 2), 1);
  backend.inject(frame(60, 1));
  assert.equal(r.rx.usedIdx(), 1);
});

test("a transmit buffer shorter than the header needs a reset", () => {
  const r = setup(new CaptureBackend());
  r.tx.add([r.drv.alloc.data(new Uint8Array(6))], []);
  r.drv.kick(TX);
  assert.notEqual(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("pending frames survive save and restore; reset drops them", () => {
  const backend = new CaptureBackend();
  const r = setup(backend);
  backend.inject(frame(70, 4));
  const state = structuredClone(r.net.save());
  const backend2 = new CaptureBackend();
  const r2 = setup(backend2);
  r2.net.restore(state);
  const bufs = postRx(r2, 1);
  assert.deepEqual(r2.mem.read(bufs[0].addr + NET_HDR_SIZE, 70), frame(70, 4));
  backend.inject(frame(70, 5));
  r.drv.setReg(0x70, 0);
  assert.equal((r.net.save() as { pending: unknown[] }).pending.length, 0);
  assert.throws(() => r.net.restore({ v: 9 }), /version 9/);
});
