/** TCP port forwards: a host connection becomes a guest connection from the gateway. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { once } from "node:events";
import { GUEST_IP, GuestSim, HOST_IP, payload } from "./guest-sim.ts";
import { ACK, FIN, RST, SYN } from "../../src/backends/net/user/tcp-segment.ts";
import { OUR_MSS } from "../../src/backends/net/user/tcp-connection.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";
import { openUserNet } from "../../src/backends/net/user/index.ts";

test("hostfwd tcp: SYN to the guest port, data both ways, FIN both ways", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,hostfwd=tcp::0-:8080"));
  try {
    await sim.net.ready();
    const fwd = sim.net.boundForwards[0];
    assert.equal(fwd.hostAddress, "127.0.0.1", "loopback unless an address is given");
    const client = connect(fwd.boundPort, "127.0.0.1");
    client.on("error", () => {});
    const fromGuest: Buffer[] = [];
    client.on("data", (d) => fromGuest.push(d));
    const clientClosed = once(client, "close");
    const clientEnded = once(client, "end");
    await once(client, "connect");
    client.write("GET / please\n");
    const syn = await sim.next((r) => r.tcp?.dstPort === 8080, "the SYN to the guest");
    const t = syn.tcp!;
    assert.equal(t.flags, SYN);
    assert.equal(syn.ip.src, HOST_IP);
    assert.equal(syn.ip.dst, GUEST_IP);
    assert.equal(t.mss, OUR_MSS);
    assert.ok(t.windowScale >= 0);
    let seq = 5000;
    const peerPort = t.srcPort;
    const seg = (flags: number, ack: number, data?: Uint8Array) =>
      sim.send(sim.tcpFrame({ srcPort: 8080, dst: HOST_IP, dstPort: peerPort, seq, ack, flags, window: 65535, data, mss: flags & SYN ? 1460 : 0 }));
    let rcvNxt = (t.seq + 1) >>> 0;
    seg(SYN | ACK, rcvNxt);
    seq++;
    const fromPeer = (r: { tcp?: { srcPort: number; dstPort: number } }) => r.tcp?.srcPort === peerPort && r.tcp?.dstPort === 8080;
    const ackOfSyn = await sim.next(fromPeer, "the ACK of our SYN-ACK");
    assert.equal(ackOfSyn.tcp!.ack, seq);
    let got = "";
    while (!got.endsWith("\n")) {
      const r = await sim.next((x) => fromPeer(x) && x.tcp!.dataLength > 0, "the host's request");
      got += Buffer.from(payload(r)).toString();
      rcvNxt = (rcvNxt + r.tcp!.dataLength) >>> 0;
    }
    assert.equal(got, "GET / please\n");
    const answer = Buffer.from("here you are\n");
    seg(ACK | 0x08, rcvNxt, answer);
    seq += answer.length;
    seg(FIN | ACK, rcvNxt);
    seq++;
    await clientEnded;
    assert.equal(Buffer.concat(fromGuest).toString(), "here you are\n");
    client.end();
    const fin = await sim.next((x) => fromPeer(x) && (x.tcp!.flags & FIN) !== 0, "the host's FIN");
    assert.equal(fin.tcp!.ack, seq);
    seg(ACK, (fin.tcp!.seq + 1) >>> 0);
    await clientClosed;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sim.net.tcp.connections.size, 0);
  } finally {
    sim.close();
  }
});

test("hostfwd tcp: a guest RST (nothing listening) resets the host connection", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,hostfwd=tcp::0-:8081"));
  try {
    await sim.net.ready();
    const client = connect(sim.net.boundForwards[0].boundPort, "127.0.0.1");
    let code = "";
    client.on("error", (e: NodeJS.ErrnoException) => (code = e.code ?? ""));
    const closed = new Promise((resolve) => client.on("close", resolve));
    const syn = await sim.next((r) => r.tcp?.dstPort === 8081, "the SYN");
    sim.send(sim.tcpFrame({ srcPort: 8081, dst: HOST_IP, dstPort: syn.tcp!.srcPort, seq: 0, ack: (syn.tcp!.seq + 1) >>> 0, flags: RST | ACK, window: 0 }));
    await closed;
    assert.equal(code, "ECONNRESET");
  } finally {
    sim.close();
  }
});

test("hostfwd: a port already taken is a one-line error from openUserNet", async () => {
  const taken = createServer().listen(0, "127.0.0.1");
  await once(taken, "listening");
  const port = (taken.address() as { port: number }).port;
  try {
    await assert.rejects(openUserNet(`user,hostfwd=tcp::${port}-:22`), (e: Error) => {
      assert.match(e.message, new RegExp(`^hostfwd=tcp:127\\.0\\.0\\.1:${port}-:22: cannot listen: .*EADDRINUSE`));
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  } finally {
    taken.close();
  }
});

