import { test } from "node:test";
import assert from "node:assert/strict";
import { HostClock, InstructionClock } from "../../src/machine/clock.ts";

function hostClock() {
  const host = { ns: 5_000_000_000n };
  return { host, clock: new HostClock(() => host.ns) };
}

test("HostClock ticks at 10 MHz from the host clock, starting at 0", () => {
  const { host, clock } = hostClock();
  assert.equal(clock.now(), 0);
  host.ns += 1_000_000_000n;
  assert.equal(clock.now(), 10_000_000);
  host.ns += 150n;
  assert.equal(clock.now(), 10_000_001);
});

test("HostClock can be set, paused and resumed without losing time", () => {
  const { host, clock } = hostClock();
  clock.set(1000);
  host.ns += 1000n;
  assert.equal(clock.now(), 1010);
  clock.pause();
  host.ns += 1_000_000n;
  assert.equal(clock.now(), 1010);
  clock.resume();
  host.ns += 100n;
  assert.equal(clock.now(), 1011);
});

test("HostClock idleUntil is the host time to the deadline in ms", () => {
  const { clock } = hostClock();
  assert.equal(clock.idleUntil(20_000), 2);
  assert.equal(clock.idleUntil(0), 0);
  assert.equal(clock.idleUntil(Infinity), Infinity);
});

test("the real host clock moves forward", async () => {
  const clock = new HostClock();
  const t0 = clock.now();
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(clock.now() > t0);
});

test("InstructionClock advances one tick per N retired instructions, keeping the remainder", () => {
  const clock = new InstructionClock(10);
  clock.retired(25);
  assert.equal(clock.now(), 2);
  clock.retired(5);
  assert.equal(clock.now(), 3);
});

test("InstructionClock jumps to the deadline when idle", () => {
  const clock = new InstructionClock();
  assert.equal(clock.idleUntil(500), 0);
  assert.equal(clock.now(), 500);
  assert.equal(clock.idleUntil(100), 0);
  assert.equal(clock.now(), 500, "never backwards");
  assert.equal(clock.idleUntil(Infinity), Infinity);
});

test("clocks save and restore mtime; bad states are refused", () => {
  const a = new InstructionClock();
  a.set(12345);
  const { clock: b } = hostClock();
  b.restore(structuredClone(a.save()));
  assert.equal(b.now(), 12345);
  assert.throws(() => a.restore({ v: 1, mtime: -0.5 }), /clock: cannot restore/);
  assert.throws(() => new InstructionClock(0), /positive integer/);
});
