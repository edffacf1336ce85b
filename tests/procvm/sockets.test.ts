/**
 * Sockets in the process VM (src/procvm/sockets, syscalls/net.ts).
 *
 * - C programs built for riscv64 (static and dynamic) must print the same
 *   under `typevisor exec` as under qemu-riscv64: AF_UNIX inside the VM,
 *   TCP and UDP over the host's loopback.
 * - sockets-linux.c holds what qemu-user itself translates wrongly; its
 *   oracle is the same program built for the host and run natively.
 * - The static riscv64 busybox's nc and wget talk to node servers and a
 *   node client in this test process (real host peers).
 * - A program that exits with sockets open must not keep typevisor alive.
 * - The TCP socket class alone: its receive buffer stays bounded while the
 *   guest does not read (the host socket is paused), and nothing is lost.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { ERRNO } from "../../src/procvm/abi.ts";
import { WOULD_BLOCK } from "../../src/procvm/files.ts";
import { AF_INET, AF_INET6, AF_UNIX } from "../../src/procvm/sockets/constants.ts";
import { InetStream } from "../../src/procvm/sockets/inet-stream.ts";
import { decodeInet, decodeUnix, encodeSockaddr, ipText, textToInet } from "../../src/procvm/sockets/sockaddr.ts";
import type { Socket, SocketContext } from "../../src/procvm/sockets/socket.ts";
import { UnixNames } from "../../src/procvm/sockets/unix-names.ts";
import {
  TYPEVISOR, compile, compileNative, assertSameRun, requireTools, riscvBusybox, runQemu, runTypevisor, scratchDir, type RunResult,
} from "./helpers.ts";

for (const linkage of ["static", "dynamic"] as const) {
  for (const [program, scratch] of [["sockets", true], ["sockets-inet", false]] as const) {
    const label = `${program} (${linkage}) matches qemu-riscv64`;
    test(label, () => {
      requireTools();
      const bin = compile(program, linkage);
      const sysroot = linkage === "dynamic";
      const dirs = scratch ? [scratchDir(), scratchDir()] : [];
      try {
        const q = runQemu(bin, dirs.slice(0, 1), { sysroot });
        assert.equal(q.status, 0, `the qemu-riscv64 reference run failed: ${q.stderr}`);
        assertSameRun(label, q, runTypevisor(bin, dirs.slice(1), { sysroot }));
      } finally {
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
}

test("sockets-linux (what qemu-user gets wrong) matches the program run natively", () => {
  requireTools("cc", "sysroot");
  const native = spawnSync(compileNative("sockets-linux"), [], { encoding: "utf8" });
  assert.equal(native.status, 0, `native reference run: ${native.stderr}`);
  for (const linkage of ["static", "dynamic"] as const) {
    const t = runTypevisor(compile("sockets-linux", linkage), [], { sysroot: linkage === "dynamic" });
    assertSameRun(`sockets-linux (${linkage})`, { stdout: native.stdout, stderr: native.stderr, status: 0 }, t);
  }
});

// ---- real host peers ---------------------------------------------------------------

interface Run {
  stdout: string;
  stderr: string;
  status: number;
  ms: number;
}

/** `typevisor exec ARGS` without blocking this process's event loop (its servers must answer). */
function exec(args: string[], input = "", timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [TYPEVISOR, "exec", "-L", "", ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status: code ?? 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0), ms: Date.now() - t0 });
    });
    child.stdin.end(input);
  });
}

async function listening<T extends net.Server | http.Server>(server: T): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

test("busybox nc (riscv64) as a client of a node TCP server", async () => {
  const busybox = await riscvBusybox();
  const received: string[] = [];
  const server = net.createServer((c) => {
    let got = "";
    c.on("data", (d) => {
      got += d;
      if (got.endsWith("\n")) {
        received.push(got);
        c.end(got.toUpperCase());
      }
    });
  });
  try {
    const port = await listening(server);
    const r = await exec([busybox, "nc", "127.0.0.1", String(port)], "hello from busybox nc\n");
    assert.deepEqual(received, ["hello from busybox nc\n"]);
    assert.equal(r.stdout, "HELLO FROM BUSYBOX NC\n");
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
  } finally {
    server.close();
  }
});

test("busybox nc -l (riscv64) as a server for a node client", async () => {
  const busybox = await riscvBusybox();
  const probe = net.createServer();
  const port = await listening(probe);
  probe.close();
  const guest = exec([busybox, "nc", "-l", "-p", String(port)], "reply from the guest\n");
  let answer = "";
  for (let attempt = 0; ; attempt++) {
    try {
      answer = await new Promise<string>((resolve, reject) => {
        const c = net.connect(port, "127.0.0.1");
        let got = "";
        c.on("error", reject);
        c.on("connect", () => c.write("hello guest\n"));
        c.on("data", (d) => {
          got += d;
          if (got.endsWith("\n")) c.end();
        });
        c.on("close", () => resolve(got));
      });
      break;
    } catch (e) {
      // the guest is not listening yet
      if (attempt > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const r = await guest;
  assert.equal(answer, "reply from the guest\n");
  assert.equal(r.stdout, "hello guest\n");
  assert.equal(r.status, 0, r.stderr);
});

test("busybox wget (riscv64) fetches 3 MiB from a node HTTP server", async () => {
  const busybox = await riscvBusybox();
  const body = Buffer.alloc(3 << 20);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 12)) & 0xff;
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? "");
    res.setHeader("Content-Length", body.length);
    res.end(body);
  });
  try {
    const port = await listening(server);
    const dir = scratchDir();
    try {
      const out = path.join(dir, "download");
      const r = await exec([busybox, "wget", "-q", "-O", out, `http://127.0.0.1:${port}/data.bin`]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(paths, ["/data.bin"]);
      const got = fs.readFileSync(out);
      assert.equal(got.length, body.length);
      assert.ok(got.equals(body), "the downloaded bytes differ");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    server.close();
  }
});

test("busybox nc -u (riscv64) exchanges datagrams with a node UDP socket", async () => {
  const busybox = await riscvBusybox();
  const server = dgram.createSocket("udp4");
  server.on("message", (m, from) => server.send(Buffer.from(String(m).toUpperCase()), from.port, from.address));
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", resolve));
  try {
    const r = await exec([busybox, "nc", "-u", "-w", "1", "127.0.0.1", String(server.address().port)], "a datagram\n");
    assert.equal(r.stdout, "A DATAGRAM\n");
    assert.equal(r.status, 0, r.stderr);
  } finally {
    server.close();
  }
});

test("sockets left open at exit do not keep typevisor alive", async () => {
  requireTools("cc", "sysroot");
  let peerClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (peerClosed = resolve));
  const server = net.createServer((c) => {
    c.on("error", () => {});
    c.on("close", peerClosed);
    // Read, or node never looks at the connection again once its write is flushed and misses the close.
    c.resume();
    c.write("x".repeat(100_000));
  });
  try {
    const port = await listening(server);
    const r = await exec([compile("sockets-exit", "static"), String(port)]);
    assert.equal(r.stdout, "leaving with sockets open\n");
    assert.equal(r.status, 7, r.stderr);
    assert.ok(r.ms < 15_000, `typevisor took ${r.ms} ms to exit`);
    // the connection the guest left open was closed (reset: it held unread data)
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error("the host peer never saw a close")), 5000))]);
  } finally {
    server.close();
  }
});

// ---- the TCP socket class on its own ------------------------------------------------

function testContext(): { ctx: SocketContext; next: () => Promise<void> } {
  let wake: (() => void) | null = null;
  const ctx: SocketContext = { wake: () => wake?.(), names: new UnixNames<Socket>() };
  const next = () => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    wake = () => {
      clearTimeout(timer);
      wake = null;
      resolve();
    };
  });
  return { ctx, next };
}

test("a TCP socket's receive buffer stays bounded while the guest does not read", async () => {
  const total = 16 << 20;
  const payload = Buffer.alloc(total);
  for (let i = 0; i < total; i++) payload[i] = (i ^ (i >> 9)) & 0xff;
  const server = net.createServer((c) => c.end(payload));
  const port = await listening(server);
  const { ctx, next } = testContext();
  const who = { pid: 1, uid: 0, gid: 0, umask: 0o22 };
  const s = new InetStream(ctx, AF_INET, 6, who);
  try {
    const addr = { family: AF_INET, ip: new Uint8Array([127, 0, 0, 1]), port, flowinfo: 0, scopeId: 0 } as const;
    assert.equal(s.connect(addr, true, who), -ERRNO.EINPROGRESS);
    while (s.connect(addr, true, who) === -ERRNO.EALREADY) await next();
    // Let the server push as much as it can while nobody reads.
    const until = Date.now() + 700;
    let most = 0;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
      most = Math.max(most, s.available());
    }
    assert.ok(most >= 256 << 10, `only ${most} bytes arrived`);
    assert.ok(most < (256 << 10) + (1 << 20), `${most} bytes held: the host socket was not paused`);
    const chunks: Uint8Array[] = [];
    let got = 0;
    for (;;) {
      const r = s.recv(100_000, 0, true);
      if (r === -ERRNO.EAGAIN) {
        await next();
        continue;
      }
      assert.notEqual(r, WOULD_BLOCK);
      if (typeof r === "number") assert.fail(`recv: ${r}`);
      if (r.data.length === 0) break;
      chunks.push(r.data);
      got += r.data.length;
      assert.ok(s.available() < (256 << 10) + (1 << 20));
    }
    assert.equal(got, total);
    assert.ok(Buffer.concat(chunks).equals(payload), "the bytes differ");
  } finally {
    s.release();
    server.close();
  }
});

test("socket addresses: decoding, encoding and node's text forms", () => {
  const sin = new Uint8Array([2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const a = decodeInet(sin, AF_INET);
  assert.ok(typeof a !== "number" && a.family === AF_INET);
  assert.equal(a.port, 8080);
  assert.equal(ipText(a.ip), "127.0.0.1");
  assert.deepEqual(encodeSockaddr(a), sin);
  assert.equal(decodeInet(sin.subarray(0, 15), AF_INET), -ERRNO.EINVAL);
  assert.equal(decodeInet(sin, AF_INET6), -ERRNO.EINVAL);
  const wrong = sin.slice();
  wrong[0] = AF_INET6;
  assert.equal(decodeInet(wrong, AF_INET), -ERRNO.EAFNOSUPPORT);

  assert.equal(ipText(textToInet("::1", 1, AF_INET6).ip), "0:0:0:0:0:0:0:1");
  assert.equal(ipText(textToInet("127.0.0.1", 1, AF_INET6).ip), "::ffff:127.0.0.1");
  assert.equal(ipText(textToInet("::ffff:10.1.2.3", 1, AF_INET).ip), "10.1.2.3");
  assert.equal(ipText(textToInet("fe80::1:2%eth0", 1, AF_INET6).ip), "fe80:0:0:0:0:0:1:2");
  assert.equal(ipText(textToInet("1:2:3:4:5:6:7:8", 1, AF_INET6).ip), "1:2:3:4:5:6:7:8");

  const path = new Uint8Array([1, 0, ...new TextEncoder().encode("/tmp/x.sock"), 0, 0xee]);
  const u = decodeUnix(path);
  assert.ok(typeof u !== "number" && u.family === AF_UNIX);
  assert.equal(new TextDecoder().decode(u.name), "/tmp/x.sock");
  assert.equal(encodeSockaddr(u).length, 2 + 11 + 1);
  const abstract = decodeUnix(new Uint8Array([1, 0, 0, 0x61, 0, 0x62]));
  assert.ok(typeof abstract !== "number" && abstract.family === AF_UNIX);
  assert.deepEqual([...abstract.name], [0, 0x61, 0, 0x62]);
  assert.equal(encodeSockaddr(abstract).length, 6);
  assert.equal(decodeUnix(new Uint8Array(111).fill(1, 0, 1)), -ERRNO.EINVAL);
});
