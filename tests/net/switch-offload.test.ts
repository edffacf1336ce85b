/**
 * Offloads through the switch: passed as they are to a station that takes
 * them, made plain (and checksummed) for one that does not — a QEMU-like
 * raw socket peer among them — and carried across the socket between our
 * switch and a `--net switch=PATH` NIC once they said hello. A peer that
 * never said hello cannot send offloaded frames: the length is refused.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { GSO_TCPV4, NET_HDR_F_NEEDS_CSUM, NetOffload, OFFLOAD_ALL } from "../../src/backends/net/offload.ts";
import { StreamFrameDecoder, encodeStreamFrame } from "../../src/backends/net/stream-framing.ts";
import { EthernetSwitch } from "../../src/backends/net/switch.ts";
import { SwitchClientBackend } from "../../src/backends/net/switch-client.ts";
import { openSwitch } from "../../src/backends/net/virtual-switch.ts";
import { finishChecksum, pseudoHeaderSum } from "../../src/backends/net/user/checksum.ts";
import { put16 } from "../../src/backends/net/user/bytes.ts";
import { PROTO_TCP } from "../../src/backends/net/user/ipv4.ts";
import { ACK } from "../../src/backends/net/user/tcp-segment.ts";
import { GUEST_IP, GuestSim, HOST_IP, parseReceived, payload } from "./guest-sim.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-switch-offload-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sim = new GuestSim();
after(() => sim.close());

const B_MAC = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x0b);
const DATA = Uint8Array.from({ length: 20000 }, (_, i) => (i * 3) & 0xff);

/** A 20000-byte TCP super-frame to B_MAC with a partial checksum, and its offload. */
function superFrame(): { frame: Uint8Array; o: NetOffload } {
  const frame = sim.tcpFrame({ srcPort: 5000, dst: HOST_IP, dstPort: 6000, seq: 9, ack: 1, flags: ACK, window: 100, data: DATA });
  frame.set(B_MAC, 0);
  put16(frame, 34 + 16, ~finishChecksum(pseudoHeaderSum(GUEST_IP, HOST_IP, PROTO_TCP, frame.length - 34)) & 0xffff);
  const o = new NetOffload();
  o.flags = NET_HDR_F_NEEDS_CSUM;
  o.csumStart = 34;
  o.csumOffset = 16;
  o.gsoType = GSO_TCPV4;
  o.gsoSize = 1400;
  return { frame, o };
}

/** Checks plain frames are the super-frame's segments, checksums and all. */
function assertSegments(frames: Uint8Array[]): void {
  assert.equal(frames.length, Math.ceil(DATA.length / 1400));
  const got = frames.map((f) => parseReceived(f)!); // throws on a bad checksum
  assert.deepEqual(Buffer.concat(got.map((r) => payload(r))), Buffer.from(DATA));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test("in one process: a station that takes offloads gets the super-frame, one that does not gets checked segments (flooded or forwarded)", () => {
  const sw = new EthernetSwitch();
  const a = sw.addPort("a");
  const taker = sw.addPort("taker");
  const plain = sw.addPort("plain");
  taker.acceptOffloads(OFFLOAD_ALL);
  const got = { taker: [] as { f: Uint8Array; o?: NetOffload }[], plain: [] as Uint8Array[] };
  taker.onReceive((f, o) => got.taker.push({ f: f.slice(), o: o && new NetOffload().copyFrom(o) }));
  plain.onReceive((f, o) => {
    assert.equal(o, undefined);
    got.plain.push(f.slice());
  });
  const { frame, o } = superFrame();
  a.send(frame, o); // B_MAC unknown: flooded
  assert.equal(got.taker.length, 1);
  assert.equal(got.taker[0].o!.gsoSize, 1400);
  assert.deepEqual(got.taker[0].f, frame);
  assertSegments(got.plain);
  // Once B_MAC is learned on the plain port, unicast goes there only, made plain.
  plain.send(sim.tcpFrame({ srcPort: 6000, dst: GUEST_IP, dstPort: 5000, seq: 1, ack: 1, flags: ACK, window: 1, src: HOST_IP }).map((b, i) => (i >= 6 && i < 12 ? B_MAC[i - 6] : b)));
  got.plain.length = 0;
  got.taker.length = 0;
  a.send(frame, o);
  assert.equal(got.taker.length, 0);
  assertSegments(got.plain);
});

test("across the socket: a NIC and our switch agree on offloads; a QEMU-like raw peer gets plain segments; a raw peer's offloaded length is refused", async () => {
  const sw = await openSwitch({ path: join(tmp, "sw.sock") });
  const nic = new SwitchClientBackend(sw.path!);
  const local = sw.addPort("local");
  local.acceptOffloads(OFFLOAD_ALL);
  const atLocal: { f: Uint8Array; o?: NetOffload }[] = [];
  local.onReceive((f, o) => atLocal.push({ f: f.slice(), o: o && new NetOffload().copyFrom(o) }));
  const raw = connect(sw.path!);
  raw.on("error", () => {});
  const atRaw: Uint8Array[] = [];
  const decoder = new StreamFrameDecoder((f) => atRaw.push(f.slice()));
  raw.on("data", (d) => decoder.push(d));
  const atNic: { f: Uint8Array; o?: NetOffload }[] = [];
  nic.onReceive((f, o) => atNic.push({ f: f.slice(), o: o && new NetOffload().copyFrom(o) }));
  try {
    await once(raw, "connect");
    await nic.ready();
    nic.acceptOffloads(OFFLOAD_ALL);
    await until(() => nic.sendOffloads === OFFLOAD_ALL, "the switch answered the NIC's hello");
    const { frame, o } = superFrame();
    nic.send(frame, o);
    await until(() => atLocal.length === 1 && atRaw.length === Math.ceil(DATA.length / 1400), "the super-frame crossed the socket");
    assert.deepEqual(Buffer.from(atLocal[0].f), Buffer.from(frame));
    assert.equal(atLocal[0].o!.gsoType, GSO_TCPV4);
    assertSegments(atRaw);
    // And back: the switch sends the NIC super-frames, since its guest takes them.
    local.send(frame, o);
    await until(() => atNic.length === 1, "a super-frame reached the NIC");
    assert.equal(atNic[0].o!.gsoSize, 1400);
    assert.deepEqual(Buffer.from(atNic[0].f), Buffer.from(frame));
    // A raw peer that never said hello sends an offloaded length: its connection ends, nobody else's.
    raw.write(encodeStreamFrame(frame, o));
    await until(() => raw.destroyed || raw.readableEnded, "the raw peer was disconnected");
    nic.send(sim.tcpFrame({ srcPort: 1, dst: HOST_IP, dstPort: 2, seq: 1, ack: 1, flags: ACK, window: 1 }).map((b, i) => (i < 6 ? B_MAC[i] : b)));
    await until(() => atLocal.length === 2, "the NIC still gets through");
  } finally {
    raw.destroy();
    nic.close();
    await sw.close();
  }
});
