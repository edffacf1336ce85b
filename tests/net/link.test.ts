/** ARP, ICMP echo and IPv4 validation of the user-mode NAT. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GATEWAY_MAC, GUEST_IP, GUEST_MAC, GuestSim, HOST_IP, DNS_IP, ip, payload } from "./guest-sim.ts";
import { get16, get32, put16 } from "../../src/backends/net/user/bytes.ts";
import { finishChecksum, sumWords } from "../../src/backends/net/user/checksum.ts";
import { PROTO_ICMP } from "../../src/backends/net/user/ipv4.ts";

test("ARP: the gateway and DNS addresses answer with 52:55 + their address; others stay silent", async () => {
  const sim = new GuestSim();
  try {
    sim.send(sim.arpRequest(HOST_IP));
    sim.send(sim.arpRequest(DNS_IP));
    sim.send(sim.arpRequest(ip("10.0.2.9")));
    assert.equal(sim.frames.length, 2);
    const [gw, dns] = sim.frames;
    assert.deepEqual(gw.subarray(0, 6), GUEST_MAC, "to the asker");
    assert.deepEqual(gw.subarray(6, 12), GATEWAY_MAC);
    assert.equal(get16(gw, 12), 0x0806);
    assert.equal(get16(gw, 20), 2, "a reply");
    assert.deepEqual(gw.subarray(22, 28), GATEWAY_MAC, "sender MAC");
    assert.equal(get32(gw, 28), HOST_IP, "sender IP");
    assert.deepEqual(gw.subarray(32, 38), GUEST_MAC, "target MAC");
    assert.equal(get32(gw, 38), GUEST_IP);
    assert.deepEqual(dns.subarray(22, 28), Uint8Array.of(0x52, 0x55, 10, 0, 2, 3));
  } finally {
    sim.close();
  }
});

test("ICMP: echo requests to the gateway and DNS come back with the same id, sequence and data", async () => {
  const sim = new GuestSim();
  try {
    const data = Uint8Array.from({ length: 56 }, (_, i) => i);
    sim.send(sim.icmpEcho(HOST_IP, 0x1234, 7, data));
    const r = await sim.next((x) => x.ip.protocol === PROTO_ICMP, "an echo reply");
    assert.equal(r.ip.src, HOST_IP);
    assert.equal(r.ip.dst, GUEST_IP);
    const p = payload(r);
    assert.equal(p[0], 0, "echo reply");
    assert.equal(get16(p, 4), 0x1234);
    assert.equal(get16(p, 6), 7);
    assert.deepEqual(p.subarray(8), data);
    assert.equal(finishChecksum(sumWords(p, 0, p.length)), 0, "ICMP checksum");
    assert.deepEqual(r.frame.subarray(0, 6), GUEST_MAC);
    sim.send(sim.icmpEcho(DNS_IP, 1, 1, data));
    assert.equal((await sim.next((x) => x.ip.protocol === PROTO_ICMP)).ip.src, DNS_IP);
    sim.send(sim.icmpEcho(ip("192.0.2.1"), 1, 2, data));
    assert.equal((await sim.quiet(20)).length, 0, "no echo from outside addresses");
  } finally {
    sim.close();
  }
});

test("IPv4: bad header checksums, fragments, truncated and bad ICMP checksums are dropped", async () => {
  const sim = new GuestSim();
  try {
    const good = sim.icmpEcho(HOST_IP, 1, 1, new Uint8Array(8));
    const badSum = good.slice();
    badSum[24] ^= 0xff;
    const fragment = good.slice();
    put16(fragment, 20, 0x2000); // more fragments
    put16(fragment, 24, 0);
    put16(fragment, 24, finishChecksum(sumWords(fragment, 14, 34)));
    const truncated = good.subarray(0, 40);
    const badIcmp = good.slice();
    badIcmp[40] ^= 1;
    const before = sim.net.stats.dropped;
    for (const f of [badSum, fragment, truncated, badIcmp, new Uint8Array(5)]) sim.send(f);
    assert.equal(sim.net.stats.dropped - before, 5);
    assert.equal(sim.frames.length, 0);
    sim.send(good);
    assert.equal(sim.frames.length, 1, "the intact packet is answered");
    assert.equal(sim.net.stats.internalErrors, 0);
  } finally {
    sim.close();
  }
});
