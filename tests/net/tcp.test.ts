/** The gateway's TCP against real host sockets on 127.0.0.1: handshake, data both ways, close, RST, retransmission. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { GuestSim, GuestTcp, HOST_IP, ip, payload } from "./guest-sim.ts";
import { ACK, FIN, RST, SYN } from "../../src/backends/net/user/tcp-segment.ts";
import { OUR_MSS, OUR_WINDOW_SCALE } from "../../src/backends/net/user/tcp-connection.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";

async function server(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const s = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => {}); // sim.close() resets what is left open
    onSocket(socket);
  });
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  return { server: s, port: (s.address() as { port: number }).port };
}

test("TCP: handshake with MSS and window scale, data both ways, guest closes first (FIN, half-close, TIME-WAIT)", async () => {
  const sim = new GuestSim();
  let hostSide: Socket | null = null;
  const fromGuest: Buffer[] = [];
  let hostSawEnd = false;
  const { server: srv, port } = await server((s) => {
    hostSide = s;
    s.on("data", (d) => fromGuest.push(d));
    s.on("end", () => {
      hostSawEnd = true;
      s.end("bye from host"); // answer after the guest's half-close
    });
  });
  try {
    const g = new GuestTcp(sim, 40001, HOST_IP, port);
    const synAck = await g.connect(1000);
    assert.equal(synAck.flags, SYN | ACK);
    assert.equal(synAck.mss, OUR_MSS);
    assert.equal(synAck.windowScale, OUR_WINDOW_SCALE);
    assert.equal(synAck.ack, 1001, "acknowledges our SYN");
    while (hostSide === null) await new Promise((r) => setTimeout(r, 5));

    g.write(Buffer.from("hello "));
    g.write(Buffer.from("host"));
    const ack = await sim.next((r) => g.fromPeer(r) && r.tcp!.ack === g.seq, "the ACK of our data");
    assert.equal(ack.tcp!.dataLength, 0);

    (hostSide as Socket).write("x".repeat(3000));
    while (g.receivedBytes < 3000) {
      const r = await sim.next(g.fromPeer, "data from the host");
      assert.ok(r.tcp!.dataLength <= 1000, "segments respect the guest's MSS");
      g.take(r);
    }
    assert.equal(g.text(), "x".repeat(3000));

    g.segment(FIN | ACK); // half-close: the host still talks afterwards
    g.seq = (g.seq + 1) >>> 0;
    while (!hostSawEnd) await new Promise((r) => setTimeout(r, 5));
    assert.equal(Buffer.concat(fromGuest).toString(), "hello host");
    let finSeen = false;
    while (!finSeen) {
      const r = await sim.next(g.fromPeer, "the host's reply and FIN");
      finSeen = (r.tcp!.flags & FIN) !== 0;
      g.take(r, !finSeen);
    }
    assert.equal(g.text().slice(3000), "bye from host");
    const conn = [...sim.net.tcp.connections.values()][0];
    assert.equal(conn.state, "last-ack");
    g.segment(ACK);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(sim.net.tcp.connections.size, 0, "our FIN acknowledged: the connection is gone");
  } finally {
    sim.close();
    srv.close();
  }
});

test("TCP: the host closes first; the gateway waits in TIME-WAIT and re-acknowledges a repeated FIN", async () => {
  const sim = new GuestSim();
  const { server: srv, port } = await server((s) => s.end("short answer"));
  try {
    const g = new GuestTcp(sim, 40002, HOST_IP, port);
    await g.connect();
    let fin = false;
    while (!fin) {
      const r = await sim.next(g.fromPeer, "data and FIN");
      g.take(r);
      fin = (r.tcp!.flags & FIN) !== 0;
    }
    assert.equal(g.text(), "short answer");
    const conn = [...sim.net.tcp.connections.values()][0];
    assert.equal(conn.state, "fin-wait-2");
    g.segment(FIN | ACK);
    g.seq = (g.seq + 1) >>> 0;
    await sim.next((r) => g.fromPeer(r) && r.tcp!.ack === g.seq, "the ACK of our FIN");
    assert.equal(conn.state, "time-wait");
    g.segment(FIN | ACK, undefined, (g.seq - 1) >>> 0); // as if that ACK was lost
    const again = await sim.next(g.fromPeer, "the ACK again");
    assert.equal(again.tcp!.ack, g.seq);
    // A new SYN from the same port ends the TIME-WAIT and opens a new connection.
    const reuse = new GuestTcp(sim, 40002, HOST_IP, port);
    reuse.seq = (g.seq + 100000) >>> 0;
    const synAck = await reuse.connect();
    assert.equal(synAck.flags, SYN | ACK);
    assert.notEqual(sim.net.tcp.connections.values().next().value, conn);
  } finally {
    sim.close();
    srv.close();
  }
});

test("TCP: a SYN to a closed host port gets a RST; stray segments get a RST; restrict=on refuses outside addresses", async () => {
  const { server: srv, port } = await server(() => {});
  srv.close();
  await once(srv, "close");
  const sim = new GuestSim();
  try {
    const g = new GuestTcp(sim, 40003, HOST_IP, port);
    const r = await g.connect();
    assert.equal(r.flags, RST | ACK, "connection refused");
    assert.equal(r.ack, 1001);
    assert.equal(sim.net.tcp.connections.size, 0);

    const stray = new GuestTcp(sim, 40004, HOST_IP, 9);
    stray.seq = 555;
    stray.rcvNxt = 777;
    stray.segment(ACK, Buffer.from("?"));
    const rst = await sim.next(stray.fromPeer, "RST for a stray segment");
    assert.equal(rst.tcp!.flags, RST);
    assert.equal(rst.tcp!.seq, 777, "seq taken from the stray ACK");
  } finally {
    sim.close();
  }
  const restricted = new GuestSim(parseUserNetSpec("user,restrict=on"));
  try {
    const g = new GuestTcp(restricted, 40005, ip("192.0.2.1"), 80);
    assert.equal((await g.connect()).flags, RST | ACK);
    const local = new GuestTcp(restricted, 40006, ip("10.0.2.77"), 80);
    assert.equal((await local.connect()).flags, RST | ACK, "nothing else lives on the virtual net");
  } finally {
    restricted.close();
  }
});

test("TCP: a RST from the guest resets the host socket", async () => {
  const sim = new GuestSim();
  let closed: Promise<unknown> | null = null;
  const { server: srv, port } = await server((s) => {
    let error = "";
    s.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? ""));
    closed = new Promise((resolve) => s.on("close", () => resolve(error)));
  });
  try {
    const g = new GuestTcp(sim, 40007, HOST_IP, port);
    await g.connect();
    while (closed === null) await new Promise((r) => setTimeout(r, 5));
    g.segment(RST);
    assert.equal(await closed, "ECONNRESET", "the host peer sees a reset");
    assert.equal(sim.net.tcp.connections.size, 0);
  } finally {
    sim.close();
    srv.close();
  }
});

test("TCP: data the guest never acknowledges is sent again after the retransmission timeout", async () => {
  const sim = new GuestSim();
  let host: Socket | null = null;
  const { server: srv, port } = await server((s) => (host = s));
  try {
    const g = new GuestTcp(sim, 40008, HOST_IP, port);
    await g.connect();
    while (host === null) await new Promise((r) => setTimeout(r, 5));
    (host as Socket).write("lost once");
    const first = await sim.next((r) => g.fromPeer(r) && r.tcp!.dataLength > 0, "the data");
    // Pretend it was lost: no ACK. The same bytes come again.
    const again = await sim.next((r) => g.fromPeer(r) && r.tcp!.dataLength > 0, "the retransmission");
    assert.equal(again.tcp!.seq, first.tcp!.seq);
    assert.equal(Buffer.from(payload(again)).toString(), "lost once");
    const conn = [...sim.net.tcp.connections.values()][0];
    assert.ok(conn.stats.retransmits >= 1);
    g.take(again);
    assert.equal(g.text(), "lost once");
    assert.equal((await sim.quiet(300)).filter((r) => g.fromPeer(r) && r.tcp!.dataLength > 0).length, 0, "no more once acknowledged");
  } finally {
    sim.close();
    srv.close();
  }
});

test("TCP: three duplicate ACKs make the gateway resend the first unacknowledged segment at once", async () => {
  const sim = new GuestSim();
  let host: Socket | null = null;
  const { server: srv, port } = await server((s) => (host = s));
  try {
    const g = new GuestTcp(sim, 40009, HOST_IP, port);
    await g.connect();
    while (host === null) await new Promise((r) => setTimeout(r, 5));
    (host as Socket).write(Buffer.alloc(1460 * 5, 0x61));
    const segs = [];
    while (segs.length < 5) segs.push(await sim.next((r) => g.fromPeer(r) && r.tcp!.dataLength > 0, "five segments"));
    // Segment 1 "lost": the guest acknowledges nothing new three times.
    for (let i = 0; i < 3; i++) g.segment(ACK);
    const re = await sim.next((r) => g.fromPeer(r) && r.tcp!.dataLength > 0, "the fast retransmission");
    assert.equal(re.tcp!.seq, segs[0].tcp!.seq);
  } finally {
    sim.close();
    srv.close();
  }
});


test("TCP: delayed ACK — two in-order segments get one ACK at once, a lone segment its ACK when the turn ends", async () => {
  const sim = new GuestSim();
  const { server: srv, port } = await server(() => {});
  try {
    const g = new GuestTcp(sim, 40010, HOST_IP, port);
    await g.connect();
    await sim.quiet(20);
    g.write(Buffer.from("one"));
    assert.equal(sim.pending().length, 0, "no ACK yet for the first segment");
    g.write(Buffer.from("two"));
    assert.equal(sim.pending().length, 1, "the second segment is acknowledged at once");
    const both = await sim.next(g.fromPeer);
    assert.equal(both.tcp!.ack, g.seq);
    g.write(Buffer.from("three"));
    assert.equal(sim.pending().length, 0);
    await new Promise((r) => process.nextTick(r));
    const lone = await sim.next(g.fromPeer, "the delayed ACK");
    assert.equal(lone.tcp!.ack, g.seq);
  } finally {
    sim.close();
    srv.close();
  }
});
