import { test } from "node:test";
import assert from "node:assert/strict";
import { Clint } from "../../src/devices/clint.ts";
import { InstructionClock } from "../../src/machine/clock.ts";
import { IRQ_MSIP, IRQ_MTIP } from "../../src/cpu/hart.ts";
import { FakeHart } from "./fakes.ts";

function board(harts = 2) {
  const hs = Array.from({ length: harts }, () => new FakeHart());
  const clock = new InstructionClock(1);
  return { harts: hs, clock, clint: new Clint(hs, clock) };
}

test("msip drives MSIP of its own hart only", () => {
  const { harts, clint } = board();
  clint.write(0x4, 4, 1);
  assert.equal(harts[1].mip, IRQ_MSIP);
  assert.equal(harts[0].mip, 0);
  assert.equal(clint.read(0x4, 4), 1);
  clint.write(0x4, 4, 0xfffffffe);
  assert.equal(harts[1].mip, 0);
  assert.equal(clint.read(0x4, 4), 0);
});

test("mtime reads the clock as two words", () => {
  const { clock, clint } = board();
  clock.set(0x1_2345_6789);
  assert.equal(clint.read(0xbff8, 4), 0x23456789);
  assert.equal(clint.read(0xbffc, 4), 1);
  assert.equal(clint.read(0xbff8, 1), 0x89);
  assert.equal(clint.read(0xbffa, 2), 0x2345);
});

test("mtime writes set the clock", () => {
  const { clock, clint } = board();
  clint.write(0xbffc, 4, 2);
  clint.write(0xbff8, 4, 5);
  assert.equal(clock.now(), 2 * 2 ** 32 + 5);
});

test("MTIP follows mtime >= mtimecmp and the poll reports the next deadline", () => {
  const { harts, clock, clint } = board();
  assert.equal(clint.pollTimers(clock.now()), Infinity, "disarmed at reset");
  clock.set(100);
  clint.write(0x4000, 4, 150);
  clint.write(0x4004, 4, 0);
  assert.equal(harts[0].mip & IRQ_MTIP, 0);
  assert.equal(clint.pollTimers(clock.now()), 150);
  clock.set(149);
  clint.pollTimers(clock.now());
  assert.equal(harts[0].mip & IRQ_MTIP, 0);
  clock.set(150);
  assert.equal(clint.pollTimers(clock.now()), Infinity);
  assert.equal(harts[0].mip & IRQ_MTIP, IRQ_MTIP);
  assert.equal(harts[1].mip & IRQ_MTIP, 0);
  // Writing a future compare value lowers MTIP at once, as handlers expect.
  clint.write(0x4000, 4, 1000);
  assert.equal(harts[0].mip & IRQ_MTIP, 0);
  assert.equal(clint.read(0x4000, 4), 1000);
});

test("a compare value already in the past raises MTIP on the write", () => {
  const { harts, clock, clint } = board(1);
  clock.set(500);
  clint.write(0x4004, 4, 0);
  clint.write(0x4000, 4, 10);
  assert.equal(harts[0].mip, IRQ_MTIP);
});

test("an 8-byte style mtimecmp of all ones never fires", () => {
  const { harts, clock, clint } = board(1);
  clint.write(0x4000, 4, 0xffffffff);
  clint.write(0x4004, 4, 0xffffffff);
  clock.set(2 ** 52);
  assert.equal(clint.pollTimers(clock.now()), Infinity);
  assert.equal(harts[0].mip, 0);
});

test("registers of harts that do not exist read 0 and ignore writes", () => {
  const { harts, clint } = board(1);
  clint.write(0x4, 4, 1);
  clint.write(0x4008, 4, 0);
  clint.write(0x4000 + 8 * 4095, 4, 0);
  clint.write(0xffff, 1, 0xff);
  assert.equal(clint.read(0x4, 4), 0);
  assert.equal(clint.read(0x4008, 4), 0);
  assert.equal(clint.read(0x8000, 4), 0);
  assert.equal(harts[0].mip, 0);
});

test("save/restore keeps msip and mtimecmp and re-drives the harts", () => {
  const a = board();
  a.clock.set(50);
  a.clint.write(0x0, 4, 1);
  a.clint.write(0x4008, 4, 40);
  a.clint.write(0x400c, 4, 0);
  const state = structuredClone(a.clint.save());
  const b = board();
  b.clock.set(50);
  b.clint.restore(state);
  assert.equal(b.harts[0].mip, IRQ_MSIP);
  assert.equal(b.harts[1].mip, IRQ_MTIP);
  assert.equal(b.clint.read(0x4008, 4), 40);
  assert.throws(() => b.clint.restore({ ...state, msip: [0] }), /clint: cannot restore/);
});
