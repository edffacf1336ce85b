/** The DNS server at 10.0.2.3: A/AAAA from the host's resolver, loopback rewritten, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DNS_IP, GUEST_IP, GuestSim, dnsQuery as query, payload } from "./guest-sim.ts";
import { get16 } from "../../src/backends/net/user/bytes.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";

async function ask(sim: GuestSim, name: string, type = 1, id = 77) {
  sim.send(sim.udpFrame(GUEST_IP, 40000 + id, DNS_IP, 53, query(id, name, type)));
  const r = await sim.next((x) => x.udp?.srcPort === 53, `the answer for ${name}`);
  const m = payload(r);
  assert.equal(r.ip.src, DNS_IP);
  assert.equal(r.udp?.dstPort, 40000 + id);
  assert.equal(get16(m, 0), id, "same id");
  const rcode = get16(m, 2) & 15;
  const count = get16(m, 6);
  const answers: string[] = [];
  let p = 12 + (query(id, name, type).length - 12);
  for (let i = 0; i < count; i++) {
    const len = get16(m, p + 10);
    const data = m.subarray(p + 12, p + 12 + len);
    answers.push(len === 4 ? Array.from(data).join(".") : Buffer.from(data).toString("hex"));
    p += 12 + len;
  }
  return { rcode, answers, qr: (get16(m, 2) & 0x8000) !== 0 };
}

test("DNS: the host's resolver answers (a real getaddrinfo lookup of localhost from /etc/hosts), loopback becomes the gateway", async () => {
  const sim = new GuestSim();
  try {
    const r = await ask(sim, "localhost");
    assert.equal(r.qr, true);
    assert.equal(r.rcode, 0);
    assert.deepEqual(r.answers, ["10.0.2.2"]);
  } finally {
    sim.close();
  }
});

test("DNS: A, AAAA, NXDOMAIN, NOTIMP and a malformed query", async () => {
  const names: Record<string, string[]> = { "build.internal": ["192.0.2.7", "192.0.2.8"], "v6.internal": ["2001:db8::5", "::1"] };
  const resolve = async (name: string, family: 4 | 6) => {
    const all = names[name];
    if (all === undefined) return null;
    return all.filter((a) => a.includes(":") === (family === 6));
  };
  // ipv6=off: the guest has no IPv6 path to the host (tests/net/ipv6.test.ts has ::1 becoming fec0::2).
  const sim = new GuestSim(parseUserNetSpec("user,ipv6=off"), { resolve });
  try {
    assert.deepEqual((await ask(sim, "build.internal", 1, 1)).answers, ["192.0.2.7", "192.0.2.8"]);
    const six = await ask(sim, "v6.internal", 28, 2);
    assert.deepEqual(six.answers, ["20010db8000000000000000000000005"], "::1 left out");
    assert.equal((await ask(sim, "nowhere.internal", 1, 3)).rcode, 3, "NXDOMAIN");
    assert.equal((await ask(sim, "build.internal", 15, 4)).rcode, 4, "MX is NOTIMP");
    const bad = query(5, "x", 1);
    bad[12] = 0xc0; // a compression pointer in the question
    sim.send(sim.udpFrame(GUEST_IP, 40005, DNS_IP, 53, bad));
    const r = await sim.next((x) => x.udp?.srcPort === 53);
    assert.equal(get16(payload(r), 2) & 15, 1, "FORMERR");
    assert.equal(sim.net.stats.internalErrors, 0);
  } finally {
    sim.close();
  }
});

test("DNS: restrict=on answers nothing", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,restrict=on"), { resolve: async () => ["192.0.2.1"] });
  try {
    sim.send(sim.udpFrame(GUEST_IP, 40000, DNS_IP, 53, query(1, "a.b", 1)));
    assert.equal((await sim.quiet(30)).length, 0);
  } finally {
    sim.close();
  }
});

