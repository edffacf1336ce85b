/**
 * The system-VM debugger's page walk (src/machine/gdb-target.ts): what gdb
 * reads at a virtual address is what the hart would, through Sv39/Sv48
 * tables in guest RAM, with superpages, non-canonical addresses refused and
 * M-mode untranslated.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PRIV, SATP } from "../../src/cpu/hart-state.ts";
import type { Hart } from "../../src/cpu/hart.ts";
import type { Bus } from "../../src/machine/bus.ts";
import { translate } from "../../src/machine/gdb-target.ts";

const RAM_BASE = 0x8000_0000;

function board(mode: 8 | 9) {
  const ram = new Uint8Array(1 << 20);
  const dv = new DataView(ram.buffer);
  const w = new Int32Array(256);
  const pte = (tableAt: number, index: number, ppnOf: number, flags: number) =>
    dv.setBigUint64(tableAt - RAM_BASE + index * 8, (BigInt(ppnOf >>> 12) << 10n) | BigInt(flags), true);
  const root = RAM_BASE + 0x1000;
  const satp = (BigInt(mode) << 60n) | BigInt(root >>> 12);
  w[SATP] = Number(satp & 0xffff_ffffn) | 0;
  w[SATP + 1] = Number(satp >> 32n) | 0;
  w[PRIV] = 1;
  const hart = { w } as unknown as Hart;
  const ramOffset = (pa: number, len: number) => (pa >= RAM_BASE && pa - RAM_BASE + len <= ram.length ? pa - RAM_BASE : -1);
  const bus = { ram, ramBase: RAM_BASE, ramSize: ram.length, ramOffset } as unknown as Bus;
  return { hart, bus, w, pte, root };
}

test("Sv39: 4 KiB pages, a gigapage, invalid and non-canonical addresses, M-mode", () => {
  const { hart, bus, w, pte, root } = board(8);
  const V = 1, R = 2, W = 4, X = 8;
  pte(root, 1, RAM_BASE + 0x2000, V); // va 0x4000_0000.. -> level 1 table
  pte(RAM_BASE + 0x2000, 0, RAM_BASE + 0x3000, V); // -> level 0 table
  pte(RAM_BASE + 0x3000, 1, RAM_BASE + 0x5000, V | R | W); // va 0x4000_1000 -> 0x8000_5000
  pte(root, 0x1ff, RAM_BASE, V | R | X); // gigapage: va 0xffff_ffff_c000_0000 -> 0x8000_0000
  assert.equal(translate(hart, bus, 0x4000_1234n), 0x8000_5234n);
  assert.equal(translate(hart, bus, 0x4000_2000n), null); // no leaf
  assert.equal(translate(hart, bus, 0xffff_ffff_c012_3456n), 0x8012_3456n);
  assert.equal(translate(hart, bus, 0x0000_0040_0000_0000n), null); // not sign-extended from bit 38
  assert.equal(translate(hart, bus, 0x7fff_ffff_c000_0000n), null);
  w[PRIV] = 3;
  assert.equal(translate(hart, bus, 0x4000_1234n), 0x4000_1234n);
});

test("Sv48: four levels and a 2 MiB megapage", () => {
  const { hart, bus, pte, root } = board(9);
  const V = 1, R = 2;
  pte(root, 0, RAM_BASE + 0x2000, V);
  pte(RAM_BASE + 0x2000, 2, RAM_BASE + 0x3000, V); // va bits 38..30 = 2
  pte(RAM_BASE + 0x3000, 3, RAM_BASE + 0x20_0000, V | R); // megapage at va 0x8060_0000 -> 0x8020_0000
  assert.equal(translate(hart, bus, 0x8060_0000n + 0x1_2345n), 0x8020_0000n + 0x1_2345n);
  assert.equal(translate(hart, bus, 0x0000_8000_0000_0000n), null); // non-canonical for 48 bits
});
