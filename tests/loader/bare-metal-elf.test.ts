import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../../src/machine/bus.ts";
import { createVmMemory, RAM_BASE } from "../../src/cpu/layout.ts";
import { loadBareMetalElf } from "../../src/loader/bare-metal-elf.ts";
import { buildElf } from "./elf-builder.ts";

const RAM = 1 << 20;

function bus(): Bus {
  const b = new Bus(createVmMemory(RAM), RAM);
  b.ram.fill(0xee);
  return b;
}

test("segments land at p_paddr (not p_vaddr) with the rest of p_memsz zeroed", () => {
  const b = bus();
  const elf = buildElf({
    entry: RAM_BASE + 0x100,
    segments: [
      { paddr: RAM_BASE + 0x100, vaddr: 0x1000_0000_0100, data: new Uint8Array([1, 2, 3, 4]) },
      { paddr: RAM_BASE + 0x2000, data: new Uint8Array([9]), memsz: 16 },
    ],
  });
  const img = loadBareMetalElf(b, elf, "prog.elf");
  assert.deepEqual(img, { entry: RAM_BASE + 0x100, start: RAM_BASE + 0x100, end: RAM_BASE + 0x2010 });
  assert.deepEqual([...b.ram.subarray(0xff, 0x105)], [0xee, 1, 2, 3, 4, 0xee]);
  assert.deepEqual([...b.ram.subarray(0x2000, 0x2011)], [9, ...new Array(15).fill(0), 0xee]);
});

test("non-PT_LOAD segments are not loaded", () => {
  const b = bus();
  const elf = buildElf({
    entry: RAM_BASE,
    segments: [
      { paddr: RAM_BASE, data: new Uint8Array([5]) },
      { paddr: RAM_BASE + 8, data: new Uint8Array([6]), type: 4 },
    ],
  });
  loadBareMetalElf(b, elf, "p");
  assert.equal(b.ram[0], 5);
  assert.equal(b.ram[8], 0xee);
});

test("a segment outside RAM is refused with the RAM range", () => {
  for (const paddr of [0x1000, RAM_BASE + RAM - 2, RAM_BASE - 1]) {
    const elf = buildElf({ entry: RAM_BASE, segments: [{ paddr, data: new Uint8Array(4) }] });
    assert.throws(() => loadBareMetalElf(bus(), elf, "p.elf"), {
      name: "LoadError",
      message: /^p\.elf: segment 0 \(0x[0-9a-f]+, 4 bytes\) lies outside RAM 0x80000000-0x800fffff$/,
    });
  }
});

test("bad headers give one-line errors naming the file", () => {
  const good = buildElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: new Uint8Array(8) }] });
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("#!/bin/sh\necho hi\n"), /bad magic/],
    [good.subarray(0, 40), /truncated/],
    [buildElf({ entry: 0, segments: [], cls: 1 }), /not a 64-bit ELF/],
    [buildElf({ entry: 0, segments: [], data: 2 }), /not a little-endian ELF/],
    [buildElf({ entry: 0, segments: [], machine: 62 }), /x86-64/],
    [buildElf({ entry: RAM_BASE, segments: [] }), /no loadable segments/],
    [good.subarray(0, good.length - 4), /runs past the end of the file/],
  ];
  for (const [bytes, pattern] of cases) {
    assert.throws(() => loadBareMetalElf(bus(), bytes, "x.elf"), (e: Error) => {
      assert.match(e.message, /^x\.elf: /);
      assert.match(e.message, pattern);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
});
