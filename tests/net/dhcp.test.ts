/** The DHCP server: DISCOVER/OFFER/REQUEST/ACK, NAK, options, one lease per MAC. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GUEST_MAC, GuestSim, ip, payload, type Received } from "./guest-sim.ts";
import { get32, put32 } from "../../src/backends/net/user/bytes.ts";
import { BROADCAST_MAC, type Ipv4 } from "../../src/backends/net/user/addresses.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";

function dhcpMessage(type: number, xid: number, mac = GUEST_MAC, extra: number[] = []): Uint8Array {
  const m = new Uint8Array(300);
  m[0] = 1;
  m[1] = 1;
  m[2] = 6;
  put32(m, 4, xid);
  m[10] = 0x80; // broadcast flag, as udhcpc sets it
  m.set(mac, 28);
  put32(m, 236, 0x63825363);
  const opts = [53, 1, type, ...extra, 255];
  m.set(opts, 240);
  return m;
}

/** Option code → value from a reply. */
function options(reply: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let p = 240; p < reply.length && reply[p] !== 255; ) {
    if (reply[p] === 0) {
      p++;
      continue;
    }
    out.set(reply[p], reply.subarray(p + 2, p + 2 + reply[p + 1]));
    p += 2 + reply[p + 1];
  }
  return out;
}

async function exchange(sim: GuestSim, msg: Uint8Array, mac = GUEST_MAC): Promise<{ r: Received; m: Uint8Array; o: Map<number, Uint8Array> }> {
  const f = sim.udpFrame(0, 68, 0xffffffff, 67, msg, BROADCAST_MAC);
  f.set(mac, 6);
  sim.send(f);
  const r = await sim.next((x) => x.udp?.dstPort === 68, "a DHCP reply");
  const m = payload(r);
  return { r, m, o: options(m) };
}

const v = (b: Uint8Array | undefined): Ipv4 => get32(b as Uint8Array, 0);

test("DHCP: DISCOVER gets an OFFER of 10.0.2.15 with mask, router, DNS, lease; REQUEST gets the ACK", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,hostname=vm1"));
  try {
    const offer = await exchange(sim, dhcpMessage(1, 0xabcdef01));
    assert.equal(offer.r.ip.src, ip("10.0.2.2"));
    assert.equal(offer.r.udp?.srcPort, 67);
    assert.deepEqual(offer.r.frame.subarray(0, 6), BROADCAST_MAC, "broadcast flag honoured");
    assert.equal(offer.m[0], 2, "BOOTREPLY");
    assert.equal(get32(offer.m, 4), 0xabcdef01, "same xid");
    assert.equal(get32(offer.m, 16), ip("10.0.2.15"), "yiaddr");
    assert.deepEqual(offer.m.subarray(28, 34), GUEST_MAC);
    assert.equal(offer.o.get(53)?.[0], 2, "OFFER");
    assert.equal(v(offer.o.get(1)), ip("255.255.255.0"));
    assert.equal(v(offer.o.get(3)), ip("10.0.2.2"), "router");
    assert.equal(v(offer.o.get(6)), ip("10.0.2.3"), "dns");
    assert.equal(v(offer.o.get(54)), ip("10.0.2.2"), "server id");
    assert.equal(v(offer.o.get(51)), 86400, "lease");
    assert.equal(Buffer.from(offer.o.get(12) ?? []).toString(), "vm1", "hostname");

    const req = [50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 2];
    const ack = await exchange(sim, dhcpMessage(3, 0xabcdef02, GUEST_MAC, req));
    assert.equal(ack.o.get(53)?.[0], 5, "ACK");
    assert.equal(get32(ack.m, 16), ip("10.0.2.15"));
    assert.equal(sim.net.dhcp.leaseOf("52:54:00:12:34:56"), ip("10.0.2.15"));
  } finally {
    sim.close();
  }
});

test("DHCP: a second MAC gets the next address; a REQUEST outside the pool gets a NAK", async () => {
  const sim = new GuestSim();
  try {
    await exchange(sim, dhcpMessage(1, 1));
    const other = Uint8Array.of(0x52, 0x54, 0, 0, 0, 2);
    const offer2 = await exchange(sim, dhcpMessage(1, 2, other), other);
    assert.equal(get32(offer2.m, 16), ip("10.0.2.16"));
    const nak = await exchange(sim, dhcpMessage(3, 3, GUEST_MAC, [50, 4, 192, 168, 1, 5]));
    assert.equal(nak.o.get(53)?.[0], 6, "NAK");
    assert.equal(get32(nak.m, 16), 0);
  } finally {
    sim.close();
  }
});

test("DHCP: net= and dhcpstart= move the addresses; garbage gets no reply", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,net=192.168.76.0/24,dhcpstart=192.168.76.100"));
  try {
    const offer = await exchange(sim, dhcpMessage(1, 9));
    assert.equal(get32(offer.m, 16), ip("192.168.76.100"));
    assert.equal(v(offer.o.get(3)), ip("192.168.76.2"));
    assert.equal(v(offer.o.get(6)), ip("192.168.76.3"));
    const bad = dhcpMessage(1, 10);
    put32(bad, 236, 0); // no magic cookie
    sim.send(sim.udpFrame(0, 68, 0xffffffff, 67, bad, BROADCAST_MAC));
    sim.send(sim.udpFrame(0, 68, 0xffffffff, 67, new Uint8Array(10), BROADCAST_MAC));
    assert.equal((await sim.quiet(10)).length, 0);
  } finally {
    sim.close();
  }
});
