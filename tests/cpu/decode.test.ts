import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeCache, ENTRY_WORDS } from "../../src/cpu/decode-cache.ts";
import { COMPRESSED, decodeInto, Op, REG_MASK, SHIFT_RD, SHIFT_RS1, SHIFT_RS2 } from "../../src/cpu/decode.ts";
import { F } from "../../src/cpu/hart-state.ts";
import { createVmMemory } from "../../src/cpu/layout.ts";

interface Decoded {
  op: Op;
  rd: number;
  rs1: number;
  rs2: number;
  compressed: boolean;
  imm: number;
}

/** Decodes `raw` and returns the fields as register word indexes / 2 for x registers. */
function decode(raw: number): Decoded {
  const dc = new Int32Array(ENTRY_WORDS);
  decodeInto(dc, 0, raw | 0);
  assert.equal(dc[0], raw | 0, "the entry keeps the raw bits");
  const word = dc[1];
  return {
    op: (word & 0xff) as Op,
    rd: ((word >>> SHIFT_RD) & REG_MASK) / 2,
    rs1: ((word >>> SHIFT_RS1) & REG_MASK) / 2,
    rs2: ((word >>> SHIFT_RS2) & REG_MASK) / 2,
    compressed: (word & COMPRESSED) !== 0,
    imm: dc[2],
  };
}

function check(raw: number, expected: Partial<Decoded>, what: string): void {
  const got = decode(raw);
  for (const [key, value] of Object.entries(expected)) {
    assert.equal(got[key as keyof Decoded], value, `${what}: ${key}`);
  }
}

test("base integer instructions decode to their operation, registers and immediate", () => {
  check(0xffd30293, { op: Op.ADDI, rd: 5, rs1: 6, imm: -3 }, "addi t0, t1, -3");
  check(0x00700293, { op: Op.LI, rd: 5, imm: 7 }, "li t0, 7 (addi t0, x0, 7)");
  check(0x00030293, { op: Op.MV, rd: 5, rs1: 6 }, "mv t0, t1 (addi)");
  check(0x007002b3, { op: Op.MV, rd: 5, rs1: 7 }, "add t0, x0, t2");
  check(0x123452b7, { op: Op.LI, rd: 5, imm: 0x12345000 }, "lui t0, 0x12345");
  check(0xfffff297, { op: Op.AUIPC, rd: 5, imm: -4096 }, "auipc t0, 0xfffff");
  check(0x02831293, { op: Op.SLLI, rd: 5, rs1: 6, imm: 40 }, "slli t0, t1, 40");
  check(0x42835293, { op: Op.SRAI, rd: 5, rs1: 6, imm: 40 }, "srai t0, t1, 40");
  check(0x407302b3, { op: Op.SUB, rd: 5, rs1: 6, rs2: 7 }, "sub t0, t1, t2");
  check(0x027302b3, { op: Op.MUL, rd: 5, rs1: 6, rs2: 7 }, "mul");
  check(0x027312b3, { op: Op.MULDIV }, "mulh");
  check(0x027342bb, { op: Op.MULDIVW }, "divw");
  check(0x2073c2b3, { op: Op.SH2ADD, rd: 5, rs1: 7, rs2: 7 }, "sh2add t0, t2, t2");
  check(0xfe731ee3, { op: Op.BNE, rs1: 6, rs2: 7, imm: -4 }, "bne t1, t2, -4");
  check(0x008000ef, { op: Op.JAL, rd: 1, imm: 8 }, "jal ra, 8");
  check(0xff9ff06f, { op: Op.J, imm: -8 }, "j -8");
  check(0x00008067, { op: Op.JR, rs1: 1 }, "ret (jalr x0, 0(ra))");
  check(0x010300e7, { op: Op.JALR, rd: 1, rs1: 6, imm: 16 }, "jalr ra, 16(t1)");
  check(0xff833283, { op: Op.LD, rd: 5, rs1: 6, imm: -8 }, "ld t0, -8(t1)");
  check(0x00730423, { op: Op.SB, rs1: 6, rs2: 7, imm: 8 }, "sb t2, 8(t1)");
  check(0x00734423, { op: Op.SLOW }, "store funct3 4");
  check(0x0000000f, { op: Op.NOP }, "fence");
  check(0x0000100f, { op: Op.NOP }, "fence.i");
});

test("writes to x0 become NOP, except where the access itself matters", () => {
  check(0x00000013, { op: Op.NOP }, "nop");
  check(0x00730033, { op: Op.NOP }, "add x0, t1, t2");
  check(0x027300b3 & ~0xf80, { op: Op.NOP }, "mul x0");
  check(0x00033003, { op: Op.SLOW }, "ld x0, 0(t1): the load may fault");
  check(0x0000006f, { op: Op.J }, "j . (jal x0)");
});

test("compressed instructions decode through their expansion and are marked 2 bytes long", () => {
  check(0x0505, { op: Op.ADDI, rd: 10, rs1: 10, imm: 1, compressed: true }, "c.addi a0, 1");
  check(0xabcd_4501, { op: Op.LI, rd: 10, imm: 0, compressed: true }, "c.li a0, 0 (upper half ignored)");
  check(0x8082, { op: Op.JR, rs1: 1, compressed: true }, "c.ret");
  check(0x6522, { op: Op.LD, rd: 10, rs1: 2, imm: 8, compressed: true }, "c.ldsp a0, 8(sp)");
  check(0x0000, { op: Op.SLOW }, "c.unimp (illegal)");
  assert.equal(decode(0x0505).compressed, true);
  assert.equal(decode(0x00a50513).compressed, false);
});

test("FP loads and stores name f registers; other encodings take the general path", () => {
  const fld = decode(0x00813087); // fld f1, 8(sp)
  assert.equal(fld.op, Op.FLD);
  assert.equal(fld.rd * 2, F + 2, "rd is f1's word index");
  const fsd = decode(0x00113427); // fsd f1, 8(sp)
  assert.equal(fsd.op, Op.FSD);
  assert.equal(fsd.rs2 * 2, F + 2);
  assert.equal(decode(0x02b572d3).op, Op.FP, "fadd.d");
  assert.equal(decode(0x00f2a2af).op, Op.AMO, "amoadd.w");
  assert.equal(decode(0x1002a2af).op, Op.AMO, "lr.w");
  assert.equal(decode(0x1072a2af).op, Op.SLOW, "lr.w with rs2 != 0 is reserved");
  assert.equal(decode(0x2872a2af).op, Op.SLOW, "AMO funct5 5 is reserved");
  assert.equal(decode(0x30529073).op, Op.SLOW, "csrw mtvec");
  assert.equal(decode(0x00000073).op, Op.SLOW, "ecall");
  assert.equal(decode(0x0000705b).op, Op.SLOW, "custom-2");
  assert.equal(decode(0xffffffff).op, Op.SLOW, "48-bit and longer encodings");
  assert.equal(decode(0x0002b283 | (7 << 12)).op, Op.SLOW, "load funct3 7");
});

test("the decode cache gives each page of code a slot and reuses slots round-robin", () => {
  const cache = new DecodeCache(createVmMemory(3 * 4096), 3 * 4096); // 3 pages: 3 slots
  const a = cache.pageBase(0);
  const b = cache.pageBase(1);
  const c = cache.pageBase(2);
  assert.equal(cache.pageBase(1), b, "a page keeps its slot");
  assert.equal(new Set([a, b, c]).size, 3);
  assert.equal(cache.words.length, 3 * 2048 * ENTRY_WORDS);
});
