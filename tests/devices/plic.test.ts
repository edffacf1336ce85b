import { test } from "node:test";
import assert from "node:assert/strict";
import { Plic } from "../../src/devices/plic.ts";
import { IRQ_MEIP, IRQ_SEIP } from "../../src/cpu/hart.ts";
import { FakeHart } from "./fakes.ts";

const priority = (irq: number) => 4 * irq;
const pending = (word: number) => 0x1000 + 4 * word;
const enable = (ctx: number, word: number) => 0x2000 + 0x80 * ctx + 4 * word;
const threshold = (ctx: number) => 0x200000 + 0x1000 * ctx;
const claim = (ctx: number) => 0x200004 + 0x1000 * ctx;

function board(harts = 1) {
  const hs = Array.from({ length: harts }, () => new FakeHart());
  return { harts: hs, plic: new Plic(hs) };
}

/** Enables `irqs` for context `ctx` with priority 1 each. */
function route(plic: Plic, ctx: number, ...irqs: number[]): void {
  const words = [0, 0, 0];
  for (const irq of irqs) {
    words[irq >> 5] |= 1 << (irq & 31);
    plic.write(priority(irq), 4, 1);
  }
  words.forEach((w, i) => plic.write(enable(ctx, i), 4, w));
}

test("an enabled source above threshold raises MEIP (context 0) or SEIP (context 1)", () => {
  const { harts, plic } = board();
  route(plic, 1, 10);
  plic.setIrq(10, true);
  assert.equal(harts[0].mip, IRQ_SEIP);
  route(plic, 0, 10);
  assert.equal(harts[0].mip, IRQ_SEIP | IRQ_MEIP);
  plic.setIrq(10, false);
  assert.equal(harts[0].mip, 0);
});

test("contexts 2h and 2h+1 belong to hart h", () => {
  const { harts, plic } = board(2);
  route(plic, 2, 33);
  route(plic, 3, 34);
  plic.setIrq(33, true);
  assert.equal(harts[1].mip, IRQ_MEIP);
  plic.setIrq(34, true);
  assert.equal(harts[1].mip, IRQ_MEIP | IRQ_SEIP);
  assert.equal(harts[0].mip, 0);
});

test("a disabled source, priority 0, or priority <= threshold does not interrupt", () => {
  const { harts, plic } = board();
  plic.write(priority(5), 4, 3);
  plic.setIrq(5, true);
  assert.equal(harts[0].mip, 0, "not enabled");
  plic.write(enable(0, 0), 4, 1 << 5);
  assert.equal(harts[0].mip, IRQ_MEIP);
  plic.write(threshold(0), 4, 3);
  assert.equal(harts[0].mip, 0, "priority == threshold");
  plic.write(threshold(0), 4, 2);
  assert.equal(harts[0].mip, IRQ_MEIP);
  plic.write(priority(5), 4, 0);
  assert.equal(harts[0].mip, 0, "priority 0");
  assert.equal(plic.read(threshold(0), 4), 2);
});

test("priority and threshold keep 3 bits", () => {
  const { plic } = board();
  plic.write(priority(7), 4, 0xff);
  plic.write(threshold(1), 4, 0xff);
  assert.equal(plic.read(priority(7), 4), 7);
  assert.equal(plic.read(threshold(1), 4), 7);
});

test("claim returns the highest priority (lowest id on ties) and clears its pending bit", () => {
  const { harts, plic } = board();
  route(plic, 0, 3, 40, 41);
  plic.write(priority(41), 4, 5);
  plic.write(priority(40), 4, 5);
  for (const irq of [3, 40, 41]) plic.setIrq(irq, true);
  assert.equal(plic.read(pending(0), 4), 1 << 3);
  assert.equal(plic.read(pending(1), 4), (1 << 8) | (1 << 9));
  assert.equal(plic.read(claim(0), 4), 40);
  assert.equal(plic.read(pending(1), 4), 1 << 9);
  assert.equal(plic.read(claim(0), 4), 41);
  assert.equal(plic.read(claim(0), 4), 3);
  assert.equal(harts[0].mip, 0, "everything claimed");
  assert.equal(plic.read(claim(0), 4), 0);
});

test("completing a source whose line is still high makes it pending again", () => {
  const { harts, plic } = board();
  route(plic, 0, 10);
  plic.setIrq(10, true);
  assert.equal(plic.read(claim(0), 4), 10);
  assert.equal(harts[0].mip, 0);
  plic.setIrq(10, true); // re-asserting while claimed changes nothing
  assert.equal(harts[0].mip, 0);
  plic.write(claim(0), 4, 10);
  assert.equal(harts[0].mip, IRQ_MEIP);
  assert.equal(plic.read(claim(0), 4), 10);
  plic.setIrq(10, false);
  plic.write(claim(0), 4, 10);
  assert.equal(harts[0].mip, 0);
  assert.equal(plic.read(pending(0), 4), 0);
});

test("a line that drops before the claim is no longer pending", () => {
  const { harts, plic } = board();
  route(plic, 0, 1);
  plic.setIrq(1, true);
  plic.setIrq(1, false);
  assert.equal(harts[0].mip, 0);
  assert.equal(plic.read(claim(0), 4), 0);
});

test("pending bits are read-only, enable bit 0 is hardwired, bad sources are ignored", () => {
  const { harts, plic } = board();
  plic.write(pending(0), 4, 0xffffffff);
  assert.equal(plic.read(pending(0), 4), 0);
  plic.write(enable(0, 0), 4, 0xffffffff);
  assert.equal(plic.read(enable(0, 0), 4), 0xfffffffe);
  plic.setIrq(0, true);
  plic.setIrq(96, true);
  plic.setIrq(-1, true);
  assert.equal(plic.read(pending(0), 4), 0);
  assert.equal(plic.read(pending(3), 4), 0);
  plic.write(priority(96), 4, 7);
  assert.equal(plic.read(priority(96), 4), 0);
  assert.equal(harts[0].mip, 0);
});

test("byte accesses and unmapped registers neither throw nor misbehave", () => {
  const { plic } = board();
  plic.write(enable(0, 0) + 1, 1, 0x04); // source 10
  assert.equal(plic.read(enable(0, 0), 4), 1 << 10);
  assert.equal(plic.read(enable(0, 0) + 1, 1), 0x04);
  for (const off of [0x180, 0x100c, 0x1ffc, enable(2, 0), enable(0, 3), threshold(2), claim(2), 0x200008, 0x5ffffc]) {
    plic.write(off, 4, 0xffffffff);
    assert.equal(plic.read(off, 4), 0, `offset 0x${off.toString(16)}`);
  }
});

test("save/restore carries claims and levels across", () => {
  const a = board();
  route(a.plic, 0, 10, 11);
  a.plic.setIrq(10, true);
  a.plic.setIrq(11, true);
  assert.equal(a.plic.read(claim(0), 4), 10);
  const state = structuredClone(a.plic.save());
  const b = board();
  b.plic.restore(state);
  assert.equal(b.harts[0].mip, IRQ_MEIP, "11 is still pending");
  assert.equal(b.plic.read(claim(0), 4), 11);
  assert.equal(b.harts[0].mip, 0);
  b.plic.write(claim(0), 4, 10);
  assert.equal(b.harts[0].mip, IRQ_MEIP, "10's line is still high");
  assert.throws(() => b.plic.restore({ ...state, threshold: [0, 0, 0, 0] }), /plic: cannot restore/);
});
