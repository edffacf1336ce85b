/** UDP NAT through node:dgram, and UDP port forwards. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { GUEST_IP, GuestSim, HOST_IP, ip, payload } from "./guest-sim.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";

test("UDP: a datagram to the gateway reaches the host's 127.0.0.1 and the reply comes back from the gateway", async () => {
  const echo = createSocket("udp4");
  echo.on("message", (msg, rinfo) => echo.send(Buffer.concat([Buffer.from("echo:"), msg]), rinfo.port, rinfo.address));
  echo.bind(0, "127.0.0.1");
  await once(echo, "listening");
  const port = echo.address().port;
  const sim = new GuestSim();
  try {
    sim.send(sim.udpFrame(GUEST_IP, 5555, HOST_IP, port, Buffer.from("ping-1")));
    sim.send(sim.udpFrame(GUEST_IP, 5555, HOST_IP, port, Buffer.from("ping-2")));
    for (const n of [1, 2]) {
      const r = await sim.next((x) => x.udp?.dstPort === 5555, "the echo");
      assert.equal(r.ip.src, HOST_IP);
      assert.equal(r.udp?.srcPort, port);
      assert.equal(r.ip.dst, GUEST_IP);
      assert.equal(Buffer.from(payload(r)).toString(), `echo:ping-${n}`);
    }
    assert.equal(sim.net.udp.sessionCount, 1, "one host socket per guest source port");
  } finally {
    sim.close();
    echo.close();
  }
});

test("UDP: restrict=on and addresses on the virtual net send nothing out", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,restrict=on"));
  try {
    sim.send(sim.udpFrame(GUEST_IP, 5555, ip("192.0.2.1"), 9, Buffer.from("x")));
    sim.send(sim.udpFrame(GUEST_IP, 5556, ip("10.0.2.77"), 9, Buffer.from("x")));
    assert.equal(sim.net.udp.sessionCount, 0);
    assert.equal(sim.net.stats.dropped, 2);
  } finally {
    sim.close();
  }
});

test("UDP hostfwd: a host peer's datagram reaches the guest port; the guest's reply finds the peer", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,hostfwd=udp:127.0.0.1:0-:7777"));
  const peer = createSocket("udp4");
  try {
    await sim.net.ready();
    const fwd = sim.net.boundForwards[0];
    assert.equal(fwd.protocol, "udp");
    assert.ok(fwd.boundPort > 0);
    peer.bind(0, "127.0.0.1");
    await once(peer, "listening");
    peer.send("from-host", fwd.boundPort, "127.0.0.1");
    const r = await sim.next((x) => x.udp?.dstPort === 7777, "the forwarded datagram");
    assert.equal(r.ip.dst, GUEST_IP, "to dhcpstart by default");
    assert.equal(r.ip.src, HOST_IP);
    assert.equal(Buffer.from(payload(r)).toString(), "from-host");
    const reply = once(peer, "message");
    sim.send(sim.udpFrame(GUEST_IP, 7777, HOST_IP, r.udp!.srcPort, Buffer.from("from-guest")));
    const [msg] = (await reply) as [Buffer];
    assert.equal(msg.toString(), "from-guest");
  } finally {
    sim.close();
    peer.close();
  }
});
