/**
 * The NAT with a guest that takes offloads (what a VirtioNet tells it
 * through acceptOffloads): guest super-frames with partial checksums reach
 * the host socket intact, host bytes come back as super-frames with partial
 * checksums that finish to valid segments, and a partial checksum
 * somewhere odd is finished and checked like any frame.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { once } from "node:events";
import { GSO_TCPV4, NET_HDR_F_NEEDS_CSUM, NetOffload, OFFLOAD_ALL } from "../../src/backends/net/offload.ts";
import { PlainFrames } from "../../src/backends/net/plain-frames.ts";
import { finishChecksum, pseudoHeaderSum } from "../../src/backends/net/user/checksum.ts";
import { put16 } from "../../src/backends/net/user/bytes.ts";
import { PROTO_TCP } from "../../src/backends/net/user/ipv4.ts";
import { ACK } from "../../src/backends/net/user/tcp-segment.ts";
import { GUEST_IP, GuestSim, GuestTcp, HOST_IP, parseReceived, type Received } from "./guest-sim.ts";

/** A GuestSim whose NAT believes the guest takes every offload; offloaded frames are made plain (and so checked) on arrival. */
function offloadSim(): { sim: GuestSim; superFrames: NetOffload[] } {
  const sim = new GuestSim();
  const superFrames: NetOffload[] = [];
  const plain = new PlainFrames();
  sim.net.acceptOffloads(OFFLOAD_ALL);
  sim.net.onReceive((frame, offload) => {
    if (offload === undefined || offload.plain) {
      sim.arrive(frame);
      return;
    }
    if (offload.gsoType !== 0) superFrames.push(new NetOffload().copyFrom(offload));
    // One frame, checksum finished: what a guest's kernel would see (parseReceived checks it).
    const gso = offload.gsoType;
    offload.gsoType = 0;
    assert.equal(plain.convert(frame, offload, (f) => sim.arrive(f)), "ok");
    offload.gsoType = gso;
  });
  return { sim, superFrames };
}

async function hostServer(onSocket: (s: Socket) => void): Promise<{ close: () => void; port: number }> {
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {}); // the NAT resets it when the test closes the guest side
    onSocket(s);
  }).listen(0, "127.0.0.1");
  await once(srv, "listening");
  return { close: () => srv.close(), port: (srv.address() as { port: number }).port };
}

/** The guest's TCP frame with its checksum left partial, and the offload that says so. */
function partialFrame(sim: GuestSim, g: GuestTcp, data: Uint8Array, gsoSize = 0): { frame: Uint8Array; o: NetOffload } {
  const frame = sim.tcpFrame({ srcPort: g.port, dst: HOST_IP, dstPort: g.dstPort, seq: g.seq, ack: g.rcvNxt, flags: ACK, window: 0xffff, data });
  put16(frame, 34 + 16, ~finishChecksum(pseudoHeaderSum(GUEST_IP, HOST_IP, PROTO_TCP, frame.length - 34)) & 0xffff);
  const o = new NetOffload();
  o.flags = NET_HDR_F_NEEDS_CSUM;
  o.csumStart = 34;
  o.csumOffset = 16;
  if (gsoSize > 0) {
    o.gsoType = GSO_TCPV4;
    o.gsoSize = gsoSize;
  }
  return { frame, o };
}

test("guest → host: a 60 KiB super-frame with a partial checksum reaches the host whole and is acknowledged", async () => {
  const { sim } = offloadSim();
  const chunks: Buffer[] = [];
  const srv = await hostServer((s) => s.on("data", (d) => chunks.push(d)));
  try {
    const g = new GuestTcp(sim, 41000, HOST_IP, srv.port);
    await g.connect();
    await sim.quiet(20);
    const small = partialFrame(sim, g, Buffer.from("abcdef"));
    sim.net.send(small.frame, small.o);
    g.seq += 6;
    const data = Uint8Array.from({ length: 60000 }, (_, i) => (i * 31) & 0xff);
    const big = partialFrame(sim, g, data, 1448);
    sim.net.send(big.frame, big.o);
    g.seq += data.length;
    const ack = await sim.next(g.fromPeer, "the ACK");
    assert.equal(ack.tcp!.ack, g.seq, "both acknowledged at once (the second segment)");
    for (let i = 0; i < 100 && chunks.reduce((n, c) => n + c.length, 0) < 6 + 60000; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat([Buffer.from("abcdef"), data]));
    assert.equal(sim.net.stats.dropped, 0);
  } finally {
    sim.close();
    srv.close();
  }
});

test("host → guest: host bytes come as super-frames of whole MSS-sized segments with partial checksums that finish valid", async () => {
  const { sim, superFrames } = offloadSim();
  const sent = Uint8Array.from({ length: 400_000 }, (_, i) => (i * 7) & 0xff);
  const srv = await hostServer((s) => s.end(sent));
  try {
    const g = new GuestTcp(sim, 41001, HOST_IP, srv.port);
    g.window = 1 << 20;
    await g.connect(1460);
    while (g.receivedBytes < sent.length) {
      const r: Received = await sim.next(g.fromPeer, "data");
      g.take(r);
    }
    assert.deepEqual(Buffer.concat(g.received), Buffer.from(sent));
    assert.ok(superFrames.length > 0, "super-frames were sent");
    for (const o of superFrames) {
      assert.equal(o.gsoType, GSO_TCPV4);
      assert.equal(o.gsoSize, 1460);
      assert.equal(o.csumStart, 34);
      assert.equal(o.csumOffset, 16);
    }
  } finally {
    sim.close();
    srv.close();
  }
});

test("a partial checksum not at the transport's field is finished and checked: a wrong one is dropped", async () => {
  const { sim } = offloadSim();
  try {
    const frame = sim.tcpFrame({ srcPort: 41002, dst: HOST_IP, dstPort: 9, seq: 1, ack: 0, flags: 0x02, window: 100 });
    const o = new NetOffload();
    o.flags = NET_HDR_F_NEEDS_CSUM;
    o.csumStart = 34 + 4; // the sequence number: finishing it corrupts the segment
    o.csumOffset = 0;
    sim.net.send(frame, o);
    assert.equal(sim.net.stats.dropped, 1);
    const r = parseReceived(frame);
    assert.ok(r, "the frame itself was left alone");
  } finally {
    sim.close();
  }
});
