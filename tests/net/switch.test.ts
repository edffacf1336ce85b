/** The in-process learning switch, and several guests sharing one user-mode NAT through it. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EthernetSwitch, MAX_MAC_ENTRIES, type SwitchPort } from "../../src/backends/net/switch.ts";
import { UserNetBackend } from "../../src/backends/net/user/user-net.ts";
import { get32 } from "../../src/backends/net/user/bytes.ts";
import { GuestSim, ip, parseReceived } from "./guest-sim.ts";

const mac = (n: number) => Uint8Array.of(0x52, 0x54, 0, 0, 0, n);
const BROADCAST = Uint8Array.of(255, 255, 255, 255, 255, 255);

function frame(dst: Uint8Array, src: Uint8Array, tag: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental ethertype
  f[14] = tag;
  return f;
}

function plug(sw: EthernetSwitch): { port: SwitchPort; got: number[] } {
  const port = sw.addPort();
  const got: number[] = [];
  port.onReceive((f) => got.push(f[14]));
  return { port, got };
}

test("switch: floods broadcasts and unknown destinations, forwards to learned ports, never back to the sender", () => {
  const sw = new EthernetSwitch();
  const a = plug(sw);
  const b = plug(sw);
  const c = plug(sw);
  a.port.send(frame(BROADCAST, mac(1), 1));
  assert.deepEqual([a.got, b.got, c.got], [[], [1], [1]]);
  b.port.send(frame(mac(1), mac(2), 2)); // A's MAC was learned from its broadcast
  assert.deepEqual([a.got, b.got, c.got], [[2], [1], [1]]);
  a.port.send(frame(mac(9), mac(1), 3)); // unknown: flooded
  assert.deepEqual([a.got, b.got, c.got], [[2], [1, 3], [1, 3]]);
  a.port.send(frame(mac(2), mac(1), 4));
  assert.deepEqual([a.got, b.got, c.got], [[2], [1, 3, 4], [1, 3]]);
  b.port.close();
  a.port.send(frame(mac(2), mac(1), 5)); // B unplugged: its entry is gone, so flooded to what is left
  assert.deepEqual([a.got, c.got], [[2], [1, 3, 5]]);
  a.port.send(new Uint8Array(5));
  assert.equal(sw.stats.dropped, 1, "runts are dropped");
});

test("switch: a flood of source MACs keeps the table bounded", () => {
  const sw = new EthernetSwitch();
  const a = plug(sw);
  const b = plug(sw);
  for (let i = 0; i < MAX_MAC_ENTRIES * 3; i++) {
    const src = Uint8Array.of(0x02, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255, 1);
    a.port.send(frame(BROADCAST, src, 0));
  }
  assert.equal(b.got.length, MAX_MAC_ENTRIES * 3);
  assert.ok((sw as unknown as { table: Map<string, unknown> }).table.size <= MAX_MAC_ENTRIES);
});

const builder = new GuestSim(); // only its frame builders are used
builder.close();

/** A frame built for the default guest, re-addressed to guest `n` (MAC 52:54:00:00:00:n). */
function asGuest(n: number, f: Uint8Array): Uint8Array {
  f.set(mac(n), 6);
  return f;
}

function dhcpDiscover(n: number): Uint8Array {
  return builder.dhcpDiscover(mac(n), 100 + n);
}

test("switch with a user-mode NAT uplink: two guests get their own leases, and late replies reach only the guest that asked", async () => {
  const sw = new EthernetSwitch();
  sw.attach(new UserNetBackend());
  const guests = [plug2(sw), plug2(sw)];
  try {
    guests.forEach((g, i) => g.port.send(dhcpDiscover(i + 1)));
    const offered = guests.map((g) => {
      const offers = g.frames.map((f) => parseReceived(f)).filter((r) => r?.udp?.dstPort === 68);
      assert.equal(offers.length, 2, "DHCP replies are broadcast, so both guests see both offers");
      return offers.map((r) => get32(r!.frame, r!.udp!.data + 16));
    });
    assert.deepEqual(offered[0], [ip("10.0.2.15"), ip("10.0.2.16")]);
    guests.forEach((g) => (g.frames.length = 0));

    // Guest 1 asks the DNS server (answered later, from the host's resolver); guest 2 talks meanwhile.
    const query = Uint8Array.of(0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...Buffer.from("localhost"), 0, 0, 1, 0, 1);
    guests[0].port.send(asGuest(1, builder.udpFrame(ip("10.0.2.15"), 5000, ip("10.0.2.3"), 53, query)));
    const echo = builder.icmpEcho(ip("10.0.2.2"), 1, 1, new Uint8Array(8)).subarray(34);
    guests[1].port.send(asGuest(2, builder.ipv4Frame(ip("10.0.2.16"), ip("10.0.2.2"), 1, echo)));
    assert.equal(guests[1].frames.length, 1, "guest 2 got its echo reply");
    for (let i = 0; i < 2000 && guests[0].frames.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const answer = parseReceived(guests[0].frames[0]);
    assert.equal(answer?.udp?.srcPort, 53);
    assert.deepEqual(guests[0].frames[0].subarray(0, 6), mac(1), "to guest 1's MAC, not the last sender's");
    assert.equal(guests[1].frames.length, 1, "guest 2 saw nothing of it");
  } finally {
    sw.close();
  }
});

function plug2(sw: EthernetSwitch): { port: SwitchPort; frames: Uint8Array[] } {
  const port = sw.addPort();
  const frames: Uint8Array[] = [];
  port.onReceive((f) => frames.push(f.slice()));
  return { port, frames };
}
