/**
 * A hostile guest against the user-mode NAT: random frames, valid frames
 * with random bytes changed (checksums repaired half of the time so the
 * damage reaches the protocol parsers), and floods of SYNs and datagrams.
 * Nothing may throw out of the backend, every frame it sends back must be
 * well formed, and its tables must stay within their limits.
 *
 *   FUZZ_SEED=n        base seed
 *   FUZZ_ITERATIONS=n  scale the number of frames (default 1)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { Prng } from "../diff/prng.ts";
import { GUEST_IP, GuestSim, HOST_IP, DNS_IP, parseReceived, GUEST_IP6, GUEST_LINK_LOCAL, HOST_IP6, DNS_IP6, dnsQuery } from "./guest-sim.ts";
import { formatIpv6, ipv6Bytes } from "../../src/backends/net/user/ipv6-address.ts";
import { put16 } from "../../src/backends/net/user/bytes.ts";
import { finishChecksum, pseudoHeaderSum, sumWords } from "../../src/backends/net/user/checksum.ts";
import { parseUserNetSpec } from "../../src/backends/net/user/options.ts";
import { MAX_TCP_CONNECTIONS } from "../../src/backends/net/user/tcp-nat.ts";
import { MAX_UDP_SESSIONS } from "../../src/backends/net/user/udp-nat.ts";
import { SYN } from "../../src/backends/net/user/tcp-segment.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed11);
const SCALE = Number(process.env.FUZZ_ITERATIONS ?? 1);

/** Repairs the IP header checksum and the TCP/UDP/ICMP(v6) checksum of a frame, as far as its lengths allow. */
function repairChecksums(f: Uint8Array): void {
  if (f.length >= 54 && f[12] === 0x86 && f[13] === 0xdd) {
    repairIpv6Checksum(f);
    return;
  }
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00) return;
  const ihl = (f[14] & 15) * 4;
  if (ihl < 20 || 14 + ihl > f.length) return;
  put16(f, 24, 0);
  put16(f, 24, finishChecksum(sumWords(f, 14, 14 + ihl)));
  const total = Math.min((f[16] << 8) | f[17], f.length - 14);
  const start = 14 + ihl;
  const len = total - ihl;
  if (len < 8) return;
  const src = ((f[26] << 24) | (f[27] << 16) | (f[28] << 8) | f[29]) >>> 0;
  const dst = ((f[30] << 24) | (f[31] << 16) | (f[32] << 8) | f[33]) >>> 0;
  const proto = f[23];
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 ? 2 : -1;
  if (at < 0 || start + at + 2 > f.length || (proto === 6 && len < 20)) return;
  put16(f, start + at, 0);
  const pseudo = proto === 1 ? 0 : pseudoHeaderSum(src, dst, proto, proto === 17 ? Math.min((f[start + 4] << 8) | f[start + 5], len) : len);
  const end = proto === 17 ? start + Math.min((f[start + 4] << 8) | f[start + 5], len) : start + len;
  put16(f, start + at, finishChecksum(sumWords(f, start, end, pseudo)));
}

function repairIpv6Checksum(f: Uint8Array): void {
  const proto = f[20];
  const len = Math.min((f[18] << 8) | f[19], f.length - 54);
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : -1;
  if (at < 0 || len < at + 2 || (proto === 6 && len < 20)) return;
  const end = proto === 17 ? 54 + Math.min((f[58] << 8) | f[59], len) : 54 + len;
  put16(f, 54 + at, 0);
  put16(f, 54 + at, finishChecksum(sumWords(f, 54, end, pseudoHeaderSum(formatIpv6(f, 22), formatIpv6(f, 38), proto, end - 54))));
}

/** IPv6 seeds: router and neighbour solicitations, echo, DNS, UDP and TCP to fec0::2. */
function corpus6(sim: GuestSim, tcpPort: number, udpPort: number): Uint8Array[] {
  const ns = new Uint8Array(28);
  ns.set(ipv6Bytes(HOST_IP6), 4);
  ns.set([1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56], 20);
  return [
    sim.icmpv6(GUEST_LINK_LOCAL, "ff02::2", 133, new Uint8Array(4), { hopLimit: 255 }),
    sim.icmpv6(GUEST_IP6, "ff02::1:ff00:2", 135, ns, { hopLimit: 255 }),
    sim.icmpv6(GUEST_IP6, HOST_IP6, 128, Buffer.from([0, 1, 0, 1, ...Buffer.from("ping6")])),
    sim.udpFrame(GUEST_IP6, 3000, DNS_IP6, 53, dnsQuery(9, "localhost", 28)),
    sim.udpFrame(GUEST_IP6, 3001, HOST_IP6, udpPort, Buffer.from("datagram")),
    sim.tcpFrame({ srcPort: 3002, dst: HOST_IP6, dstPort: tcpPort, seq: 1, ack: 0, flags: SYN, window: 65535, mss: 1440, wscale: 7 }),
    sim.tcpFrame({ srcPort: 3002, dst: HOST_IP6, dstPort: tcpPort, seq: 2, ack: 0, flags: 0x18, window: 65535, data: Buffer.from("payload") }),
  ];
}

function corpus(sim: GuestSim, tcpPort: number, udpPort: number): Uint8Array[] {
  const dhcp = new Uint8Array(300);
  dhcp.set([1, 1, 6], 0);
  dhcp.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 50, 4, 10, 0, 2, 15, 255], 236);
  const dns = Uint8Array.of(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...Buffer.from("localhost"), 0, 0, 1, 0, 1);
  return [
    sim.arpRequest(HOST_IP),
    sim.icmpEcho(HOST_IP, 1, 1, new Uint8Array(32)),
    sim.udpFrame(0, 68, 0xffffffff, 67, dhcp),
    sim.udpFrame(GUEST_IP, 3000, DNS_IP, 53, dns),
    sim.udpFrame(GUEST_IP, 3001, HOST_IP, udpPort, Buffer.from("datagram")),
    sim.tcpFrame({ srcPort: 3002, dst: HOST_IP, dstPort: tcpPort, seq: 1, ack: 0, flags: SYN, window: 65535, mss: 1460, wscale: 7 }),
    sim.tcpFrame({ srcPort: 3002, dst: HOST_IP, dstPort: tcpPort, seq: 2, ack: 0, flags: 0x18, window: 65535, data: Buffer.from("payload") }),
    sim.tcpFrame({ srcPort: 3002, dst: HOST_IP, dstPort: tcpPort, seq: 2, ack: 0, flags: 0x11, window: 0 }),
  ];
}

async function hostPeers(loopback = "127.0.0.1") {
  const sockets: Socket[] = [];
  const tcp = createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    s.on("data", () => s.write("reply"));
  });
  tcp.listen(0, loopback);
  await once(tcp, "listening");
  const udp = createSocket(loopback.includes(":") ? "udp6" : "udp4");
  udp.on("message", (m, r) => udp.send(m, r.port, r.address));
  udp.bind(0, loopback);
  await once(udp, "listening");
  return {
    tcpPort: (tcp.address() as { port: number }).port,
    udpPort: udp.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      tcp.close();
      udp.close();
    },
    connections: () => sockets.length,
  };
}

/** A sim whose every outgoing frame is checked for well-formedness. */
function checkedSim(spec: string): { sim: GuestSim; badReplies: () => number; ipv6Replies: () => number } {
  const sim = new GuestSim(parseUserNetSpec(spec));
  let bad = 0;
  let ipv6 = 0;
  sim.net.onReceive((f) => {
    if (f[12] === 0x86 && f[13] === 0xdd) ipv6++;
    try {
      parseReceived(f);
    } catch {
      bad++;
    }
  });
  return { sim, badReplies: () => bad, ipv6Replies: () => ipv6 };
}

test("fuzz: random and mutated frames never throw, every reply is well formed, tables stay bounded", async () => {
  const peers = await hostPeers();
  const peers6 = await hostPeers("::1");
  for (const spec of ["user,restrict=on", "user"]) {
    const { sim, badReplies, ipv6Replies } = checkedSim(spec);
    const rng = new Prng(SEED + spec.length);
    const seeds = [...corpus(sim, peers.tcpPort, peers.udpPort), ...corpus6(sim, peers6.tcpPort, peers6.udpPort)];
    const frames = 20_000 * SCALE;
    const heapBefore = process.memoryUsage().heapUsed;
    try {
      for (let i = 0; i < frames; i++) {
        let f: Uint8Array;
        if (rng.chance(0.2)) {
          f = new Uint8Array(rng.int(1600));
          for (let k = 0; k < f.length; k++) f[k] = rng.int(256);
          if (f.length >= 15 && rng.chance(0.5)) f.set(rng.chance(0.5) ? [0x08, 0x00, 0x45] : [0x86, 0xdd, 0x60], 12);
        } else {
          const base = rng.pick(seeds);
          f = base.slice(0, rng.chance(0.1) ? rng.int(base.length + 1) : base.length);
          const flips = 1 + rng.int(6);
          for (let k = 0; k < flips && f.length > 0; k++) f[rng.int(f.length)] = rng.int(256);
          // Keep the destination at the gateway in the open config, so nothing leaves for the world.
          if (spec === "user" && f.length >= 34 && f[12] === 0x08 && f[13] === 0) f.set([10, 0, 2, 2], 30);
          if (spec === "user" && f.length >= 54 && f[12] === 0x86 && f[13] === 0xdd && f[38] !== 0xff) f.set(ipv6Bytes(HOST_IP6), 38);
          if (rng.chance(0.5)) repairChecksums(f);
        }
        assert.doesNotThrow(() => sim.send(f));
        if (i % 2000 === 0) await new Promise((r) => setImmediate(r)); // let host sockets answer
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(sim.net.stats.internalErrors, 0, "no exception inside the backend");
      assert.equal(badReplies(), 0, "every frame sent to the guest parses with valid checksums");
      assert.ok(sim.net.tcp.connections.size <= MAX_TCP_CONNECTIONS);
      assert.ok(sim.net.udp.sessionCount <= MAX_UDP_SESSIONS);
      assert.ok(sim.net.stats.framesOut > 0, "some of it was answered");
      assert.ok(ipv6Replies() > 0, "some IPv6 was answered");
      const grown = process.memoryUsage().heapUsed - heapBefore;
      assert.ok(grown < 64 << 20, `heap grew ${(grown / 1048576).toFixed(1)} MiB`);
    } finally {
      sim.close();
    }
  }
  peers.close();
  peers6.close();
});

test("flood: thousands of SYNs and datagrams from distinct ports stay within the connection and session limits", async () => {
  const peers = await hostPeers();
  const { sim, badReplies } = checkedSim("user");
  try {
    for (let port = 10000; port < 12000; port++) {
      sim.send(sim.tcpFrame({ srcPort: port, dst: HOST_IP, dstPort: peers.tcpPort, seq: port, ack: 0, flags: SYN, window: 65535, mss: 1460 }));
      sim.send(sim.udpFrame(GUEST_IP, port, HOST_IP, peers.udpPort, Buffer.from("x")));
    }
    assert.equal(sim.net.tcp.connections.size, MAX_TCP_CONNECTIONS, "SYNs beyond the limit are refused");
    assert.equal(sim.net.udp.sessionCount, MAX_UDP_SESSIONS, "the oldest sessions made room");
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(peers.connections() <= MAX_TCP_CONNECTIONS, `host saw ${peers.connections()} connections`);
    assert.equal(sim.net.stats.internalErrors, 0);
    assert.equal(badReplies(), 0);
  } finally {
    sim.close();
    peers.close();
  }
});
