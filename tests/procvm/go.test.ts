/**
 * A Go program under the process VM. Go's runtime leans on the kernel more
 * than C programs do: it starts threads with clone, parks them on futexes,
 * waits for timers and I/O in epoll, preempts goroutines with SIGURG and
 * turns SIGSEGV into panics. programs/go/main.go is built with Debian's
 * golang-go for linux/riscv64 and must behave exactly as under qemu-riscv64.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { compileGo, requireTools, runQemu, runTypevisor, scratchDir } from "./helpers.ts";

test("a Go program (goroutines, timers, netpoller, signals, GC) matches qemu-riscv64", () => {
  requireTools("go", "qemu");
  const bin = compileGo("go");
  const dirs = [scratchDir(), scratchDir()];
  try {
    const q = runQemu(bin, [dirs[0]]);
    const t = runTypevisor(bin, [dirs[1]]);
    assert.equal(q.status, 3, `qemu-riscv64 reference run: ${q.stderr}`);
    assert.equal(t.stdout, q.stdout, "stdout");
    assert.equal(t.stderr, q.stderr, "stderr");
    assert.equal(t.status, q.status, "exit status");
    assert.match(t.stdout, /^preemption: main ran again$/m);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test("a Go network program (net/http server and clients, TCP, UDP on loopback) matches qemu-riscv64", () => {
  requireTools("go", "qemu");
  const bin = compileGo("go-net");
  const q = runQemu(bin, []);
  const t = runTypevisor(bin, []);
  assert.equal(q.status, 0, `qemu-riscv64 reference run: ${q.stderr}`);
  assert.equal(t.stdout, q.stdout, "stdout");
  assert.equal(t.stderr, q.stderr, "stderr");
  assert.equal(t.status, q.status, "exit status");
  assert.match(t.stdout, /^http get \/big: 200 2097152 bytes/m);
});
