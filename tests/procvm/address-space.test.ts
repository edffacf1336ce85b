import assert from "node:assert/strict";
import { test } from "node:test";
import { RAM_BASE } from "../../src/cpu/layout.ts";
import {
  AddressSpace, MMAP_BASE, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE,
} from "../../src/procvm/address-space.ts";
import { OutOfGuestMemory, PhysPages } from "../../src/procvm/phys-pages.ts";

const RW = PROT_READ | PROT_WRITE;
const PROT_NONE = 0;

function setup(pages = 256): { phys: PhysPages; space: AddressSpace; ram: Uint8Array } {
  const ram = new Uint8Array(pages * PAGE_SIZE);
  const phys = new PhysPages(ram);
  return { phys, space: new AddressSpace(phys), ram };
}

/** The leaf PTE the hart would use for `va` (low word), read straight from guest RAM. */
function leafPte(space: AddressSpace, ram: Uint8Array, va: number): number {
  const dv = new DataView(ram.buffer);
  let table = space.rootFrame;
  for (let level = 2; level >= 0; level--) {
    const idx = Math.floor(va / PAGE_SIZE / 2 ** (9 * level)) & 511;
    const pte = dv.getUint32(table * PAGE_SIZE + idx * 8, true);
    if ((pte & 1) === 0) return 0;
    if (level === 0 || (pte & 0xe) !== 0) return pte;
    table = (pte >>> 10) - RAM_BASE / PAGE_SIZE;
  }
  return 0;
}

test("page tables walk back to the frames the host maps, with U/R/W/X/A/D bits", () => {
  const { space, ram } = setup();
  space.map(0x10000, 0x14000, PROT_READ | PROT_EXEC, false, "text");
  space.map(0x3f_f000_0000, 0x3f_f000_2000, RW, false, "data");
  const f1 = space.ensurePage(0x12345, "read");
  const f2 = space.ensurePage(0x3f_f000_1ff8, "write");
  assert.ok(f1 >= 0 && f2 >= 0 && f1 !== f2);
  assert.equal(space.walk(0x12345), RAM_BASE + f1 * PAGE_SIZE + 0x345);
  assert.equal(space.walk(0x3f_f000_1ff8), RAM_BASE + f2 * PAGE_SIZE + 0xff8);
  assert.equal(space.walk(0x13000), -1, "untouched page is not present yet");
  assert.equal(space.walk(0x20000), -1, "unmapped");
  const V = 1, R = 2, W = 4, X = 8, U = 16, A = 64, D = 128;
  assert.equal(leafPte(space, ram, 0x12345) & 0xff, V | R | X | U | A | D);
  assert.equal(leafPte(space, ram, 0x3f_f000_1ff8) & 0xff, V | R | W | U | A | D);
  const [lo, hi] = space.satpWords();
  assert.equal(hi >>> 28, 8, "Sv39");
  assert.equal(lo >>> 0, RAM_BASE / PAGE_SIZE + space.rootFrame);
});

test("protection changes rewrite the PTEs; PROT_NONE keeps the contents", () => {
  const { space, ram } = setup();
  space.map(0x10000, 0x13000, RW, false, "");
  assert.ok(space.write(0x11000, new Uint8Array([1, 2, 3])));
  assert.ok(space.protect(0x11000, 0x12000, PROT_NONE));
  assert.equal(space.vmas.length, 3, "split into three mappings");
  assert.equal(leafPte(space, ram, 0x11000), 0);
  assert.equal(space.read(0x11000, 3), null, "inaccessible to system calls too");
  assert.ok(space.protect(0x11000, 0x12000, PROT_READ));
  assert.deepEqual([...space.read(0x11000, 3)!], [1, 2, 3]);
  assert.equal(space.write(0x11000, new Uint8Array([9])), false, "read-only");
  assert.equal(space.protect(0x12000, 0x14000, PROT_READ), false, "part unmapped: ENOMEM");
});

test("guest memory copies cross page boundaries and fault on holes", () => {
  const { space } = setup();
  space.map(0x10000, 0x12000, RW, false, "");
  const data = new Uint8Array(6000).map((_, i) => i & 0xff);
  assert.ok(space.write(0x10800, data));
  assert.deepEqual(space.read(0x10800, 6000), data);
  assert.equal(space.read(0x11f00, 0x200), null, "runs into unmapped 0x12000");
  assert.ok(space.write(0x10ffe, new TextEncoder().encode("hello\0")));
  assert.equal(new TextDecoder().decode(space.readCString(0x10ffe)!), "hello");
  assert.ok(space.write(0x11ffe, new Uint8Array([0x61, 0x62])));
  assert.equal(space.readCString(0x11ffe), null, "no NUL before the hole");
  assert.ok(space.writeU64(0x10008, 2 ** 40 + 5));
  assert.equal(space.readU64(0x10008), 2 ** 40 + 5);
});

test("fork shares pages copy-on-write", () => {
  const { phys, space, ram } = setup();
  space.map(0x10000, 0x12000, RW, false, "private");
  space.map(0x20000, 0x21000, RW, true, "shared");
  space.write(0x10000, new Uint8Array([1]));
  space.write(0x20000, new Uint8Array([7]));
  const used = phys.used;
  const child = space.fork();
  assert.equal(space.walk(0x10000), child.walk(0x10000), "same frame after fork");
  assert.equal(leafPte(space, ram, 0x10000) & 4, 0, "parent lost W");
  assert.equal(leafPte(child, ram, 0x10000) & 4, 0, "child has no W");
  assert.ok(child.write(0x10000, new Uint8Array([2])));
  assert.notEqual(space.walk(0x10000), child.walk(0x10000), "child copied on write");
  assert.equal(space.read(0x10000, 1)![0], 1);
  assert.equal(child.read(0x10000, 1)![0], 2);
  assert.ok(space.write(0x10000, new Uint8Array([3])));
  assert.ok((leafPte(space, ram, 0x10000) & 4) !== 0, "last owner writes in place");
  child.write(0x20000, new Uint8Array([8]));
  assert.equal(space.read(0x20000, 1)![0], 8, "MAP_SHARED stays shared");
  child.destroy();
  assert.ok(phys.used <= used + 1);
  space.destroy();
  assert.equal(phys.used, 0, "every frame and table returned");
});

test("mmap placement is top-down below the mmap base; unmap splits mappings", () => {
  const { space } = setup();
  const a = space.findFree(0x4000);
  assert.equal(a, MMAP_BASE - 0x4000);
  space.map(a, a + 0x4000, RW, false, "a");
  const b = space.findFree(0x1000);
  assert.equal(b, a - 0x1000);
  space.map(b, b + 0x1000, RW, false, "b");
  space.unmap(a + 0x1000, a + 0x2000);
  assert.deepEqual(space.vmas.map((v) => [v.start - b, v.end - b, v.name]), [
    [0, 0x1000, "b"], [0x1000, 0x2000, "a"], [0x3000, 0x5000, "a"],
  ]);
  assert.equal(space.findFree(0x1000), a + 0x1000, "the hole is the highest gap");
  assert.equal(space.findFree(0x2000), b - 0x2000, "too small for two pages");
  assert.ok(space.isFree(a + 0x1000, a + 0x2000));
  assert.ok(!space.isFree(a, a + 0x2000));
});

test("move (mremap) carries the pages without copying; discard zeroes them", () => {
  const { space } = setup();
  space.map(0x10000, 0x12000, RW, false, "");
  space.write(0x11010, new Uint8Array([42]));
  const frame = space.frameOf(0x11000);
  space.move(0x10000, 0x2000, 0x40000);
  assert.equal(space.vmaAt(0x10000), null);
  assert.equal(space.frameOf(0x41000), frame);
  assert.equal(space.read(0x41010, 1)![0], 42);
  space.discard(0x40000, 0x42000);
  assert.equal(space.read(0x41010, 1)![0], 0);
});

test("running out of guest frames is a clear error", () => {
  const { space } = setup(8);
  space.map(0x10000, 0x100000, RW, false, "");
  assert.throws(() => {
    for (let va = 0x10000; va < 0x100000; va += PAGE_SIZE) space.ensurePage(va, "write");
  }, OutOfGuestMemory);
});
