/**
 * Warms up the interpreter before the first guest runs.
 *
 * V8 optimises `executeBatch` from the type feedback its earlier runs left,
 * and code that had not run by then becomes a deoptimisation exit: the first
 * time a guest uses an instruction kind the optimiser never saw, the whole
 * loop falls back to the bytecode interpreter and is compiled again (a Linux
 * boot did that ~25 times, a third of its CPU time in deoptimised code and the
 * compiler). So once per process a scratch hart runs a program that uses every
 * operation of the inner loop (both outcomes of every branch, operands with the
 * sign and high bits set), the page-switch and TLB-miss paths, and the common
 * slow ones (CSRs, atomics, FP, traps).
 */
import { Bus } from "../machine/bus.ts";
import { PC } from "./hart-state.ts";
import type { Hart } from "./hart.ts";
import { createVmMemory, RAM_BASE } from "./layout.ts";

/** The primer's RAM: code pages 0 and 1, data page 2. */
const RAM = 3 * 4096;
const CODE1 = 0x1000;
const DATA = 0x2000;
/** Instructions the scratch hart runs: the program loops through its trap handler. */
const BUDGET = 30_000;

const r = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) =>
  (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const i = (imm: number, rs1: number, f3: number, rd: number, op: number) =>
  ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const s = (imm: number, rs2: number, rs1: number, f3: number, op: number) =>
  (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;
const b = (imm: number, rs2: number, rs1: number, f3: number) =>
  (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
  (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63;
const jal = (imm: number, rd: number) =>
  (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
const csr = (csrNum: number, rs1: number, f3: number, rd: number) => i(csrNum, rs1, f3, rd, 0x73);

/** 64-bit operands in the data page (hi, lo), loaded into x5..x14. */
const CONSTANTS: [number, number][] = [
  [0x80000001, 0xfffffff0], [0x00000000, 0x80000000], [0x7fffffff, 0xffffffff], [0xffffffff, 0xffffffff],
  [0x12345678, 0x9abcdef0], [0x00000000, 0x00000003], [0x00000001, 0x00000000], [0x3ff00000, 0x00000000],
  [0x40000000, 0x00000000], [0x00000000, 0x00000028],
];
/** Register pairs (rs1, rs2) every two-operand operation runs with. */
const PAIRS: [number, number][] = [[5, 6], [6, 5], [7, 8], [8, 9], [9, 14], [13, 10], [5, 5]];

function program(): { page0: number[]; page1: number[] } {
  const p: number[] = [];
  p.push(r(0, 0, 0, 0, 1, 0x17) | (2 << 12)); // auipc x1, 2: the data page
  p.push(r(0, 0, 0, 0, 2, 0x17) | (1 << 12)); // auipc x2, 1: code page 1 (the trap handler)
  p.push(i(-4, 2, 0, 2, 0x13)); // addi x2, x2, -4
  p.push(csr(0x305, 2, 1, 0)); // csrw mtvec, x2
  p.push((2 << 12) | (3 << 7) | 0x37); // lui x3, 2: mstatus.FS = initial
  p.push(csr(0x300, 3, 2, 0)); // csrs mstatus, x3
  const loop = p.length;
  CONSTANTS.forEach((_, k) => p.push(i(8 * k, 1, 3, 5 + k, 0x03))); // ld x5+k, 8k(x1)
  // Results go to x20..x31 in turn (x19 is the atomics' base address).
  let rd = 20;
  const next = () => (rd = rd === 31 ? 20 : rd + 1);
  // OP, OP-32: base, M (MUL and MULW inline, division and high products through op/op32), Zba, Zbb.
  const ops: [number, number, number][] = [
    [0x00, 0, 0x33], [0x20, 0, 0x33], [0x00, 1, 0x33], [0x00, 2, 0x33], [0x00, 3, 0x33], [0x00, 4, 0x33],
    [0x00, 5, 0x33], [0x20, 5, 0x33], [0x00, 6, 0x33], [0x00, 7, 0x33], [0x01, 0, 0x33], [0x10, 2, 0x33],
    [0x10, 4, 0x33], [0x10, 6, 0x33], [0x20, 7, 0x33], [0x20, 6, 0x33], [0x20, 4, 0x33], [0x05, 4, 0x33],
    [0x05, 5, 0x33], [0x05, 6, 0x33], [0x05, 7, 0x33], [0x00, 0, 0x3b], [0x20, 0, 0x3b], [0x00, 1, 0x3b],
    [0x00, 5, 0x3b], [0x20, 5, 0x3b], [0x01, 0, 0x3b], [0x04, 0, 0x3b],
    [0x01, 1, 0x33], [0x01, 3, 0x33], [0x01, 4, 0x33], [0x01, 5, 0x33], [0x01, 6, 0x33], [0x01, 7, 0x3b],
  ];
  for (const [f7, f3, op] of ops) for (const [a, c] of PAIRS) p.push(r(f7, c, a, f3, next(), op));
  p.push(r(0, 5, 0, 0, next(), 0x33)); // add rd, x0, x5 (MV)
  // OP-IMM, OP-IMM-32 with small, negative and large immediates and shift amounts.
  for (const a of [5, 6, 7, 8, 13]) {
    for (const imm of [7, -2048, 2047, -1]) for (const f3 of [0, 2, 3, 4, 6, 7]) p.push(i(imm, a, f3, next(), 0x13));
    for (const sh of [5, 40]) {
      p.push(i(sh, a, 1, next(), 0x13)); // slli
      p.push(i(sh, a, 5, next(), 0x13)); // srli
      p.push(i(0x400 | sh, a, 5, next(), 0x13)); // srai
    }
    p.push(i(0, a, 0, next(), 0x13)); // mv
    p.push(i(-5, a, 0, next(), 0x1b)); // addiw
    p.push(i(9, a, 1, next(), 0x1b)); // slliw
    p.push(i(9, a, 5, next(), 0x1b)); // srliw
    p.push(i(0x400 | 9, a, 5, next(), 0x1b)); // sraiw
    p.push(i(0x604, a, 1, next(), 0x13)); // sext.b
    p.push(i(0x605, a, 1, next(), 0x13)); // sext.h
    p.push(r(0x04, 0, a, 4, next(), 0x3b)); // zext.h
    p.push(i(0x600, a, 1, next(), 0x13)); // clz (slow)
  }
  p.push(i(-7, 0, 0, next(), 0x13)); // li
  p.push((0xfedcb << 12) | (next() << 7) | 0x37); // lui
  p.push((0x80000 << 12) | (next() << 7) | 0x17); // auipc
  p.push(i(1, 5, 0, 0, 0x13)); // addi x0: NOP
  p.push(0x0001_0505); // c.addi a0, 1; c.nop
  // Loads and stores of every width (the first of each misses the TLB), one misaligned.
  for (let f3 = 0; f3 <= 3; f3++) p.push(s(0x800 + 8 * f3, 5 + f3, 1, f3, 0x23));
  for (let f3 = 0; f3 <= 6; f3++) for (const off of [0, 8, 0x800]) p.push(i(off, 1, f3, next(), 0x03));
  p.push(i(0x801, 1, 3, next(), 0x03)); // misaligned ld
  // FP: loads, arithmetic, compares, conversions, moves, stores.
  p.push(i(56, 1, 3, 0, 0x07), i(64, 1, 3, 1, 0x07), i(0, 1, 2, 8, 0x07)); // fld f0, fld f1, flw f8
  for (const [f7, rs2, f3] of [[0x01, 1, 7], [0x05, 1, 7], [0x09, 1, 7], [0x0d, 1, 7], [0x2d, 0, 7], [0x11, 1, 0],
    [0x15, 1, 0], [0x20, 1, 7], [0x21, 0, 7], [0x00, 8, 7], [0x08, 8, 7]]) {
    p.push(r(f7, rs2, 0, f3, 2, 0x53));
  }
  for (const f3 of [0, 1, 2]) p.push(r(0x51, 1, 0, f3, next(), 0x53)); // fle, flt, feq
  p.push(r(0x61, 0, 1, 1, next(), 0x53), r(0x69, 0, 5, 7, 4, 0x53)); // fcvt.w.d, fcvt.d.w
  p.push(r(0x71, 0, 1, 0, next(), 0x53), r(0x79, 0, 12, 0, 5, 0x53)); // fmv.x.d, fmv.d.x
  p.push((2 << 27) | (1 << 25) | (1 << 20) | (0 << 15) | (7 << 12) | (3 << 7) | 0x43); // fmadd.d f3, f0, f1, f2
  p.push(s(0x810, 2, 1, 3, 0x27), s(0x818, 8, 1, 2, 0x27)); // fsd, fsw
  // Atomics (AMO, LR, SC), and CSRs (the general path).
  p.push(i(0x820, 1, 0, 19, 0x13)); // addi x19, x1, 0x820
  p.push(r(0x00, 5, 19, 3, next(), 0x2f), r(0x08, 0, 19, 3, next(), 0x2f), r(0x0c, 6, 19, 3, next(), 0x2f));
  p.push(r(0x04, 5, 19, 2, next(), 0x2f)); // amoswap.w
  p.push(csr(0x300, 0, 2, next()), csr(0x300, 0, 7, next()), csr(0x340, 5, 1, next())); // csrr, csrrci, csrrw
  // Branches: taken and not taken, each over one instruction.
  for (const f3 of [0, 1, 4, 5, 6, 7]) {
    for (const [a, c] of PAIRS) p.push(b(8, c, a, f3), i(1, 0, 0, next(), 0x13));
  }
  // A call into page 1 and back (JAL, JALR), then a jump whose target changes
  // pc's high word (x11 = 1 << 32): its fetch faults into the handler, which
  // starts the loop again (J).
  p.push(jal(CODE1 + 24 - 4 * p.length, 4)); // jal x4, page1 + 24
  p.push(i(0, 11, 0, 0, 0x67)); // jr x11
  if (4 * p.length > CODE1) throw new Error("primer: page 0 overflows");
  // The handler first makes an atomic fault (misaligned), then starts the loop again.
  const handler = [
    csr(0x342, 0, 2, 20), // page1 + 0 (mtvec): csrr x20, mcause
    i(6, 0, 0, 22, 0x13), // li x22, 6 (store misaligned)
    b(12, 22, 20, 0), // beq x20, x22, page1 + 20
    i(0x821, 1, 0, 22, 0x13), // addi x22, x1, 0x821
    r(0x00, 5, 22, 3, 23, 0x2f), // amoadd.d x23, x5, (x22): faults
    jal(4 * loop - (CODE1 + 20), 0), // page1 + 20: j loop
    i(0, 4, 0, 21, 0x67), // page1 + 24: jalr x21, 0(x4)
  ];
  return { page0: p, page1: handler };
}

let primed = false;

/** Runs the primer once per process; `makeHart` builds a hart on the given memory and bus. */
export function primeInterpreter(makeHart: (memory: WebAssembly.Memory, bus: Bus) => Hart): void {
  if (primed) return;
  primed = true;
  const memory = createVmMemory(RAM);
  const bus = new Bus(memory, RAM);
  const { page0, page1 } = program();
  const ram = new DataView(bus.ram.buffer, bus.ram.byteOffset, RAM);
  page0.forEach((word, k) => ram.setInt32(4 * k, word, true));
  page1.forEach((word, k) => ram.setInt32(CODE1 + 4 * k, word, true));
  CONSTANTS.forEach(([hi, lo], k) => {
    ram.setInt32(DATA + 8 * k, lo | 0, true);
    ram.setInt32(DATA + 8 * k + 4, hi | 0, true);
  });
  const hart = makeHart(memory, bus);
  hart.reset(RAM_BASE);
  for (let done = 0; done < BUDGET; ) done += hart.run(1000);
  if (hart.w[PC + 1] !== 0) throw new Error("interpreter primer went astray");
}
