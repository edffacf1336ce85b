/**
 * IPv6 in the user-mode NAT, as slirp does it: router advertisements for
 * SLAAC, neighbour discovery, ICMPv6 echo, DNS over IPv6, and TCP and UDP
 * over IPv6 to the host's ::1 through the gateway address fec0::2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { DNS_IP6, GATEWAY_MAC, GUEST_IP6, GUEST_LINK_LOCAL, GUEST_MAC, GuestSim, GuestTcp, HOST_IP6, dnsQuery, payload, type Received } from "./guest-sim.ts";
import { get16, get32 } from "../../src/backends/net/user/bytes.ts";
import { formatIpv6, ipv6Bytes } from "../../src/backends/net/user/ipv6-address.ts";
import { PROTO_ICMPV6, type Ipv6Packet } from "../../src/backends/net/user/ipv6.ts";
import { ACK, FIN, RST, SYN } from "../../src/backends/net/user/tcp-segment.ts";
import { OUR_MSS } from "../../src/backends/net/user/tcp-connection.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";

const RS = 133;
const RA = 134;
const NS = 135;
const NA = 136;
const ALL_ROUTERS_MAC = Uint8Array.of(0x33, 0x33, 0, 0, 0, 2);

const icmp6 = (type: number) => (r: Received) => r.ip.protocol === PROTO_ICMPV6 && r.frame[r.ip.payload] === type;

/** A neighbour solicitation for `target`, with the source link-layer option unless from "::". */
function solicit(sim: GuestSim, src: string, target: string, hopLimit = 255): Uint8Array {
  const body = new Uint8Array(src === "::" ? 20 : 28);
  body.set(ipv6Bytes(target), 4);
  if (src !== "::") body.set([1, 1, ...GUEST_MAC], 20);
  const b = ipv6Bytes(target);
  const solicitedNode = `ff02::1:ff${b[13].toString(16).padStart(2, "0")}:${((b[14] << 8) | b[15]).toString(16)}`;
  return sim.icmpv6(src, solicitedNode, NS, body, { hopLimit, dstMac: Uint8Array.of(0x33, 0x33, 0xff, b[13], b[14], b[15]) });
}

test("IPv6: a router solicitation gets slirp's router advertisement: fec0::/64 for SLAAC, MTU, DNS fec0::3, from fe80::2", async () => {
  const sim = new GuestSim();
  try {
    sim.send(sim.icmpv6(GUEST_LINK_LOCAL, "ff02::2", RS, new Uint8Array(4), { hopLimit: 255, dstMac: ALL_ROUTERS_MAC }));
    const r = await sim.next(icmp6(RA), "a router advertisement");
    const ip = r.ip as Ipv6Packet;
    assert.equal(ip.src, "fe80::2");
    assert.equal(ip.dst, "ff02::1");
    assert.equal(ip.hopLimit, 255);
    assert.deepEqual([...r.frame.subarray(0, 6)], [0x33, 0x33, 0, 0, 0, 1], "to the all-nodes multicast MAC");
    const m = r.frame.subarray(ip.payload, ip.payload + ip.payloadLength);
    assert.equal(m[5] & 0xc0, 0, "no DHCPv6: M and O clear");
    assert.ok(get16(m, 6) > 0, "a default router (lifetime > 0)");
    const options = new Map<number, Uint8Array>();
    for (let p = 16; p < m.length; p += m[p + 1] * 8) options.set(m[p], m.subarray(p, p + m[p + 1] * 8));
    assert.deepEqual([...options.get(1)!.subarray(2, 8)], [...GATEWAY_MAC], "source link-layer address");
    assert.equal(get32(options.get(5)!, 4), 1500, "MTU");
    const prefix = options.get(3)!;
    assert.equal(prefix[2], 64);
    assert.equal(prefix[3] & 0xc0, 0xc0, "on-link and autonomous (SLAAC)");
    assert.equal(formatIpv6(prefix, 16), "fec0::");
    assert.ok(get32(prefix, 4) >= get32(prefix, 8), "valid lifetime ≥ preferred");
    assert.equal(formatIpv6(options.get(25)!, 8), "fec0::3", "RDNSS");
  } finally {
    sim.close();
  }
});

test("IPv6: ipv6-net=, ipv6-host=, ipv6-dns= move the advertised prefix and the gateway's addresses", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,ipv6-net=fd00:1:2:3::/64,ipv6-host=fd00:1:2:3::1,ipv6-dns=fd00:1:2:3::53"));
  try {
    sim.send(sim.icmpv6("fe80::1", "ff02::2", RS, new Uint8Array(4), { hopLimit: 255, dstMac: ALL_ROUTERS_MAC }));
    const r = await sim.next(icmp6(RA), "a router advertisement");
    const m = payload(r);
    assert.equal(formatIpv6(m, 16 + 16 + 16), "fd00:1:2:3::", "prefix option");
    assert.equal(formatIpv6(m, 16 + 16 + 32 + 8), "fd00:1:2:3::53", "RDNSS");
    sim.send(solicit(sim, "fd00:1:2:3::99", "fd00:1:2:3::1"));
    const na = await sim.next(icmp6(NA), "the neighbour advertisement of ipv6-host");
    assert.equal(formatIpv6(payload(na), 8), "fd00:1:2:3::1");
  } finally {
    sim.close();
  }
});

test("IPv6 NDP: the gateway answers solicitations for fec0::2, fec0::3 and fe80::2 — and nothing else, nor DAD probes or forwarded ones", async () => {
  const sim = new GuestSim();
  try {
    for (const [src, target] of [[GUEST_IP6, HOST_IP6], [GUEST_LINK_LOCAL, "fe80::2"], [GUEST_IP6, DNS_IP6]]) {
      sim.send(solicit(sim, src, target));
      const r = await sim.next(icmp6(NA), `the advertisement of ${target}`);
      const m = payload(r);
      assert.equal(r.ip.src, target);
      assert.equal(r.ip.dst, src);
      assert.equal((r.ip as Ipv6Packet).hopLimit, 255);
      assert.deepEqual([...r.frame.subarray(0, 6)], [...GUEST_MAC], "unicast to the asker");
      assert.equal(m[4] & 0xe0, 0xe0, "router, solicited, override");
      assert.equal(formatIpv6(m, 8), target);
      assert.deepEqual([...m.subarray(24, 32)], [2, 1, ...GATEWAY_MAC], "target link-layer address");
    }
    const before = sim.net.stats.dropped;
    sim.send(solicit(sim, "::", GUEST_IP6)); // the guest's duplicate address detection: not ours, stay silent
    sim.send(solicit(sim, GUEST_IP6, "fec0::99")); // nobody
    sim.send(solicit(sim, GUEST_IP6, HOST_IP6, 64)); // not from the link (hop limit < 255)
    const bad = solicit(sim, GUEST_IP6, HOST_IP6);
    bad[bad.length - 1] ^= 1; // checksum broken
    sim.send(bad);
    assert.deepEqual(await sim.quiet(30), []);
    assert.equal(sim.net.stats.dropped - before, 4);
  } finally {
    sim.close();
  }
});

test("IPv6: echo to fec0::2 and fec0::3 is answered with the same id, sequence and data; other addresses get nothing", async () => {
  const sim = new GuestSim();
  try {
    const data = Buffer.from("ping6 payload 0123456789");
    for (const dst of [HOST_IP6, DNS_IP6]) {
      const body = Buffer.concat([Buffer.from([0x12, 0x34, 0, 7]), data]);
      sim.send(sim.icmpv6(GUEST_IP6, dst, 128, body));
      const r = await sim.next(icmp6(129), `the echo reply from ${dst}`);
      assert.equal(r.ip.src, dst);
      assert.equal(r.ip.dst, GUEST_IP6);
      assert.deepEqual(Buffer.from(payload(r).subarray(4)), body);
    }
    sim.send(sim.icmpv6(GUEST_IP6, "fec0::99", 128, Buffer.from([0, 1, 0, 1])));
    sim.send(sim.icmpv6("2001:db8::1", HOST_IP6, 128, Buffer.from([0, 1, 0, 1]))); // not from the guest's prefix
    assert.deepEqual(await sim.quiet(30), []);
  } finally {
    sim.close();
  }
});

test("IPv6 DNS at fec0::3: AAAA and A answers over IPv6, the host's ::1 becomes fec0::2", async () => {
  const names: Record<string, string[]> = { "v6.internal": ["2001:db8::5", "::1"], "v4.internal": ["192.0.2.7"] };
  const resolve = async (name: string, family: 4 | 6) => (names[name] ?? []).filter((a) => a.includes(":") === (family === 6));
  const sim = new GuestSim(undefined, { resolve });
  try {
    const ask = async (id: number, name: string, type: number) => {
      sim.send(sim.udpFrame(GUEST_IP6, 41000 + id, DNS_IP6, 53, dnsQuery(id, name, type)));
      const r = await sim.next((x) => x.udp?.dstPort === 41000 + id, `the answer for ${name}`);
      assert.equal(r.ip.src, DNS_IP6);
      const m = payload(r);
      assert.equal(get16(m, 0), id);
      const answers: string[] = [];
      let p = dnsQuery(id, name, type).length;
      for (let i = 0; i < get16(m, 6); i++) {
        const len = get16(m, p + 10);
        answers.push(len === 16 ? formatIpv6(m, p + 12) : Array.from(m.subarray(p + 12, p + 16)).join("."));
        p += 12 + len;
      }
      return answers;
    };
    assert.deepEqual(await ask(1, "v6.internal", 28), ["2001:db8::5", "fec0::2"]);
    assert.deepEqual(await ask(2, "v4.internal", 1), ["192.0.2.7"]);
  } finally {
    sim.close();
  }
});

test("IPv6 TCP: a connection to fec0::2 reaches a host server on ::1 (MSS 1440), data both ways, FIN both ways", async () => {
  const fromGuest: Buffer[] = [];
  let peer = "";
  const srv = createServer({ allowHalfOpen: true }, (s: Socket) => {
    peer = s.remoteAddress ?? "";
    s.on("error", () => {});
    s.on("data", (d) => fromGuest.push(d));
    s.on("end", () => s.end("y".repeat(5000)));
  });
  srv.listen(0, "::1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  const sim = new GuestSim();
  try {
    const g = new GuestTcp(sim, 42001, HOST_IP6, port);
    const synAck = await g.connect(1440);
    assert.equal(synAck.flags, SYN | ACK);
    assert.equal(synAck.mss, OUR_MSS - 20, "an IPv6 header is 20 bytes longer");
    g.write(Buffer.from("hello over v6"));
    g.segment(FIN | ACK);
    g.seq = (g.seq + 1) >>> 0;
    let fin = false;
    while (!fin) {
      const r = await sim.next(g.fromPeer, "the host's answer and FIN");
      assert.equal(r.ip.src, HOST_IP6);
      assert.ok(r.tcp!.dataLength <= 1440);
      fin = (r.tcp!.flags & FIN) !== 0;
      g.take(r);
    }
    assert.equal(g.text(), "y".repeat(5000));
    assert.equal(Buffer.concat(fromGuest).toString(), "hello over v6");
    assert.equal(peer, "::1");
  } finally {
    sim.close();
    srv.close();
  }
});

test("IPv6 TCP: a closed port, an address on the virtual net and restrict=on are refused with a RST", async () => {
  const probe = createServer().listen(0, "::1");
  await once(probe, "listening");
  const closedPort = (probe.address() as { port: number }).port;
  probe.close();
  for (const [spec, dst, port] of [["user", HOST_IP6, closedPort], ["user", "fec0::99", 80], ["user,restrict=on", "2001:db8::1", 80]] as const) {
    const sim = new GuestSim(parseUserNetSpec(spec));
    try {
      const g = new GuestTcp(sim, 42002, dst, port);
      const t = await g.connect();
      assert.equal(t.flags & RST, RST, `${spec} → [${dst}]:${port}`);
    } finally {
      sim.close();
    }
  }
});

test("IPv6 UDP: a datagram to fec0::2 reaches the host's ::1 and the reply comes back from fec0::2", async () => {
  const echo = createSocket("udp6");
  echo.on("message", (msg, rinfo) => echo.send(Buffer.concat([Buffer.from("echo:"), msg]), rinfo.port, rinfo.address));
  echo.bind(0, "::1");
  await once(echo, "listening");
  const port = echo.address().port;
  const sim = new GuestSim();
  try {
    sim.send(sim.udpFrame(GUEST_IP6, 5555, HOST_IP6, port, Buffer.from("v6 datagram")));
    const r = await sim.next((x) => x.udp?.dstPort === 5555, "the echo");
    assert.equal(r.ip.src, HOST_IP6);
    assert.equal(r.ip.dst, GUEST_IP6);
    assert.equal(r.udp?.srcPort, port);
    assert.equal(Buffer.from(payload(r)).toString(), "echo:v6 datagram");
  } finally {
    sim.close();
    echo.close();
  }
});

test("ipv6=off: no router advertisement, no neighbour advertisement, no TCP over IPv6", async () => {
  const sim = new GuestSim(parseUserNetSpec("user,ipv6=off"));
  try {
    sim.send(sim.icmpv6(GUEST_LINK_LOCAL, "ff02::2", RS, new Uint8Array(4), { hopLimit: 255, dstMac: ALL_ROUTERS_MAC }));
    sim.send(solicit(sim, GUEST_IP6, HOST_IP6));
    sim.send(sim.tcpFrame({ srcPort: 1, dst: HOST_IP6, dstPort: 80, seq: 1, ack: 0, flags: SYN, window: 1000, mss: 1440 }));
    assert.deepEqual(await sim.quiet(30), []);
    assert.equal(sim.net.stats.dropped, 3);
  } finally {
    sim.close();
  }
});

test("IPv6 options parse as QEMU's and bad ones are one-line errors", () => {
  const d = parseUserNetSpec("user");
  assert.deepEqual([d.ipv6, d.ipv6Prefix, d.ipv6PrefixLength, d.ipv6Host, d.ipv6Dns], [true, "fec0::", 64, "fec0::2", "fec0::3"]);
  const c = parseUserNetSpec("user,ipv6-net=fd00::1234/48");
  assert.deepEqual([c.ipv6Prefix, c.ipv6PrefixLength, c.ipv6Host, c.ipv6Dns], ["fd00::", 48, "fd00::2", "fd00::3"]);
  assert.equal(parseUserNetSpec("user,ipv6=off").ipv6, false);
  for (const [spec, pattern] of [
    ["user,ipv6=maybe", /ipv6=maybe: expected on or off/],
    ["user,ipv6-net=fec0::/127", /ipv6-net=fec0::\/127: expected ADDRESS\[\/PREFIX\]/],
    ["user,ipv6-net=10.0.2.0/24", /expected ADDRESS/],
    ["user,ipv6-host=fd00::2", /ipv6-host=fd00::2 is not a host address in ipv6-net=fec0::\/64/],
    ["user,ipv6-dns=nonsense", /ipv6-dns=nonsense: expected an IPv6 address/],
    ["user,ipv6-host=fec0::3", /ipv6-host and ipv6-dns must differ/],
  ] as const) {
    assert.throws(() => parseUserNetSpec(spec), (e: Error) => pattern.test(e.message) && !e.message.includes("\n"), spec);
  }
});
