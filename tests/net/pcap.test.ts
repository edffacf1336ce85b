/**
 * dump=FILE.pcap: a capture that Debian's tcpdump reads back — the frames
 * both ways around a user-mode NAT (ARP, ICMP echo, UDP), a frame larger
 * than the writer's buffer, and a VmConfig NIC with dump= built into a machine.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CapturingBackend, PcapWriter } from "../../src/backends/net/pcap.ts";
import { LoopbackEthernetBackend } from "../../src/backends/net/loopback.ts";
import { UserNetBackend } from "../../src/backends/net/user/user-net.ts";
import { buildMachine, closeBackends } from "../../src/vmm/build.ts";
import { ConfigError, validateVmConfig } from "../../src/vmm/config.ts";
import { GuestSim, ip } from "./guest-sim.ts";
import { GSO_TCPV4, NET_HDR_F_NEEDS_CSUM, NetOffload, OFFLOAD_ALL } from "../../src/backends/net/offload.ts";
import { finishChecksum, pseudoHeaderSum } from "../../src/backends/net/user/checksum.ts";
import { put16 } from "../../src/backends/net/user/bytes.ts";
import { PROTO_TCP } from "../../src/backends/net/user/ipv4.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-pcap-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tcpdump(file: string, ...args: string[]): string {
  return execFileSync("tcpdump", ["-n", "-r", file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

test("a capture around the user-mode NAT reads back with tcpdump: ARP, ping both ways, DNS", async () => {
  const file = join(tmp, "nat.pcap");
  const sim = new GuestSim(); // only its frame builders
  sim.close();
  const nat = new CapturingBackend(new UserNetBackend(), new PcapWriter(file));
  let replies = 0;
  nat.onReceive(() => replies++);
  nat.send(sim.arpRequest(ip("10.0.2.2")));
  nat.send(sim.icmpEcho(ip("10.0.2.2"), 0x77, 1, new TextEncoder().encode("pcap-test")));
  const query = Uint8Array.of(0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...Buffer.from("localhost"), 0, 0, 1, 0, 1);
  nat.send(sim.udpFrame(ip("10.0.2.15"), 5000, ip("10.0.2.3"), 53, query));
  for (let i = 0; i < 400 && replies < 3; i++) await new Promise((r) => setTimeout(r, 5));
  nat.close();
  assert.equal(replies, 3);
  const text = tcpdump(file);
  const lines = text.trim().split("\n");
  assert.equal(lines.length, 6, text);
  assert.match(lines[0], /ARP, Request who-has 10\.0\.2\.2 tell 10\.0\.2\.15/);
  assert.match(lines[1], /ARP, Reply 10\.0\.2\.2 is-at 52:55:0a:00:02:02/);
  assert.match(lines[2], /IP 10\.0\.2\.15 > 10\.0\.2\.2: ICMP echo request, id 119, seq 1/);
  assert.match(lines[3], /IP 10\.0\.2\.2 > 10\.0\.2\.15: ICMP echo reply, id 119, seq 1/);
  assert.match(text, /10\.0\.2\.15\.5000 > 10\.0\.2\.3\.53: 7\+ A\? localhost\./);
  assert.match(text, /10\.0\.2\.3\.53 > 10\.0\.2\.15\.5000: 7\*? 1\/0\/0 A 10\.0\.2\.2/);
  // Timestamps in order, close to now.
  const stamps = execFileSync("tcpdump", ["-n", "-tt", "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    .trim().split("\n").map((l) => Number(l.split(" ")[0]));
  assert.ok(stamps.every((t, i) => i === 0 || t >= stamps[i - 1]) && Math.abs(stamps[0] - Date.now() / 1000) < 60, String(stamps));
});

test("frames of every size are recorded whole, the largest past the writer's buffer; many frames flush as they go", () => {
  const file = join(tmp, "sizes.pcap");
  const dump = new PcapWriter(file);
  const loop = new CapturingBackend(new LoopbackEthernetBackend(), dump);
  loop.onReceive(() => {});
  for (const size of [60, 1514, 9018, 65554]) {
    const f = new Uint8Array(size).fill(0xab);
    f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xb5], 0);
    loop.send(f);
  }
  for (let i = 0; i < 2000; i++) loop.send(new Uint8Array(1514).fill(i & 255, 14));
  assert.ok(statSync(file).size > 1_000_000, "full buffers reach the file before close");
  loop.close();
  assert.equal(dump.frames, 2 * 2004, "each frame twice: sent, and looped back");
  const lengths = tcpdump(file, "-e").split("\n").filter((l) => !l.startsWith("\t")).slice(0, 8).map((l) => Number(/length (\d+):/.exec(l)?.[1]));
  assert.deepEqual(lengths, [60, 60, 1514, 1514, 9018, 9018, 65554, 65554]);
  assert.equal(statSync(file).size, 24 + 2 * (4 * 16 + 60 + 1514 + 9018 + 65554) + 2 * 2000 * (16 + 1514));
  assert.throws(() => new PcapWriter(join(tmp, "no-such-folder", "x.pcap")), /^Error: dump=.*x\.pcap: cannot write the capture: ENOENT/);
});

test("a VmConfig NIC with dump= checks its folder and records from the machine it is built into", () => {
  assert.throws(
    () => validateVmConfig({ nics: [{ backend: "null", dump: join(tmp, "missing", "a.pcap") }] }, { requireKernel: false }),
    (e: ConfigError) => /nics\[0\]: dump ".*a\.pcap": no folder .*missing/.test(e.message),
  );
  assert.throws(() => validateVmConfig({ nics: [{ backend: "switch" }] }, { requireKernel: false }), /nics\[0\]: a switch NIC needs path/);
  assert.throws(() => validateVmConfig({ nics: [{ backend: "user", path: "/x" }] }, { requireKernel: false }), /only a switch NIC takes a path/);
  const file = join(tmp, "vm.pcap");
  const config = validateVmConfig({ firmware: { kind: "none" }, nics: [{ backend: "loopback", dump: file }] }, { requireKernel: false });
  assert.deepEqual(config.nics, [{ backend: "loopback", dump: file }]);
  const machine = buildMachine(config, { boot: false });
  closeBackends(machine);
  assert.equal(statSync(file).size, 24, "the capture's header, and no frames: the guest never ran");
});

test("offloaded frames are recorded with their partial checksum finished (tcpdump verifies it); the frame passed on is untouched", () => {
  const file = join(tmp, "offload.pcap");
  const sim = new GuestSim();
  const passed: { frame: Uint8Array; offload?: NetOffload }[] = [];
  const inner = {
    sendOffloads: OFFLOAD_ALL,
    send: (frame: Uint8Array, offload?: NetOffload) => passed.push({ frame: frame.slice(), offload }),
    onReceive: () => {},
  };
  const cap = new CapturingBackend(inner, new PcapWriter(file));
  try {
    assert.equal(cap.sendOffloads, OFFLOAD_ALL);
    const frame = sim.tcpFrame({ srcPort: 5000, dst: ip("10.0.2.2"), dstPort: 80, seq: 1, ack: 1, flags: 0x10, window: 100, data: new Uint8Array(3000).fill(7) });
    put16(frame, 34 + 16, ~finishChecksum(pseudoHeaderSum(ip("10.0.2.15"), ip("10.0.2.2"), PROTO_TCP, frame.length - 34)) & 0xffff);
    const o = new NetOffload();
    o.flags = NET_HDR_F_NEEDS_CSUM;
    o.csumStart = 34;
    o.csumOffset = 16;
    o.gsoType = GSO_TCPV4;
    o.gsoSize = 1460;
    cap.send(frame, o);
    assert.deepEqual(passed[0].frame, frame, "the backend gets the frame as the guest made it");
    cap.close();
    const text = tcpdump(file, "-vv");
    assert.match(text, /length 3000/);
    assert.match(text, /cksum 0x[0-9a-f]+ \(correct\)/);
  } finally {
    sim.close();
  }
});
