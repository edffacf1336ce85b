/**
 * The trigger module's state and matching on its own (tests/isa/triggers.S
 * runs the guest-visible behaviour on QEMU and Typevisor): save/restore,
 * hostile states, and address arithmetic at the edges of the 64-bit space.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CSR_TDATA1, CSR_TDATA2, CSR_TSELECT, TRIGGER_LOAD, TRIGGER_STORE, Triggers, type TriggerState,
} from "../../src/cpu/triggers.ts";

const TYPE2_HI = 0x20000000;
const M = 1 << 6, U = 1 << 3, EXECUTE = 4, LOAD = 1;
const PRIV_M = 3, PRIV_S = 1, PRIV_U = 0;

function armed(lo: number, hi: number, ctl: number, select = 0): Triggers {
  const t = new Triggers();
  t.write(CSR_TSELECT, select, 0);
  t.write(CSR_TDATA2, lo, hi);
  t.write(CSR_TDATA1, ctl, TYPE2_HI);
  return t;
}

test("nothing is armed after reset; arming reports a change, and so does disarming", () => {
  const t = new Triggers();
  assert.deepEqual([t.execArmed, t.dataArmed], [false, false]);
  assert.equal(t.write(CSR_TDATA2, 0x1000, 0), false, "moving a disarmed trigger changes nothing");
  assert.equal(t.write(CSR_TDATA1, M | EXECUTE, TYPE2_HI), true);
  assert.deepEqual([t.execArmed, t.dataArmed], [true, false]);
  assert.equal(t.write(CSR_TDATA1, M, TYPE2_HI), true, "no access bits: disarmed");
  assert.equal(t.execArmed, false);
  assert.equal(t.write(CSR_TDATA1, M | EXECUTE, 0x30000000), false, "type 3 is ignored");
});

test("matches respect the mode bits and the exact execute address", () => {
  const pc = 0x80001000 | 0; // int32 words, as the hart passes them
  const t = armed(pc, 0, U | EXECUTE);
  assert.equal(t.matchExec(pc, 0, PRIV_U), true);
  assert.equal(t.matchExec(pc, 0, PRIV_S), false);
  assert.equal(t.matchExec(pc, 0, PRIV_M), false);
  assert.equal(t.matchExec(pc + 2, 0, PRIV_U), false);
  assert.equal(t.matchExec(pc, 1, PRIV_U), false, "the high word counts");
});

test("data ranges wrap around neither end of the address space", () => {
  // 8 bytes from 2^64 - 4: the last 4 bytes of the space (and, wrapped, the first 4).
  const top = armed(-4, -1, M | LOAD);
  assert.equal(top.matchData(-1, -1, 1, TRIGGER_LOAD, PRIV_M), true);
  assert.equal(top.matchData(-8, -1, 8, TRIGGER_LOAD, PRIV_M), true, "overlap from below");
  assert.equal(top.matchData(-9, -1, 1, TRIGGER_LOAD, PRIV_M), false);
  assert.equal(top.matchData(-4, -1, 4, TRIGGER_STORE, PRIV_M), false, "a load trigger");
  const low = armed(0xfffffffc, 0, M | LOAD); // crosses a 4 GiB boundary
  assert.equal(low.matchData(2, 1, 1, TRIGGER_LOAD, PRIV_M), true);
  assert.equal(low.matchData(4, 1, 1, TRIGGER_LOAD, PRIV_M), false);
  assert.equal(low.watchesDataPage(0, 1), true, "the range's second page");
  assert.equal(low.watchesDataPage(0xfffff000 | 0, 0), true);
  assert.equal(low.watchesDataPage(0x1000, 1), false);
});

test("save() is plain data and restore() brings the same triggers back", () => {
  const t = armed(0x80002000, 0, M | LOAD, 1);
  t.write(CSR_TDATA1, M | (1 << 16) | LOAD, TYPE2_HI);
  const state = structuredClone(t.save());
  assert.deepEqual(state, { v: 1, select: 1, tdata1: [[0, TYPE2_HI], [M | (1 << 16) | LOAD, TYPE2_HI]], tdata2: [[0, 0], [0x80002000 | 0, 0]] });
  const r = new Triggers();
  r.restore(state);
  assert.deepEqual(r.save(), state);
  assert.equal(r.dataArmed, true);
  assert.equal(r.matchData(0x80002000 | 0, 0, 1, TRIGGER_LOAD, PRIV_M), true);
  assert.equal(r.matchData(0x80002001 | 0, 0, 1, TRIGGER_LOAD, PRIV_M), false, "size 1 came back too");
});

test("a hostile state is refused whole, and a forged one keeps only what a guest could set", () => {
  const t = armed(0x1000, 0, M | EXECUTE);
  const before = t.save();
  const bad: unknown[] = [
    null, 7, { v: 2, select: 0, tdata1: [[0, 0], [0, 0]], tdata2: [[0, 0], [0, 0]] },
    { v: 1, select: 0, tdata1: [[0, 0]], tdata2: [[0, 0], [0, 0]] },
    { v: 1, select: 0, tdata1: [[0, 0], [0, "x"]], tdata2: [[0, 0], [0, 0]] },
    { v: 1, select: 0.5, tdata1: [[0, 0], [0, 0]], tdata2: [[0, 0], [0, 0]] },
  ];
  for (const s of bad) {
    assert.throws(() => t.restore(s as TriggerState), /^Error: triggers: cannot restore state version/);
    assert.deepEqual(t.save(), before, "unchanged after a refused restore");
  }
  // dmode, hit and action set, an out-of-range tselect: dropped as a CSR write drops them.
  t.restore({ v: 1, select: 5, tdata1: [[(1 << 20) | (1 << 12) | M | LOAD, TYPE2_HI | (1 << 27)], [0, 0]], tdata2: [[0, 0], [0, 0]] });
  assert.deepEqual(t.save(), { v: 1, select: 0, tdata1: [[M | LOAD, TYPE2_HI], [0, TYPE2_HI]], tdata2: [[0, 0], [0, 0]] });
});
