import { test } from "node:test";
import assert from "node:assert/strict";
import { MSTATUS, SATP } from "../../src/cpu/hart-state.ts";
import { createVmMemory, HART_STATE_SIZE, RAM_BASE, TLB_BYTES } from "../../src/cpu/layout.ts";
import { ACCESS_READ, flushTlb, flushTlbAddress, MMU_S, tlbEntryIndex, translate, type TranslationContext } from "../../src/cpu/mmu.ts";
import { CSR_TDATA1, CSR_TDATA2, Triggers } from "../../src/cpu/triggers.ts";
import { Bus } from "../../src/machine/bus.ts";

const RAM = 1 << 20;
const V = 1, RWX_AD = 0xce; // R W X A D

/** Sv39 tables: 0x4000_0000 is a 2 MiB superpage onto RAM's start, 0x4020_0000 a 4 KiB page onto 0x8000_4000. */
function context(): TranslationContext {
  const memory = createVmMemory(RAM);
  const bus = new Bus(memory, RAM);
  const pte = (addr: number, ppn: number, flags: number) => bus.write(addr, 8, (ppn << 10) | flags, 0);
  pte(RAM_BASE + 0x1000 + 8 * 1, 0x80002, V); // root[1] -> L1
  pte(RAM_BASE + 0x2000 + 8 * 0, 0x80000, V | RWX_AD); // L1[0]: 2 MiB leaf at 0x8000_0000
  pte(RAM_BASE + 0x2000 + 8 * 1, 0x80003, V); // L1[1] -> L0
  pte(RAM_BASE + 0x3000 + 8 * 0, 0x80004, V | RWX_AD); // L0[0]: 4 KiB leaf
  const w = new Int32Array(HART_STATE_SIZE / 4);
  w[SATP] = 0x80001;
  w[SATP + 1] = 0x80000000 | 0; // Sv39
  w[MSTATUS] = 0;
  const tlb = new Int32Array(TLB_BYTES / 4);
  flushTlb(tlb);
  return { w, tlb, bus, exc: -1, excTvalLo: 0, excTvalHi: 0, pmpActive: false, triggers: new Triggers() };
}

function cached(h: TranslationContext, va: number): boolean {
  return h.tlb[tlbEntryIndex(MMU_S, va)] === (va & -4096);
}

test("a page walk fills the TLB, for superpages one 4 KiB piece at a time", () => {
  const h = context();
  assert.equal(translate(h, 0x40001234, 0, ACCESS_READ, MMU_S), 0x80001234);
  assert.equal(translate(h, 0x40200010, 0, ACCESS_READ, MMU_S), 0x80004010);
  assert.equal(h.exc, -1);
  assert.ok(cached(h, 0x40001000));
  assert.ok(cached(h, 0x40200000));
  assert.ok(!cached(h, 0x40002000), "only the piece that was used");
});

test("SFENCE.VMA of one address drops the whole superpage it lies in, and nothing else", () => {
  const h = context();
  for (const va of [0x40000000, 0x40001000, 0x401ff000, 0x40200000]) translate(h, va, 0, ACCESS_READ, MMU_S);
  flushTlbAddress(h.tlb, 0x40000010, 0);
  assert.ok(!cached(h, 0x40000000));
  assert.ok(!cached(h, 0x40001000), "another 4 KiB piece of the same superpage");
  assert.ok(!cached(h, 0x401ff000));
  assert.ok(cached(h, 0x40200000), "a page outside it stays");
  flushTlbAddress(h.tlb, 0x40200ff8, 0);
  assert.ok(!cached(h, 0x40200000));
});

test("a page a load/store trigger watches is translated but never cached; other pages are", () => {
  const h = context();
  h.triggers.write(CSR_TDATA2, 0x40200ffc, 0); // 8 bytes: the range ends on the next page
  h.triggers.write(CSR_TDATA1, 0x41, 0x20000000); // type 2, M, load
  assert.equal(translate(h, 0x40200010, 0, ACCESS_READ, MMU_S), 0x80004010);
  assert.equal(cached(h, 0x40200010), false, "the watched page");
  assert.equal(translate(h, 0x40001000, 0, ACCESS_READ, MMU_S), 0x80001000);
  assert.equal(cached(h, 0x40001000), true, "another page");
  assert.equal(h.triggers.watchesDataPage(0x40201000, 0), true, "the range's last bytes");
  h.triggers.write(CSR_TDATA1, 0, 0x20000000); // disarmed
  translate(h, 0x40200010, 0, ACCESS_READ, MMU_S);
  assert.equal(cached(h, 0x40200010), true);
});
