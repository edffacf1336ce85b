/**
 * Flow control both ways: a guest that stops reading never makes the
 * gateway buffer without bound (the host socket is paused), and a host
 * that stops reading closes the window the guest sees.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { once } from "node:events";
import { GuestSim, GuestTcp, HOST_IP, type Received } from "./guest-sim.ts";
import { ACK } from "../../src/backends/net/user/tcp-segment.ts";
import { RECEIVE_BUFFER, SEND_BUFFER } from "../../src/backends/net/user/tcp-connection.ts";

const pattern = (i: number) => (i * 7 + (i >>> 9)) & 0xff;

test("host → guest: a guest with a closed window pauses the host socket; memory stays bounded; everything arrives once it reads", async () => {
  const TOTAL = 24 * 1024 * 1024; // more than the loopback's socket buffers hold
  const data = Buffer.from(Uint8Array.from({ length: TOTAL }, (_, i) => pattern(i)));
  let host: Socket | null = null;
  let stalled = false;
  const srv = createServer((s) => {
    host = s;
    s.on("error", () => {});
    s.write(data);
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const sim = new GuestSim();
  try {
    const g = new GuestTcp(sim, 41000, HOST_IP, (srv.address() as { port: number }).port);
    g.window = 8192; // a guest application that does not read: 8 KiB of socket buffer
    await g.connect();
    await sim.quiet(400); // let the host pour; we acknowledge nothing
    const conn = [...sim.net.tcp.connections.values()][0];
    const sent = sim.frames.map((f) => f).length;
    assert.ok(host !== null);
    assert.ok((conn.host as unknown as { socket: Socket }).socket.isPaused(), "the gateway stopped reading the host socket");
    assert.ok(conn.sendQueue.length <= SEND_BUFFER + 65536, `gateway holds ${conn.sendQueue.length} bytes`);
    assert.ok((host as Socket).writableLength > 0, "bytes are still waiting on the host side");
    assert.ok(sent < 100, `only the window's worth (and retransmissions) went to the guest: ${sent} frames`);

    // Now read everything with a wide window.
    g.window = 1 << 20;
    g.segment(ACK);
    while (g.receivedBytes < TOTAL) {
      const r: Received = await sim.next(g.fromPeer, `data (have ${g.receivedBytes})`);
      g.take(r);
    }
    const got = Buffer.concat(g.received);
    assert.equal(got.length, TOTAL);
    assert.ok(got.equals(data), "every byte in order");
  } finally {
    sim.close();
    srv.close();
  }
});

test("guest → host: a host that stops reading closes the guest's window; bytes beyond it are not accepted; reading again reopens it", async () => {
  let host: Socket | null = null;
  const fromGuest: Buffer[] = [];
  const srv = createServer((s) => {
    host = s;
    s.on("error", () => {});
    s.pause();
    s.on("data", (d) => fromGuest.push(d));
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const sim = new GuestSim();
  try {
    const g = new GuestTcp(sim, 41001, HOST_IP, (srv.address() as { port: number }).port);
    const synAck = await g.connect();
    let window = synAck.window;
    let acked = g.seq;
    let sentBytes = 0;
    let maxQueued = 0;
    const segment = Buffer.alloc(1460);
    for (let i = 0; i < 100_000 && window >= segment.length; i++) {
      for (let k = 0; k < segment.length; k++) segment[k] = pattern(sentBytes + k);
      g.write(segment);
      sentBytes += segment.length;
      const r = await sim.next((x) => g.fromPeer(x) && x.tcp!.ack === g.seq, "the ACK");
      acked = r.tcp!.ack;
      window = r.tcp!.window << g.peerWindowShift;
      maxQueued = Math.max(maxQueued, (host as Socket | null)?.readableLength ?? 0);
      const conn = [...sim.net.tcp.connections.values()][0];
      assert.ok(conn.host!.queuedBytes <= RECEIVE_BUFFER + 1460, "the gateway never queues more than its window");
    }
    assert.ok(window < 1460, `the window closed (after ${sentBytes} bytes)`);
    // A segment reaching beyond the window: only what fits is accepted.
    for (let k = 0; k < segment.length; k++) segment[k] = pattern(sentBytes + k);
    g.write(segment);
    const reply = await sim.next(g.fromPeer, "the ACK of the clipped segment");
    const accepted = (reply.tcp!.ack - acked) >>> 0;
    // The advertised window is rounded down to the scale unit (8 bytes): the gateway may take up to 7 more.
    assert.ok(accepted < window + 8, `accepted ${accepted} of a ${window}-byte window`);
    sentBytes += accepted;
    acked = reply.tcp!.ack;
    g.seq = acked;
    assert.equal(reply.tcp!.window, 0, "now the window is shut");

    // The host reads again: a window update arrives without the guest asking.
    (host as Socket | null)?.resume();
    const update = await sim.next((x) => g.fromPeer(x) && (x.tcp!.window << g.peerWindowShift) >= 1460, "a window update");
    assert.equal(update.tcp!.ack, acked);
    while (Buffer.concat(fromGuest).length < sentBytes) await new Promise((r) => setTimeout(r, 10));
    const got = Buffer.concat(fromGuest);
    assert.equal(got.length, sentBytes);
    assert.ok(got.equals(Buffer.from(Uint8Array.from({ length: sentBytes }, (_, i) => pattern(i)))), "every accepted byte in order");
  } finally {
    sim.close();
    srv.close();
  }
});
