/**
 * NETLINK_ROUTE sockets (src/procvm/sockets/netlink-route.ts, rtnetlink.ts,
 * route-dump.ts, host-interfaces.ts) and the interface ioctls.
 *
 * qemu-riscv64 hands netlink to the host kernel, so it is a real oracle:
 * - programs/netlink.c (getifaddrs, if_nametoindex, AI_ADDRCONFIG, raw
 *   dumps and requests, errors, addresses, options, poll), static and
 *   dynamic, must print the same as under qemu-riscv64; what qemu-user
 *   itself gets wrong is compared with the program run natively;
 * - programs/go-ifaces (net.Interfaces and friends) must match too;
 * - the riscv64 busybox's `ip addr` / `ip link` must match, but for the
 *   qdisc, which the host tells nobody but netlink (so we leave it out).
 * The socket class alone: hostile requests never throw and every reply is
 * well formed, the receive queue stays within SO_RCVBUF, and a dump's
 * datagrams grow with the reader's buffer as the kernel's do.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { after, test } from "node:test";
import { ERRNO } from "../../src/procvm/abi.ts";
import { WOULD_BLOCK } from "../../src/procvm/files.ts";
import { MSG_PEEK, SOCK_RAW, SOL_SOCKET, SO_RCVBUF } from "../../src/procvm/sockets/constants.ts";
import { MessageBuilder, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST } from "../../src/procvm/sockets/netlink-message.ts";
import { NetlinkRoute } from "../../src/procvm/sockets/netlink-route.ts";
import { RTM_GETADDR, RTM_GETLINK } from "../../src/procvm/sockets/route-dump.ts";
import { Dump } from "../../src/procvm/sockets/rtnetlink.ts";
import type { Socket, SocketContext } from "../../src/procvm/sockets/socket.ts";
import { UnixNames } from "../../src/procvm/sockets/unix-names.ts";
import {
  TYPEVISOR, compile, compileGo, compileNative, assertSameRun, requireTools, runQemu, runTypevisor, scratchDir, setUpBusybox,
  type BusyboxSetup, type RunResult,
} from "./helpers.ts";

// ---- against qemu-riscv64 and the host kernel ------------------------------------------

for (const linkage of ["static", "dynamic"] as const) {
  test(`netlink (${linkage}) matches qemu-riscv64`, () => {
    requireTools();
    const bin = compile("netlink", linkage);
    const sysroot = linkage === "dynamic";
    const q = runQemu(bin, [], { sysroot });
    assert.equal(q.status, 0, `the qemu-riscv64 reference run failed: ${q.stderr}`);
    assert.match(q.stdout, /^RTM_GETLINK dump \([1-9]/m);
    assertSameRun(`netlink (${linkage})`, q, runTypevisor(bin, [], { sysroot }));
  });
}

test("netlink qemu-gets-wrong (unknown types, short option values) matches the program run natively", () => {
  requireTools("cc", "sysroot");
  const native = spawnSync(compileNative("netlink"), ["qemu-gets-wrong"], { encoding: "utf8" });
  assert.equal(native.status, 0, `native reference run: ${native.stderr}`);
  for (const linkage of ["static", "dynamic"] as const) {
    const t = runTypevisor(compile("netlink", linkage), ["qemu-gets-wrong"], { sysroot: linkage === "dynamic" });
    assertSameRun(`netlink qemu-gets-wrong (${linkage})`, { stdout: native.stdout, stderr: native.stderr, status: 0 }, t);
  }
});

test("Go's net.Interfaces, Interface.Addrs and InterfaceAddrs match qemu-riscv64", () => {
  requireTools("go", "qemu");
  const bin = compileGo("go-ifaces");
  const q = runQemu(bin, []);
  assert.equal(q.status, 0, `qemu-riscv64 reference run: ${q.stderr}`);
  assert.match(q.stdout, /^1 lo mtu \d+ flags up\|loopback/m);
  assertSameRun("go-ifaces", q, runTypevisor(bin, []));
});

let work = "";
let busybox: Promise<BusyboxSetup> | null = null;

/** The riscv64 busybox and its applet links, set up by the first test that needs them. */
function setUp(): Promise<BusyboxSetup> {
  if (busybox === null) {
    work = scratchDir();
    busybox = setUpBusybox(work);
  }
  return busybox;
}

after(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true });
});

/**
 * The qdisc is the one thing `ip` prints that the host tells nobody but
 * netlink; we leave IFLA_QDISC out rather than guess, so it is taken out of
 * the oracle's output.
 */
const withoutQdisc = (s: string) => s.replace(/ qdisc \S+/g, "");

for (const args of [["addr"], ["link"], ["-4", "addr"], ["-6", "addr"], ["-o", "link"], ["addr", "show", "lo"]]) {
  test(`busybox ip ${args.join(" ")} matches qemu-riscv64 (but for the qdisc)`, async () => {
    const bb = await setUp();
    const env = { PATH: bb.guestBin, HOME: work, LANG: "C" };
    const q = spawnSync(bb.qemu, [bb.busybox, "ip", ...args], { cwd: work, env, encoding: "utf8" });
    assert.equal(q.status, 0, `qemu-riscv64 reference run: ${q.stderr}`);
    assert.match(q.stdout, /^1: lo: <LOOPBACK/);
    const t = spawnSync(process.execPath, [TYPEVISOR, "exec", "-L", "", bb.busybox, "ip", ...args], { cwd: work, env, encoding: "utf8" });
    assertSameRun(`ip ${args.join(" ")}`, { stdout: withoutQdisc(q.stdout), stderr: q.stderr, status: 0 }, { ...t, status: t.status ?? -1 });
  });
}

// ---- the socket class alone ----------------------------------------------------------------

const who = { pid: 4242, uid: 1000, gid: 1000, umask: 0o22 };
const sender = { pid: who.pid, uid: who.uid, gid: who.gid };

function socketContext(): SocketContext {
  return { wake: () => {}, names: new UnixNames<Socket>() };
}

function request(type: number, flags: number, seq: number, body: Uint8Array): Uint8Array {
  return new MessageBuilder(type, flags, seq, 0).raw(body).finish();
}

/** Splits a datagram into its messages; throws unless they cover it exactly, each 4-aligned and at least a header. */
function messages(datagram: Uint8Array): Array<{ type: number; len: number }> {
  const out: Array<{ type: number; len: number }> = [];
  const dv = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  for (let at = 0; at < datagram.length; ) {
    assert.ok(datagram.length - at >= 16, `a message header is cut short at ${at} of ${datagram.length}`);
    const len = dv.getUint32(at, true);
    assert.ok(len >= 16 && len % 4 === 0 && at + len <= datagram.length, `nlmsg_len ${len} at ${at} of ${datagram.length}`);
    out.push({ type: dv.getUint16(at + 4, true), len });
    at += len;
  }
  return out;
}

/** A small deterministic generator (xorshift32). */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Requests a hostile guest might send: random bytes, lying lengths, random types, flags and attributes. */
function hostileDatagram(rnd: (n: number) => number): Uint8Array {
  const kind = rnd(4);
  if (kind === 0) return Uint8Array.from({ length: 1 + rnd(200) }, () => rnd(256));
  const parts: Uint8Array[] = [];
  for (let i = 0, n = 1 + rnd(4); i < n; i++) {
    const body = Uint8Array.from({ length: rnd(64) }, () => (rnd(3) === 0 ? rnd(256) : 0));
    // attributes with random (often wrong) lengths
    for (let at = 16; at + 4 <= body.length; at += 4 + rnd(12)) {
      body[at] = rnd(3) === 0 ? rnd(256) : 4 + rnd(12);
      body[at + 2] = rnd(64);
    }
    const type = [RTM_GETLINK, RTM_GETADDR, NLMSG_ERROR, NLMSG_DONE, rnd(0x10000), 16 + rnd(120)][rnd(6)];
    const m = request(type, rnd(2) === 0 ? NLM_F_REQUEST | rnd(0x10000) : rnd(0x10000), rnd(1000), body);
    if (kind === 2) new DataView(m.buffer).setUint32(0, rnd(3) === 0 ? rnd(0x10000) : m.length - rnd(20), true);
    parts.push(m);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return kind === 3 ? out.subarray(0, rnd(out.length + 1)) : out;
}

test("hostile requests: never a throw, every reply well formed", () => {
  const rnd = random(0x6e6c);
  const s = new NetlinkRoute(socketContext(), SOCK_RAW, who);
  let replies = 0;
  for (let i = 0; i < 3000; i++) {
    const data = hostileDatagram(rnd);
    const sent = s.send({ data, to: null, fds: [], sender, flags: 0 }, true);
    assert.ok(sent === data.length || sent === -ERRNO.ENODATA, `send returned ${sent}`);
    // read now and then, so that the queue also fills up
    if (rnd(4) === 0) {
      for (;;) {
        const r = s.recv(65536, 0, true);
        if (r === -ERRNO.ENOBUFS) continue;
        if (typeof r === "number") {
          assert.equal(r, -ERRNO.EAGAIN);
          break;
        }
        assert.equal(r.length, r.data.length, "a 64 KiB buffer holds any datagram");
        messages(r.data);
        replies++;
      }
    }
  }
  assert.ok(replies > 500, `only ${replies} replies`);
  s.release();
});

test("a reader that does not read: replies stop at SO_RCVBUF, then ENOBUFS once", () => {
  const s = new NetlinkRoute(socketContext(), SOCK_RAW, who);
  const ack = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 1, new Uint8Array(16));
  const rcvbuf = new DataView((s.getOption(SOL_SOCKET, SO_RCVBUF, 4) as Uint8Array).buffer).getInt32(0, true);
  for (let i = 0; i < 20000; i++) s.send({ data: ack, to: null, fds: [], sender, flags: 0 }, true);
  assert.equal(s.recv(65536, 0, true), -ERRNO.ENOBUFS);
  let queued = 0;
  for (let r = s.recv(65536, 0, true); typeof r !== "number"; r = s.recv(65536, 0, true)) queued++;
  // Linux (x86-64, 6.18) queues 256 of these with the default 212992: each skb costs 832 bytes
  assert.ok(queued >= rcvbuf / 1024 && queued <= rcvbuf / 512, `${queued} replies queued against an SO_RCVBUF of ${rcvbuf}`);
  s.send({ data: ack, to: null, fds: [], sender, flags: 0 }, true);
  assert.ok(typeof s.recv(65536, 0, true) !== "number", "an emptied queue takes replies again");
  s.release();
});

test("a dump's datagrams: NLMSG_GOODSIZE first, then as large as the reader's buffer, NLMSG_DONE alone", () => {
  // 100 made-up messages of 500 bytes
  const fake = Array.from({ length: 100 }, () => new MessageBuilder(16, 2, 2, 0).raw(new Uint8Array(484)).finish());
  const done = new MessageBuilder(NLMSG_DONE, 2, 2, 0).raw(new Uint8Array(4)).finish();
  const fresh = new NetlinkRoute(socketContext(), SOCK_RAW, who);
  assert.equal(fresh.startDump(new Dump(fake, done)), 0);
  assert.equal(fresh.startDump(new Dump([], done)), -ERRNO.EBUSY, "one dump at a time");
  const sizes: number[] = [];
  // a peek takes nothing but lets the dump go on, as netlink_recvmsg does
  const peeked = fresh.recv(0, MSG_PEEK, true);
  assert.ok(typeof peeked !== "number" && peeked.length === 3500, "the first datagram: 7 messages in 3776 bytes");
  for (;;) {
    const r = fresh.recv(16384, 0, true);
    if (typeof r === "number") {
      assert.equal(r, -ERRNO.EAGAIN);
      break;
    }
    sizes.push(r.data.length);
  }
  assert.equal(sizes[0], 3500);
  assert.equal(sizes[1], 3500, "queued by the peek, before the reader showed its 16 KiB buffer");
  assert.deepEqual(sizes.slice(2, -2), new Array(sizes.length - 4).fill(16000));
  assert.equal(sizes.at(-1), done.length, "NLMSG_DONE comes alone");
  assert.equal(sizes.reduce((a, b) => a + b, 0), 100 * 500 + done.length);
  assert.equal(fresh.recv(16384, 0, true), -ERRNO.EAGAIN);
  assert.equal(fresh.recv(16384, 0, false), WOULD_BLOCK, "a blocking read waits");
  fresh.release();
});
