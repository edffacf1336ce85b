/**
 * RAM page tracking under the bus: lazy loading through every host path
 * (bus reads/writes, DMA ranges), each page loaded once; written marks; the
 * dirty log a machine keeps for migration.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createVmMemory, RAM_BASE } from "../../src/cpu/layout.ts";
import { Bus } from "../../src/machine/bus.ts";
import { PAGE_DIRTY, PAGE_LOGGED, PAGE_PRESENT, type PageSource } from "../../src/machine/ram-pages.ts";
import { VirtMachine } from "../../src/machine/virt-machine.ts";
import { exactProgram } from "./programs.ts";

/** Page p holds bytes p & 0xff (page 3 is zero); counts loads. */
class CountingSource implements PageSource {
  loads: number[] = [];
  released = false;
  load(page: number, ram: Uint8Array): boolean {
    this.loads.push(page);
    const v = page === 3 ? 0 : page & 0xff;
    ram.fill(v, page * 4096, (page + 1) * 4096);
    return v !== 0;
  }
  release(): void {
    this.released = true;
  }
}

function lazyBus(pages = 16) {
  const bus = new Bus(createVmMemory(pages * 4096), pages * 4096);
  bus.ram.fill(0xee); // what RAM held before: never seen again
  const source = new CountingSource();
  bus.pages.attach(source);
  return { bus, source };
}

test("bus reads and writes load a page on first touch, once", () => {
  const { bus, source } = lazyBus();
  assert.equal(bus.read(RAM_BASE + 5 * 4096 + 8, 4), 0x05050505);
  assert.equal(bus.read(RAM_BASE + 5 * 4096 + 100, 1), 5);
  assert.ok(bus.write(RAM_BASE + 7 * 4096, 8, 1, 2));
  assert.equal(bus.read(RAM_BASE + 7 * 4096 + 8, 1), 7, "the rest of a written page is the source's");
  assert.deepEqual(source.loads, [5, 7]);
  assert.equal(bus.pages.loaded, 2);
  assert.equal(bus.pages.flags[5] & PAGE_DIRTY, 0);
  assert.equal(bus.pages.flags[7] & (PAGE_DIRTY | PAGE_LOGGED), PAGE_DIRTY | PAGE_LOGGED);
});

test("a DMA range (ramOffset) loads every page it spans before the device sees it", () => {
  const { bus, source } = lazyBus();
  const off = bus.ramOffset(RAM_BASE + 2 * 4096 + 4000, 3 * 4096);
  assert.equal(off, 2 * 4096 + 4000);
  assert.deepEqual(source.loads, [2, 3, 4, 5]);
  assert.equal(bus.ram[3 * 4096], 0, "page 3 is a zero page");
  assert.equal(bus.ramOffset(RAM_BASE + 15 * 4096, 4097), -1, "out of RAM: nothing loaded");
  assert.deepEqual(source.loads, [2, 3, 4, 5]);
  bus.ram.fill(9, off, off + 10);
  bus.ramWritten(off, 10);
  assert.equal(bus.pages.flags[2] & PAGE_DIRTY, PAGE_DIRTY);
  assert.equal(bus.pages.flags[3] & PAGE_DIRTY, 0);
});

test("once every page is loaded the source is released and accesses are direct", () => {
  const { bus, source } = lazyBus(4);
  bus.pages.ensureAll();
  assert.equal(source.released, true);
  assert.equal(bus.pages.lazy, false);
  assert.ok(bus.pages.flags.every((f) => (f & PAGE_PRESENT) !== 0));
});

test("the dirty log lists the pages the harts wrote since it was last taken", async () => {
  const bytes = await exactProgram();
  const m = new VirtMachine({ firmware: { kind: "none" }, kernel: { name: "exact", bytes }, ramSize: 64 << 20, instructionsPerTick: 7 });
  const running = m.run();
  await new Promise((r) => setTimeout(r, 100));
  await m.pause();
  m.startDirtyLog();
  assert.equal(m.takeDirtyLog().length, 0, "nothing written while paused");
  m.resume();
  await new Promise((r) => setTimeout(r, 100));
  await m.pause();
  const first = m.takeDirtyLog();
  // The program's 128 KiB table (32 pages) is written all over, by stores on the TLB fast path.
  assert.ok(first.length >= 16, `${first.length} pages logged`);
  assert.equal(m.takeDirtyLog().length, 0, "taking the log restarts it");
  m.resume();
  await new Promise((r) => setTimeout(r, 100));
  await m.pause();
  const second = m.takeDirtyLog();
  assert.ok(second.length >= 16, "stores after the log was taken are seen again (write tags were dropped)");
  assert.ok(Array.from(second).every((p) => m.dirtyPages().includes(p)), "the snapshot baseline marks are kept apart");
  m.quit(0);
  await running;
});
