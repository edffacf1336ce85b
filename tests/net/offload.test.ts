/**
 * Offloads made plain (plain-frames.ts): TCP super-frames cut into the
 * segments a wire carries, partial checksums finished, and hostile
 * descriptions (out-of-bounds checksum offsets, bad gso headers, huge
 * segment counts) refused without emitting anything.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GSO_ECN, GSO_TCPV4, GSO_TCPV6, MAX_SEGMENTS, NET_HDR_F_NEEDS_CSUM, NetOffload } from "../../src/backends/net/offload.ts";
import { MAX_OFFLOAD_FRAME, PlainFrames, partialAtTransport } from "../../src/backends/net/plain-frames.ts";
import { finishChecksum, pseudoHeaderSum } from "../../src/backends/net/user/checksum.ts";
import { put16 } from "../../src/backends/net/user/bytes.ts";
import { ipPayloadOffset, type IpAddress } from "../../src/backends/net/user/addresses.ts";
import { PROTO_TCP, PROTO_UDP } from "../../src/backends/net/user/ipv4.ts";
import { ACK, FIN, PSH } from "../../src/backends/net/user/tcp-segment.ts";
import { GUEST_IP, GUEST_IP6, GuestSim, HOST_IP, HOST_IP6, parseReceived, payload } from "./guest-sim.ts";

const CWR = 0x80;

/** Makes the frame's TCP or UDP checksum partial (only the pseudo-header's part), as a guest with checksum offload sends it. */
function makePartial(frame: Uint8Array, src: IpAddress, dst: IpAddress, protocol: number): NetOffload {
  const at = ipPayloadOffset(dst);
  const field = at + (protocol === PROTO_TCP ? 16 : 6);
  put16(frame, field, ~finishChecksum(pseudoHeaderSum(src, dst, protocol, frame.length - at)) & 0xffff);
  const o = new NetOffload();
  o.flags = NET_HDR_F_NEEDS_CSUM;
  o.csumStart = at;
  o.csumOffset = field - at;
  return o;
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

function convertAll(frame: Uint8Array, o: NetOffload): { result: string; frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  const result = new PlainFrames().convert(frame, o, (f) => frames.push(f.slice()));
  return { result, frames };
}

for (const v6 of [false, true]) {
  test(`a TCP${v6 ? "v6" : "v4"} super-frame becomes segments with their own lengths, ids, sequence numbers, flags and checksums`, () => {
    const sim = new GuestSim();
    try {
      const dst = v6 ? HOST_IP6 : HOST_IP;
      const src = v6 ? GUEST_IP6 : GUEST_IP;
      const data = bytes(5000, 3);
      const frame = sim.tcpFrame({ srcPort: 40000, dst, dstPort: 80, seq: 0xfffff000, ack: 77, flags: ACK | PSH | FIN | CWR, window: 500, data });
      const o = makePartial(frame, src, dst, PROTO_TCP);
      o.gsoType = (v6 ? GSO_TCPV6 : GSO_TCPV4) | GSO_ECN;
      o.gsoSize = 1460;
      const { result, frames } = convertAll(frame, o);
      assert.equal(result, "ok");
      assert.equal(frames.length, 4);
      const got = frames.map((f) => parseReceived(f)!); // throws on a bad IP header or TCP checksum
      assert.deepEqual(got.map((r) => r.tcp!.dataLength), [1460, 1460, 1460, 620]);
      assert.deepEqual(got.map((r) => r.tcp!.seq), [0, 1460, 2920, 4380].map((d) => (0xfffff000 + d) >>> 0));
      assert.deepEqual(got.map((r) => r.tcp!.flags), [ACK | CWR, ACK, ACK, ACK | PSH | FIN].map((f) => f & 0x3f));
      assert.equal(frames[0][ipPayloadOffset(dst) + 13] & CWR, CWR, "CWR stays on the first segment only");
      assert.equal(frames[1][ipPayloadOffset(dst) + 13] & CWR, 0);
      assert.deepEqual(Buffer.concat(got.map((r) => payload(r))), Buffer.from(data));
      if (!v6) assert.deepEqual(frames.map((f) => (f[18] << 8) | f[19]), [1, 2, 3, 4], "IPv4 ids count up from the super-frame's");
    } finally {
      sim.close();
    }
  });
}

test("a partial TCP or UDP checksum is finished in a copy; the frame itself is left alone", () => {
  const sim = new GuestSim();
  try {
    const tcp = sim.tcpFrame({ srcPort: 1, dst: HOST_IP, dstPort: 2, seq: 5, ack: 6, flags: ACK, window: 100, data: bytes(333, 1) });
    const udp6 = sim.udpFrame(GUEST_IP6, 1000, HOST_IP6, 53, bytes(41, 2));
    for (const [frame, protocol, src, dst] of [[tcp, PROTO_TCP, GUEST_IP, HOST_IP], [udp6, PROTO_UDP, GUEST_IP6, HOST_IP6]] as const) {
      const o = makePartial(frame, src, dst, protocol);
      const before = frame.slice();
      assert.equal(partialAtTransport(frame, o), true);
      const { result, frames } = convertAll(frame, o);
      assert.equal(result, "ok");
      assert.equal(frames.length, 1);
      assert.ok(parseReceived(frames[0]), "checksums verify");
      assert.deepEqual(frame, before);
    }
    const o = makePartial(tcp, GUEST_IP, HOST_IP, PROTO_TCP);
    o.csumStart += 2;
    assert.equal(partialAtTransport(tcp, o), false, "a checksum somewhere else is not the transport's");
  } finally {
    sim.close();
  }
});

test("hostile offload descriptions are refused and nothing is emitted", () => {
  const sim = new GuestSim();
  try {
    const base = () => {
      const frame = sim.tcpFrame({ srcPort: 1, dst: HOST_IP, dstPort: 2, seq: 5, ack: 6, flags: ACK, window: 100, data: bytes(3000, 1) });
      const o = makePartial(frame, GUEST_IP, HOST_IP, PROTO_TCP);
      o.gsoType = GSO_TCPV4;
      o.gsoSize = 1000;
      return { frame, o };
    };
    const cases: [string, (f: Uint8Array, o: NetOffload) => Uint8Array | void][] = [
      ["checksum offset beyond the frame", (f, o) => { o.gsoType = 0; o.csumOffset = f.length; }],
      ["checksum start inside the Ethernet header", (_f, o) => { o.gsoType = 0; o.csumStart = 4; }],
      ["checksum start at 65535", (_f, o) => { o.gsoType = 0; o.csumStart = 0xffff; o.csumOffset = 0xffff; }],
      ["a UDP fragmentation offload (not offered)", (_f, o) => { o.gsoType = 3; }],
      ["an unknown gso type", (_f, o) => { o.gsoType = 0x7f; }],
      ["TCPv6 segmentation of an IPv4 frame", (_f, o) => { o.gsoType = GSO_TCPV6; }],
      ["gso size 0", (_f, o) => { o.gsoSize = 0; }],
      ["more than MAX_SEGMENTS segments", (_f, o) => { o.gsoSize = 2; }],
      ["an IP length beyond the frame", (f) => { put16(f, 16, 60000); }],
      ["a TCP data offset beyond the packet", (f) => { f[34 + 12] = 0xf0; return f.subarray(0, 34 + 40); }],
      ["a truncated frame", (f) => f.subarray(0, 40)],
      ["not TCP", (f) => { f[23] = PROTO_UDP; }],
      ["a fragment", (f) => { put16(f, 20, 0x2000); }],
      ["a frame larger than 64 KiB", () => new Uint8Array(MAX_OFFLOAD_FRAME + 1)],
    ];
    for (const [what, damage] of cases) {
      const { frame, o } = base();
      const f = damage(frame, o) ?? frame;
      const { result, frames } = convertAll(f, o);
      assert.notEqual(result, "ok", what);
      assert.equal(frames.length, 0, what);
    }
    assert.ok(MAX_SEGMENTS * 64 >= 65536, "the segment cap still lets 64 KiB go in 64-byte segments");
  } finally {
    sim.close();
  }
});

test("fuzz: random offload fields on valid and mutated frames never throw, and what is emitted is bounded", () => {
  const sim = new GuestSim();
  let seed = Number(process.env.FUZZ_SEED ?? 11);
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  try {
    const seeds = [
      sim.tcpFrame({ srcPort: 1, dst: HOST_IP, dstPort: 2, seq: 5, ack: 6, flags: ACK, window: 100, data: bytes(9000, 1) }),
      sim.tcpFrame({ srcPort: 1, dst: HOST_IP6, dstPort: 2, seq: 5, ack: 6, flags: ACK, window: 100, data: bytes(4000, 2) }),
      sim.udpFrame(GUEST_IP, 1, HOST_IP, 2, bytes(500, 3)),
    ];
    const plain = new PlainFrames();
    for (let i = 0; i < 3000; i++) {
      const f = seeds[rand(seeds.length)].slice(0, 14 + rand(9100));
      for (let m = rand(4); m > 0; m--) f[rand(f.length)] = rand(256);
      const o = new NetOffload();
      o.flags = rand(4);
      o.gsoType = [0, 1, 3, 4, 5, 0x81, 0x84, rand(256)][rand(8)];
      o.gsoSize = [0, 1, 64, 536, 1460, 65535, rand(65536)][rand(7)];
      o.csumStart = [14, 34, 54, rand(65536)][rand(4)];
      o.csumOffset = [6, 16, rand(65536)][rand(3)];
      let emitted = 0;
      plain.convert(f, o, (out) => {
        emitted++;
        assert.ok(out.length <= MAX_OFFLOAD_FRAME);
      });
      assert.ok(emitted <= MAX_SEGMENTS, `case ${i}: ${emitted} frames`);
    }
  } finally {
    sim.close();
  }
});
