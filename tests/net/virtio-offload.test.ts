/**
 * virtio-net's offloads through the mock driver (tests/virtio/mock-driver.ts):
 * what the device offers, transmit headers passed on or made plain, hostile
 * headers dropped with no harm, mergeable receive buffers, offloads the
 * guest did not negotiate made plain, DATA_VALID on checked frames.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EthernetBackend, FrameReceiver } from "../../src/backends/net/ethernet-backend.ts";
import { GSO_TCPV4, NET_HDR_F_DATA_VALID, NET_HDR_F_NEEDS_CSUM, NetOffload, OFFLOAD_ALL, OFFLOAD_CSUM, OFFLOAD_ECN, OFFLOAD_TSO4, OFFLOAD_TSO6 } from "../../src/backends/net/offload.ts";
import { finishChecksum, pseudoHeaderSum } from "../../src/backends/net/user/checksum.ts";
import { put16 } from "../../src/backends/net/user/bytes.ts";
import { PROTO_TCP } from "../../src/backends/net/user/ipv4.ts";
import { ACK, PSH } from "../../src/backends/net/user/tcp-segment.ts";
import { STATUS_DEVICE_NEEDS_RESET, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, feature } from "../../src/devices/virtio/constants.ts";
import { MmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import { NET_HDR_SIZE, VirtioNet } from "../../src/devices/virtio/net.ts";
import * as H from "../../src/devices/virtio/net-header.ts";
import { GuestAllocator, MockDriver, MockIrq, TestMemory } from "../virtio/mock-driver.ts";
import { GUEST_IP, GuestSim, HOST_IP, parseReceived, payload } from "./guest-sim.ts";

const RX = 0;
const TX = 1;
const ALL_NET = [
  H.VIRTIO_NET_F_CSUM, H.VIRTIO_NET_F_GUEST_CSUM, H.VIRTIO_NET_F_MAC, H.VIRTIO_NET_F_GUEST_TSO4, H.VIRTIO_NET_F_GUEST_TSO6, H.VIRTIO_NET_F_GUEST_ECN,
  H.VIRTIO_NET_F_HOST_TSO4, H.VIRTIO_NET_F_HOST_TSO6, H.VIRTIO_NET_F_HOST_ECN, H.VIRTIO_NET_F_MRG_RXBUF, H.VIRTIO_NET_F_STATUS,
];
const TRANSPORT = [VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC];

/** Records frames with a copy of their offloads; takes `sendOffloads`; lets the test inject frames. */
class OffloadBackend implements EthernetBackend {
  sent: { frame: Uint8Array; offload?: NetOffload }[] = [];
  receiver: FrameReceiver | null = null;
  accepted: number[] = [];
  constructor(readonly sendOffloads = 0) {}
  send(frame: Uint8Array, offload?: NetOffload): void {
    this.sent.push({ frame: frame.slice(), offload: offload && new NetOffload().copyFrom(offload) });
  }
  onReceive(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }
  acceptOffloads(mask: number): void {
    this.accepted.push(mask);
  }
}

function setup(backend: EthernetBackend, opts: { without?: number[]; queueSize?: number } = {}) {
  const mem = new TestMemory(4 << 20);
  const irq = new MockIrq();
  const net = new VirtioNet({ backend, queueSize: opts.queueSize ?? 64 });
  const t = new MmioTransport({ base: 0x10008000, irq: 8, sink: irq, mem: mem.bus, device: net });
  const drv = new MockDriver(mem, t, new GuestAllocator(mem));
  const accept = [...ALL_NET, ...TRANSPORT].filter((b) => !(opts.without ?? []).includes(b)).reduce((m, b) => m | feature(b), 0n);
  assert.equal(drv.init(2, { accept }), true);
  return { mem, net, drv, rx: drv.queues[RX], tx: drv.queues[TX] };
}

const sim = new GuestSim();
test.after(() => sim.close());

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

/** A guest TCP frame to the host of `len` payload bytes with a partial checksum, and its header fields. */
function superFrame(len: number, gsoSize = 1448): { frame: Uint8Array; hdr: Uint8Array } {
  const frame = sim.tcpFrame({ srcPort: 40000, dst: HOST_IP, dstPort: 80, seq: 1000, ack: 1, flags: ACK | PSH, window: 500, data: bytes(len, 5) });
  put16(frame, 34 + 16, ~finishChecksum(pseudoHeaderSum(GUEST_IP, HOST_IP, PROTO_TCP, frame.length - 34)) & 0xffff);
  const o = new NetOffload();
  o.flags = NET_HDR_F_NEEDS_CSUM;
  o.csumStart = 34;
  o.csumOffset = 16;
  if (len > gsoSize) {
    o.gsoType = GSO_TCPV4;
    o.gsoSize = gsoSize;
    o.hdrLen = 54;
  }
  const hdr = new Uint8Array(NET_HDR_SIZE);
  H.writeNetHeader(hdr, o, 0);
  return { frame, hdr };
}

function transmit(r: ReturnType<typeof setup>, hdr: Uint8Array, frame: Uint8Array): void {
  const pkt = new Uint8Array(NET_HDR_SIZE + frame.length);
  pkt.set(hdr);
  pkt.set(frame, NET_HDR_SIZE);
  r.tx.add([r.drv.alloc.data(pkt)], []);
  r.drv.kick(TX);
}

test("the device offers QEMU's offloads and mergeable buffers; `offloads: false` offers MAC and STATUS only", () => {
  const r = setup(new OffloadBackend());
  for (const bit of ALL_NET) assert.equal((r.drv.offered >> BigInt(bit)) & 1n, 1n, `feature ${bit}`);
  const plain = new VirtioNet({ backend: new OffloadBackend(), offloads: false });
  assert.equal(plain.features, feature(H.VIRTIO_NET_F_MAC) | feature(H.VIRTIO_NET_F_STATUS));
});

test("a TSO super-frame goes as it is to a backend that takes offloads, and as checked segments to one that does not", () => {
  const { frame, hdr } = superFrame(10000);
  const taker = new OffloadBackend(OFFLOAD_ALL);
  const r1 = setup(taker);
  transmit(r1, hdr, frame);
  assert.equal(taker.sent.length, 1);
  assert.deepEqual(taker.sent[0].frame, frame);
  assert.equal(taker.sent[0].offload!.gsoType, GSO_TCPV4);
  assert.equal(taker.sent[0].offload!.gsoSize, 1448);
  assert.equal(taker.sent[0].offload!.csumStart, 34);

  const plainOnly = new OffloadBackend(0);
  const r2 = setup(plainOnly);
  transmit(r2, hdr, frame);
  assert.equal(plainOnly.sent.length, 7);
  const segs = plainOnly.sent.map((s) => {
    assert.equal(s.offload, undefined);
    return parseReceived(s.frame)!;
  });
  assert.deepEqual(Buffer.concat(segs.map((s) => payload(s))), Buffer.from(bytes(10000, 5)));
  assert.equal(r2.net.stats.txFrames, 1);
});

test("a guest without HOST_TSO or CSUM: its header is ignored (CSUM) or its super-frame dropped (TSO), and nothing breaks", () => {
  const { frame, hdr } = superFrame(4000);
  const b = new OffloadBackend(OFFLOAD_ALL);
  const r = setup(b, { without: [H.VIRTIO_NET_F_HOST_TSO4, H.VIRTIO_NET_F_HOST_TSO6, H.VIRTIO_NET_F_HOST_ECN] });
  transmit(r, hdr, frame);
  assert.equal(b.sent.length, 0);
  assert.equal(r.net.stats.txDropped, 1);
  const small = superFrame(100);
  transmit(r, small.hdr, small.frame);
  assert.equal(b.sent.length, 1, "a checksum offload alone is still taken");
  assert.equal(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("hostile transmit headers are dropped, counted, and the device keeps working", () => {
  const b = new OffloadBackend(0);
  const r = setup(b);
  const { frame } = superFrame(3000);
  const bad: [string, (h: Uint8Array) => void][] = [
    ["csum_offset past the end", (h) => { h[1] = 0; h[8] = 0xff; h[9] = 0xff; }],
    ["csum_start past the end", (h) => { h[1] = 0; h[6] = 0xff; h[7] = 0xff; }],
    ["gso_size 0", (h) => { h[4] = 0; h[5] = 0; }],
    ["gso_size 1 (too many segments)", (h) => { h[4] = 1; h[5] = 0; }],
    ["gso type UDP (not offered)", (h) => { h[1] = 3; }],
    ["gso type 0x7f", (h) => { h[1] = 0x7f; }],
    ["TCPv6 gso on an IPv4 frame", (h) => { h[1] = 4; }],
  ];
  for (const [, damage] of bad) {
    const h = superFrame(3000).hdr;
    damage(h);
    transmit(r, h, frame);
  }
  assert.equal(b.sent.length, 0);
  assert.equal(r.net.stats.txDropped, bad.length);
  const good = superFrame(3000);
  transmit(r, good.hdr, good.frame);
  assert.equal(b.sent.length, 3);
  assert.equal(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.equal(r.tx.takeUsed().length, bad.length + 1, "every chain is returned");
});

test("mergeable buffers: a 30000-byte super-frame fills several buffers and num_buffers counts them", () => {
  const b = new OffloadBackend();
  const r = setup(b);
  const bufs: { addr: number }[] = [];
  for (let i = 0; i < 12; i++) {
    const buf = r.drv.alloc.space(4096, 0xee);
    r.rx.add([], [buf]);
    bufs.push(buf);
  }
  r.drv.kick(RX);
  assert.deepEqual(b.accepted, [OFFLOAD_CSUM | OFFLOAD_TSO4 | OFFLOAD_TSO6 | OFFLOAD_ECN], "the backend learns what the guest takes");
  const { frame } = superFrame(30000);
  const o = new NetOffload();
  H.readNetHeader(superFrame(30000).hdr, 0, o);
  b.receiver!(frame, o);
  const used = r.rx.takeUsed();
  const total = NET_HDR_SIZE + frame.length;
  assert.equal(used.length, Math.ceil(total / 4096));
  assert.deepEqual(used.map((u) => u.len).reduce((a, n) => a + n, 0), total);
  const got = Buffer.concat(used.map((u, i) => r.mem.read(bufs[i].addr, u.len)));
  const hdr = got.subarray(0, NET_HDR_SIZE);
  assert.equal(hdr[0], NET_HDR_F_NEEDS_CSUM);
  assert.equal(hdr[1], GSO_TCPV4);
  assert.equal(hdr[4] | (hdr[5] << 8), 1448);
  assert.equal(hdr[10] | (hdr[11] << 8), used.length, "num_buffers");
  assert.deepEqual(got.subarray(NET_HDR_SIZE), Buffer.from(frame));
});

test("a frame waits until enough mergeable buffers are posted, then arrives whole and in order", () => {
  const b = new OffloadBackend();
  const r = setup(b);
  const post = (n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const buf = r.drv.alloc.space(2048);
      r.rx.add([], [buf]);
      out.push(buf);
    }
    r.drv.kick(RX);
    return out;
  };
  post(2);
  const { frame, hdr } = superFrame(9000);
  const o = H.readNetHeader(hdr, 0, new NetOffload());
  b.receiver!(frame, o);
  const small = sim.tcpFrame({ srcPort: 1, dst: GUEST_IP, dstPort: 2, seq: 1, ack: 1, flags: ACK, window: 1, src: HOST_IP });
  b.receiver!(small);
  assert.equal(r.rx.usedIdx(), 0, "nothing taken while two buffers cannot hold it");
  post(6);
  const used = r.rx.takeUsed();
  assert.equal(used.length, 5 + 1);
  assert.deepEqual(used.slice(0, 5).map((u) => u.len).reduce((a, n) => a + n, 0), NET_HDR_SIZE + frame.length);
  assert.equal(used[5].len, NET_HDR_SIZE + small.length, "the small frame comes after");
});

test("offloads the guest did not negotiate are made plain; checked plain frames are marked DATA_VALID", () => {
  const b = new OffloadBackend();
  const r = setup(b, { without: [H.VIRTIO_NET_F_GUEST_TSO4, H.VIRTIO_NET_F_GUEST_TSO6, H.VIRTIO_NET_F_GUEST_ECN, H.VIRTIO_NET_F_MRG_RXBUF] });
  const bufs: { addr: number }[] = [];
  for (let i = 0; i < 10; i++) {
    const buf = r.drv.alloc.space(NET_HDR_SIZE + 1518);
    r.rx.add([], [buf]);
    bufs.push(buf);
  }
  r.drv.kick(RX);
  assert.deepEqual(b.accepted, [OFFLOAD_CSUM]);
  const { frame, hdr } = superFrame(4000);
  b.receiver!(frame, H.readNetHeader(hdr, 0, new NetOffload()));
  const used = r.rx.takeUsed();
  assert.equal(used.length, 3);
  const segs = used.map((u, i) => {
    const got = r.mem.read(bufs[i].addr, u.len);
    assert.equal(got[0], NET_HDR_F_DATA_VALID, "segments the device made are checked");
    assert.equal(got[1], 0);
    return parseReceived(got.subarray(NET_HDR_SIZE))!;
  });
  assert.deepEqual(Buffer.concat(segs.map((s) => payload(s))), Buffer.from(bytes(4000, 5)));
  const bad = sim.tcpFrame({ srcPort: 1, dst: GUEST_IP, dstPort: 2, seq: 1, ack: 1, flags: ACK, window: 1, src: HOST_IP, data: bytes(10, 1) });
  bad[bad.length - 1] ^= 1;
  b.receiver!(bad);
  const [u] = r.rx.takeUsed();
  assert.equal(r.mem.read(bufs[3].addr, u.len)[0], 0, "a frame with a bad checksum is left for the guest to check");
});

test("a super-frame larger than every buffer of the ring together is delivered as segments", () => {
  const b = new OffloadBackend();
  const r = setup(b, { queueSize: 8 });
  for (let i = 0; i < 8; i++) r.rx.add([], [r.drv.alloc.space(NET_HDR_SIZE + 1518)]);
  r.drv.kick(RX);
  const { frame, hdr } = superFrame(20000);
  b.receiver!(frame, H.readNetHeader(hdr, 0, new NetOffload()));
  const used = r.rx.takeUsed();
  assert.equal(used.length, 8, "the ring filled with plain segments");
  assert.equal(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("a mergeable receive buffer smaller than the header puts the device into NEEDS_RESET", () => {
  const b = new OffloadBackend();
  const r = setup(b);
  r.rx.add([], [r.drv.alloc.space(4)]);
  r.drv.kick(RX);
  b.receiver!(sim.tcpFrame({ srcPort: 1, dst: GUEST_IP, dstPort: 2, seq: 1, ack: 1, flags: ACK, window: 1, src: HOST_IP }));
  assert.notEqual(r.drv.status() & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("a received offload that does not fit its frame (a hostile peer's, passed on by a switch) is dropped, not handed to the guest", () => {
  const b = new OffloadBackend();
  const r = setup(b);
  for (let i = 0; i < 4; i++) r.rx.add([], [r.drv.alloc.space(4096)]);
  r.drv.kick(RX);
  const { frame, hdr } = superFrame(5000);
  const damages: ((o: NetOffload) => void)[] = [
    (o) => { o.csumOffset = 0xfff0; },
    (o) => { o.csumStart = 2; },
    (o) => { o.gsoSize = 0; },
    (o) => { o.gsoType = 0x05; },
    (o) => { o.gsoType = 0x04; }, // TCPv6 on an IPv4 frame
  ];
  for (const damage of damages) {
    const o = H.readNetHeader(hdr, 0, new NetOffload());
    damage(o);
    b.receiver!(frame, o);
  }
  assert.equal(r.rx.usedIdx(), 0);
  assert.equal(r.net.stats.rxDropped, damages.length);
  b.receiver!(frame, H.readNetHeader(hdr, 0, new NetOffload()));
  assert.equal(r.rx.takeUsed().length, 2, "a good one still arrives");
});
