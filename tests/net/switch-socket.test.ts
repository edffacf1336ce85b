/**
 * The switch across processes, at the byte level: QEMU's stream framing,
 * raw socket peers, `--net switch=PATH`'s client backend, the NAT uplink's
 * leases per MAC (freed when a VM leaves), the socket's lifetime, and
 * hostile peers (bad lengths, floods, too many connections).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { MAX_STREAM_FRAME, StreamFrameDecoder, StreamFramingError, encodeStreamFrame } from "../../src/backends/net/stream-framing.ts";
import { MAX_QUEUED_BYTES, StreamLink } from "../../src/backends/net/stream-link.ts";
import { MAX_SOCKET_PORTS } from "../../src/backends/net/switch-socket.ts";
import { SwitchClientBackend } from "../../src/backends/net/switch-client.ts";
import { openSwitch, type VirtualSwitch } from "../../src/backends/net/virtual-switch.ts";
import { get32 } from "../../src/backends/net/user/bytes.ts";
import { GuestSim, parseReceived } from "./guest-sim.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-switch-socket-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let serial = 0;
const socketPath = () => join(tmp, `sw${++serial}.sock`);

const mac = (n: number) => Uint8Array.of(0x52, 0x54, 0, 0, 0, n);
const BROADCAST = Uint8Array.of(255, 255, 255, 255, 255, 255);

function frame(dst: Uint8Array, src: Uint8Array, tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

/** A raw peer speaking the framing by hand, collecting the tags it receives. */
async function peer(path: string): Promise<{ socket: Socket; tags: number[]; frames: () => number }> {
  const socket = connect(path);
  await once(socket, "connect");
  const tags: number[] = [];
  const decoder = new StreamFrameDecoder((f) => tags.push(f[14]));
  socket.on("data", (d) => decoder.push(d));
  socket.on("error", () => {});
  return { socket, tags, frames: () => tags.length };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), what);
}

test("framing: frames split at every byte boundary come out whole; runts are skipped; a length over the limit is an error", () => {
  const frames = [frame(BROADCAST, mac(1), 1), frame(mac(2), mac(1), 2, 1514), new Uint8Array(3), frame(mac(3), mac(1), 3, 14)];
  const stream = Buffer.concat(frames.map((f) => encodeStreamFrame(f)));
  for (let cut = 0; cut <= stream.length; cut += 7) {
    const got: Uint8Array[] = [];
    const decoder = new StreamFrameDecoder((f) => got.push(Uint8Array.from(f)));
    decoder.push(stream.subarray(0, cut));
    decoder.push(stream.subarray(cut));
    assert.deepEqual(got, [frames[0], frames[1], frames[3]]);
    assert.equal(decoder.runts, 1);
  }
  const decoder = new StreamFrameDecoder(() => {});
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(MAX_STREAM_FRAME + 1);
  assert.throws(() => decoder.push(huge), StreamFramingError);
  const biggest = Buffer.alloc(4 + MAX_STREAM_FRAME);
  biggest.writeUInt32BE(MAX_STREAM_FRAME);
  let n = 0;
  new StreamFrameDecoder(() => n++).push(biggest);
  assert.equal(n, 1, "QEMU's largest frame is taken");
});

test("socket switch: peers in other processes' framing learn, flood and forward; ports and their counters are listed", async () => {
  const sw = await openSwitch({ path: socketPath() });
  try {
    const a = await peer(sw.path!);
    const b = await peer(sw.path!);
    const c = await peer(sw.path!);
    a.socket.write(encodeStreamFrame(frame(BROADCAST, mac(1), 1)));
    await until(() => b.frames() === 1 && c.frames() === 1, "the broadcast reached B and C");
    b.socket.write(encodeStreamFrame(frame(mac(1), mac(2), 2)));
    await until(() => a.frames() === 1, "B's unicast reached A");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([a.tags, b.tags, c.tags], [[2], [1], [1]], "C did not see the unicast; nothing came back to its sender");
    const ports = sw.ports();
    assert.deepEqual(ports.map((p) => [p.kind, p.macs, p.framesIn, p.framesOut]), [
      ["socket", ["52:54:00:00:00:01"], 1, 1],
      ["socket", ["52:54:00:00:00:02"], 1, 1],
      ["socket", [], 0, 1],
    ]);
    c.socket.destroy();
    await until(() => sw.ports().length === 2, "a peer that hangs up is unplugged");
  } finally {
    await sw.close();
  }
});

test("--net switch=PATH's backend: frames both ways through a switch; no switch is a one-line error", async () => {
  const sw = await openSwitch({ path: socketPath() });
  const local = sw.addPort("local");
  const got: Uint8Array[] = [];
  local.onReceive((f) => got.push(f.slice()));
  const nic = new SwitchClientBackend(sw.path!);
  const back: Uint8Array[] = [];
  nic.onReceive((f) => back.push(f.slice()));
  try {
    await nic.ready();
    nic.send(frame(BROADCAST, mac(7), 7));
    await until(() => got.length === 1, "the client's frame crossed the switch");
    local.send(frame(mac(7), mac(8), 8, 1514));
    await until(() => back.length === 1, "and a frame came back");
    assert.equal(back[0].length, 1514);
    assert.equal(back[0][14], 8);
  } finally {
    nic.close();
    await sw.close();
  }
  const missing = new SwitchClientBackend(join(tmp, "nobody.sock"));
  await assert.rejects(missing.ready(), /^Error: --net switch=.*nobody\.sock: no switch is listening there \(start one: typevisor switch PATH\)$/);
  missing.send(frame(BROADCAST, mac(1), 1)); // dropped, not thrown
  missing.close();
});

test("the NAT uplink leases per MAC, and frees a VM's lease when it leaves the switch", async () => {
  const sw = await openSwitch({ path: socketPath(), uplink: "user" });
  const builder = new GuestSim();
  builder.close();
  const discover = (n: number): Uint8Array => builder.dhcpDiscover(mac(n), 100 + n);
  const offerTo = (frames: Uint8Array[], n: number): number | undefined => {
    for (const f of frames) {
      const r = parseReceived(f);
      if (r?.udp?.dstPort === 68 && r.frame[r.udp.data + 28 + 5] === n) return get32(r.frame, r.udp.data + 16);
    }
    return undefined;
  };
  const nics = [1, 2].map(() => new SwitchClientBackend(sw.path!));
  const frames: Uint8Array[][] = [[], []];
  nics.forEach((nic, i) => nic.onReceive((f) => frames[i].push(f.slice())));
  try {
    await Promise.all(nics.map((n) => n.ready()));
    nics[0].send(discover(1));
    await until(() => offerTo(frames[0], 1) !== undefined, "guest 1 got an offer");
    nics[1].send(discover(2));
    await until(() => offerTo(frames[1], 2) !== undefined, "guest 2 got an offer");
    assert.equal(offerTo(frames[0], 1), 0x0a00020f);
    assert.equal(offerTo(frames[1], 2), 0x0a000210, "a second MAC gets the next address");
    assert.equal(sw.nat!.dhcp.leaseOf("52:54:00:00:00:01"), 0x0a00020f);
    assert.equal(sw.ports().find((p) => p.kind === "uplink")?.framesIn, 2);
    nics[0].close();
    await until(() => sw.nat!.dhcp.leaseOf("52:54:00:00:00:01") === undefined, "guest 1's lease was freed when it left");
    assert.equal(sw.nat!.dhcp.leaseOf("52:54:00:00:00:02"), 0x0a000210, "guest 2 keeps its own");
  } finally {
    for (const nic of nics) nic.close();
    await sw.close();
  }
});

test("the socket file: a stale one is replaced, a live switch or a plain file is refused, close removes it", async () => {
  const path = socketPath();
  const first = await openSwitch({ path });
  await assert.rejects(openSwitch({ path }), /^SwitchSocketError: switch .*: another switch is already listening there$/);
  await first.close();
  assert.equal(existsSync(path), false);
  const file = join(tmp, "plain");
  writeFileSync(file, "x");
  await assert.rejects(openSwitch({ path: file }), /the path exists and is not a socket/);
  await assert.rejects(openSwitch({ path: socketPath(), uplink: "user,bogus=1" }), /bogus/);
});

test("hostile peers: a bad length ends only that connection; a peer that never reads costs a bounded queue; connections are bounded", async () => {
  const sw: VirtualSwitch = await openSwitch({ path: socketPath() });
  try {
    const good = await peer(sw.path!);
    const other = await peer(sw.path!);
    // Garbage: the length 0xffffffff cannot be resynchronised, so the switch hangs up.
    const garbage = await peer(sw.path!);
    garbage.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 1, 2]));
    await once(garbage.socket, "close");
    // A length prefix with the frame never finished: the port waits, holding at most one frame's buffer.
    const stalled = await peer(sw.path!);
    stalled.socket.write(Buffer.from([0, 0, 0x10, 0]));

    // A peer that never reads, and a flood of broadcasts from another.
    const deaf = await peer(sw.path!);
    deaf.socket.pause();
    const burst = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodeStreamFrame(frame(BROADCAST, mac(9), i & 255, 1514))));
    for (let i = 0; i < 40; i++) other.socket.write(burst); // 40000 frames, 60 MB
    // Ports now: good, other, stalled, deaf (the garbage peer's is gone).
    assert.equal(sw.ports().length, 4);
    const port = (i: number) => sw.ports()[i];
    await until(() => port(3).framesOut === 40000, "the flood went through the switch");
    await until(() => good.frames() + port(0).dropped === 40000, "a reading peer got every frame not dropped for it");
    const deafQueued = port(3).framesOut - port(3).dropped;
    // What the deaf peer holds is its queue plus what the kernel's socket buffer took: a few hundred frames, not 40000.
    assert.ok(deafQueued * 1518 <= MAX_QUEUED_BYTES + (4 << 20), `${deafQueued} frames held for the deaf peer`);
    assert.ok(good.frames() > deafQueued, `the reader got more (${good.frames()}) than the deaf peer's queue (${deafQueued})`);

    good.tags.length = 0;
    other.socket.write(encodeStreamFrame(frame(mac(1), mac(2), 42)));
    good.socket.write(encodeStreamFrame(frame(mac(2), mac(1), 43)));
    await until(() => good.tags.includes(42), "the switch still forwards");

    const extra: Socket[] = [];
    for (let i = sw.ports().length; i < MAX_SOCKET_PORTS + 3; i++) {
      const s = connect(sw.path!);
      s.on("error", () => {});
      extra.push(s);
    }
    await until(() => extra.filter((s) => s.destroyed || s.closed).length >= 3, "connections beyond the limit were refused");
    assert.equal(sw.ports().length, MAX_SOCKET_PORTS);
    for (const s of extra) s.destroy();
    stalled.socket.destroy();
    deaf.socket.destroy();
  } finally {
    await sw.close();
  }
});

test("a receiver that throws loses that frame only: the rest of the chunk keeps its framing and the link stays up", async () => {
  const path = socketPath();
  const server = createServer();
  server.listen(path);
  await once(server, "listening");
  const accepted = once(server, "connection");
  const client = connect(path);
  const [socket] = (await accepted) as [Socket];
  const tags: number[] = [];
  const link = new StreamLink(socket, (f) => {
    if (f[14] === 2) throw new Error("a bug in whoever receives");
    tags.push(f[14]);
  });
  try {
    client.write(Buffer.concat([1, 2, 3].map((t) => encodeStreamFrame(frame(BROADCAST, mac(1), t)))));
    await until(() => tags.length === 2, "the frames around the failing one arrived");
    assert.deepEqual(tags, [1, 3]);
    assert.equal(link.stats.internalErrors, 1);
    assert.equal(link.endReason, null);
  } finally {
    link.end();
    client.destroy();
    server.close();
  }
});
