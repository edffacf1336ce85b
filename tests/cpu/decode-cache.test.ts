/**
 * The decode cache trusts its entries without comparing them with memory, so
 * every host-side path that writes guest RAM must take a page's entries away
 * when it writes there (tests/isa/smc.S covers the hart's own stores).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Op } from "../../src/cpu/decode.ts";
import { DECODE_CACHE_BASE, RAM_BASE, createVmMemory } from "../../src/cpu/layout.ts";
import { Bus } from "../../src/machine/bus.ts";
import { AddressSpace, PROT_EXEC, PROT_READ, PROT_WRITE } from "../../src/procvm/address-space.ts";
import { PhysPages } from "../../src/procvm/phys-pages.ts";

const RAM = 1 << 20;

function bus(): Bus {
  return new Bus(createVmMemory(RAM), RAM);
}

test("a page gets a slot of undecoded entries; a write anywhere in it takes the slot away", () => {
  const b = bus();
  const base = b.code.pageBase(3) - DECODE_CACHE_BASE / 4;
  for (const off of [0, 0x800, 0xffc]) assert.equal(b.code.words[base + off * 2 + 1] & 0xff, Op.DECODE);
  assert.ok(b.code.hasCode(3));
  b.code.pageBase(4);
  b.write(RAM_BASE + 3 * 4096 + 0x100, 1, 0x13, 0);
  assert.ok(!b.code.hasCode(3));
  assert.ok(b.code.hasCode(4), "other pages keep theirs");
  b.code.words[base + 1] = Op.NOP;
  assert.equal(b.code.pageBase(3) - DECODE_CACHE_BASE / 4, base, "the freed slot is the next one given out");
  assert.equal(b.code.words[base + 1] & 0xff, Op.DECODE, "with its entries undecoded again");
});

test("DMA and loaders report through Bus.ramWritten, across pages", () => {
  const b = bus();
  for (const page of [4, 5, 6, 7]) b.code.pageBase(page);
  b.ramWritten(5 * 4096 + 4000, 96 + 8);
  assert.deepEqual([4, 5, 6, 7].map((p) => b.code.hasCode(p)), [true, false, false, true]);
});

test("the process VM's writes to guest memory take code pages' entries away", () => {
  const b = bus();
  const phys = new PhysPages(b.ram);
  const space = new AddressSpace(phys);
  space.map(0x10000, 0x12000, PROT_READ | PROT_WRITE | PROT_EXEC, false, "text");
  space.writeForce(0x10000, new Uint8Array(8));
  const frame = space.frameOf(0x10000);
  const writes: [string, () => void][] = [
    ["writeForce", () => space.writeForce(0x10010, new Uint8Array(4))],
    ["write", () => assert.ok(space.write(0x10020, new Uint8Array(4)))],
    ["zero", () => assert.ok(space.zero(0x10030, 4))],
  ];
  for (const [name, write] of writes) {
    b.code.pageBase(frame);
    write();
    assert.ok(!b.code.hasCode(frame), name);
  }
  // A recycled frame is cleared for its next user; a copy-on-write copy may land on old code.
  space.unmap(0x10000, 0x11000);
  b.code.pageBase(frame);
  assert.equal(phys.alloc(), frame);
  assert.ok(!b.code.hasCode(frame), "alloc of a recycled frame");
  const source = phys.alloc();
  b.code.pageBase(frame);
  b.code.pageBase(source);
  phys.release(frame);
  phys.copy(source);
  assert.ok(!b.code.hasCode(frame), "copy");
  assert.ok(b.code.hasCode(source), "the source of a copy keeps its entries");
});
