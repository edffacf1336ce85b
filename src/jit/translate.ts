/**
 * The translator: one 4 KiB page of guest code (its decode-cache entries) →
 * one wasm function over the VM memory. docs/jit.md has the design.
 *
 *   run(entry, left, st, tlb) -> instructions executed
 *
 * `entry` is the halfword index of the pc in the page, `left` the instruction
 * budget, `st` the hart state's byte offset, `tlb` its data TLB's (the MMU
 * index of the moment). x1..x31 live in i64 locals; the ones the page uses
 * are loaded at entry, the ones it writes stored at every exit. The code
 * never traps. It calls two imports that stay inside it: `fill` (a TLB miss:
 * the hart walks the page table and fills the entry, then the access is
 * probed again) and `fp` (F/D arithmetic: the interpreter's executeFp).
 * Whatever it does not translate (CSRs, AMOs, system instructions, a miss
 * the fill cannot serve: MMIO, faults, code pages, misalignment) is an exit
 * with pc at that instruction and JIT_EXIT = EXIT_STEP, so the interpreter
 * executes it with every check, exactly as it would have without a JIT.
 *
 * Shape: a loop around nested blocks, one per instruction, entered through a
 * br_table on `entry`; instruction i's code follows the end of its block and
 * falls into i + 1's. A forward branch in the page is a `br` to the target's
 * block; a backward one (and an in-page JALR) goes round the loop. The
 * budget is accounted per basic block: the first instruction of each block
 * checks that the whole block fits and counts it at once.
 */
import { decodeInto, Op } from "../cpu/decode.ts";
import { MS_FS } from "../cpu/csr-numbers.ts";
import { JIT_EXIT, MSTATUS, PC } from "../cpu/hart-state.ts";
import { mulDivCode, type MulDivLocals } from "../cpu/mul-div.ts";
import { BlockType, Op as W, uleb, ValType } from "../wasm/encoder.ts";
import { emitFpFast, FP_LOCAL_COUNT, fpFastKind, type FpLocals } from "./fp-double.ts";

/** pc is elsewhere (another page, a JALR, the budget): the caller goes on from pc. */
export const EXIT_CONTINUE = 0;
/** The instruction at pc is not translated or missed the TLB: the interpreter runs it. */
export const EXIT_STEP = 1;
/** pc is not an entry of this translation. */
export const EXIT_NO_ENTRY = 2;

/**
 * Longest basic block: a longer straight line is cut, so the budget a block
 * needs stays small (at the end of a batch, the instructions that do not
 * fit a whole block are interpreted).
 */
const BLOCK_CAP = 64;

const PAGE_HALFWORDS = 2048;

// Locals: the parameters, x1..x31, then scratch.
const P_ENTRY = 0, P_LEFT = 1, P_ST = 2, P_TLB = 3;
const xLocal = (r: number) => 3 + r; // x1..x31 → 4..34
const L_N = 35; // i32: instructions executed
const L_VBASE = 36; // i64: virtual address of the page
const L_VA = 37; // i64: a load/store's address, a JALR's target
const L_E = 38; // i32: a TLB entry's byte offset
const MD: MulDivLocals = { a: 39, b: 40, t: 41, u: 42, v: 43 };
const FPL: FpLocals = {
  st: P_ST, x: 44, y: 45, z: 46, ph: 47, pl: 48, sh: 49, sl: 50, t: 51, te: 52, r: 53, back: 54, v: 55, xh: 56, xl: 57, yh: 58, yl: 59,
};
const LOCAL_TYPES = [...Array<number>(31).fill(ValType.i64), ValType.i32, ValType.i64, ValType.i64, ValType.i32, ...Array<number>(5).fill(ValType.i64),
  ...Array<number>(FP_LOCAL_COUNT).fill(ValType.f64)];

/** Imported functions (their indexes come before `run`'s). */
const FN_FILL = 0; // fill(st, vaLo, vaHi, size, write) -> 1 when the TLB entry was filled
const FN_FP = 1; // fp(st, insn) -> 0 done, else nothing changed and the interpreter must run it
const FN_RUN = 2;

export interface Translation {
  /** The module's bytes: imports env.mem, env.fill, env.fp; exports "run". */
  bytes: Uint8Array<ArrayBuffer>;
  /**
   * Per halfword offset: -1 not an entry; 0 an instruction the code does
   * not execute (the interpreter must); n > 0 the budget it needs to enter
   * (the rest of its basic block).
   */
  need: Int16Array;
  /**
   * Per halfword offset: for an entry inside a basic block, the
   * instructions from it to the block's end, which the code does not count
   * (the block's first instruction does): the caller counts them.
   */
  pre: Int16Array;
  /** Instructions translated (not counting the ones left to the interpreter). */
  translated: number;
  /** The bytes the translation depends on: (offset, length) of every instruction it read. */
  spans: Int32Array;
}

/** Decoded fields of one entry (register numbers, not state word indexes). */
interface Insn {
  off: number;
  op: Op;
  d: number;
  a: number;
  b: number;
  imm: number;
  len: number;
  raw: number;
  ok: boolean;
}

/** Operations the translator emits; anything else ends the code at that instruction. */
function translatable(op: Op): boolean {
  return op !== Op.SLOW && op !== Op.DECODE && op !== Op.AMO;
}

const isBranch = (op: Op) => op >= Op.BEQ && op <= Op.BGEU;
const isLoad = (op: Op) => op >= Op.LB && op <= Op.LWU;
const isStore = (op: Op) => op >= Op.SB && op <= Op.SD;
/** No fall-through to the next instruction. */
const isJump = (op: Op) => op === Op.JAL || op === Op.J || op === Op.JALR || op === Op.JR;

// OP-FP's funct5 values whose operand or result is an x register.
const FP_TO_X = new Set([0x14, 0x18, 0x1c]); // compares, float → int, fmv.x / fclass
const X_TO_FP = new Set([0x1a, 0x1e]); // int → float, fmv.f.x
/** The x registers an F/D computational instruction reads and writes (0: none). */
function fpXRegs(raw: number): { read: number; written: number } {
  const f5 = raw >>> 27;
  if ((raw & 0x7f) !== 0x53) return { read: 0, written: 0 };
  return { read: X_TO_FP.has(f5) ? (raw >>> 15) & 31 : 0, written: FP_TO_X.has(f5) ? (raw >>> 7) & 31 : 0 };
}

/**
 * Reads the entries of the page whose decode-cache entries start at word
 * `slotBase` of `dc` (decoding those not decoded yet from the page's bytes
 * at memory byte offset `host`), from offset 0 and from `entries`, following
 * fall-through and in-page branch targets.
 */
function sweep(dc: Int32Array, m16: Uint16Array, slotBase: number, host: number, entries: readonly number[]): Insn[] {
  const seen = new Uint8Array(PAGE_HALFWORDS);
  const out: Insn[] = [];
  const work = [0, ...entries];
  while (work.length > 0) {
    let off = work.pop()!;
    while (off < 4096 && seen[off >> 1] === 0) {
      seen[off >> 1] = 1;
      const k = slotBase + (off << 1);
      if (off === 0xffe) {
        // May cross into the next page: always the interpreter's.
        out.push({ off, op: Op.SLOW, d: 0, a: 0, b: 0, imm: 0, len: 2, raw: 0, ok: false });
        break;
      }
      if ((dc[k + 1] & 0xff) === Op.DECODE) {
        const h = (host + off) >>> 1;
        decodeInto(dc, k, m16[h] | (m16[h + 1] << 16));
      }
      const word = dc[k + 1];
      const op = (word & 0xff) as Op;
      const insn: Insn = {
        off, op,
        d: ((word >>> 8) & 127) >> 1, a: ((word >>> 15) & 127) >> 1, b: ((word >>> 22) & 127) >> 1,
        imm: dc[k + 2], len: (word & (1 << 29)) !== 0 ? 2 : 4, raw: dc[k], ok: translatable(op),
      };
      out.push(insn);
      if (insn.ok && (isBranch(op) || op === Op.JAL || op === Op.J)) {
        const t = off + insn.imm;
        if (t >= 0 && t < 4096) work.push(t);
      }
      // Past an unconditional jump or zeros (c.unimp) lies data as often as
      // code: other entries and branch targets find the code that is there.
      if (op === Op.J || op === Op.JR || (insn.raw & 0xffff) === 0) break;
      off += insn.len;
    }
  }
  return out.sort((x, y) => x.off - y.off);
}

/** A growing function body with the control stack tracked, so branches name labels by level. */
class Body {
  readonly b: number[] = [];
  /** Open blocks/loops/ifs. */
  open = 0;
  emit(...bytes: number[]): void {
    for (let i = 0; i < bytes.length; i++) this.b.push(bytes[i]);
  }
  /** Opens a block or loop; returns its level. */
  enter(kind: number, type: number = BlockType.void): number {
    this.emit(kind, type);
    return this.open++;
  }
  end(): void {
    this.emit(W.end);
    this.open--;
  }
  br(level: number, op: number = W.br): void {
    this.emit(op, ...uleb(this.open - 1 - level));
  }
  i64(v: number): void {
    this.b.push(W.i64Const);
    this.sleb(v);
  }
  i32(v: number): void {
    this.b.push(W.i32Const);
    this.sleb(v);
  }
  /** Signed LEB128 of an integer within ±2^53 (no BigInt: this runs per constant). */
  private sleb(v: number): void {
    for (;;) {
      const byte = v & 0x7f;
      v = Math.floor(v / 128);
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        this.b.push(byte);
        return;
      }
      this.b.push(byte | 0x80);
    }
  }
}

export function translatePage(dc: Int32Array, m16: Uint16Array, slotBase: number, host: number, entries: readonly number[]): Translation {
  const insns = sweep(dc, m16, slotBase, host, entries);
  const at = new Int32Array(PAGE_HALFWORDS).fill(-1); // halfword → index in insns
  insns.forEach((x, i) => (at[x.off >> 1] = i));
  const covered = (off: number) => off >= 0 && off < 4096 && at[off >> 1] >= 0;

  // Basic blocks of translated instructions. A block starts at an entry,
  // a branch target, after a branch, jump or untranslated instruction, at
  // a gap, where two instructions fall through (the sweep can decode a
  // second, overlapping stream: from offset 0 inside an instruction that
  // crosses into the page, or data), or after BLOCK_CAP instructions; it
  // never holds an untranslated one. Only the previous instruction (by
  // offset) falls into an instruction inside a block.
  const target = new Uint8Array(PAGE_HALFWORDS);
  const fallIn = new Uint8Array(PAGE_HALFWORDS + 2);
  for (const e of [0, ...entries]) target[e >> 1] = 1;
  for (const x of insns) {
    if (x.ok && (isBranch(x.op) || x.op === Op.JAL || x.op === Op.J) && covered(x.off + x.imm)) target[(x.off + x.imm) >> 1] = 1;
    if (x.ok && !isJump(x.op)) fallIn[(x.off + x.len) >> 1]++;
  }
  const leader = new Uint8Array(insns.length);
  for (let i = 0, len = 0; i < insns.length; i++) {
    const x = insns[i], prev = insns[i - 1];
    leader[i] = i === 0 || target[x.off >> 1] !== 0 || fallIn[x.off >> 1] !== 1 || !prev.ok || prev.off + prev.len !== x.off ||
      isBranch(prev.op) || isJump(prev.op) || len >= BLOCK_CAP ? 1 : 0;
    len = leader[i] ? 1 : len + 1;
  }
  // rem[i]: instructions from i to its block's end.
  const rem = new Int32Array(insns.length);
  for (let i = insns.length - 1; i >= 0; i--) {
    if (!insns[i].ok) continue;
    rem[i] = 1 + (i + 1 < insns.length && insns[i + 1].ok && !leader[i + 1] ? rem[i + 1] : 0);
  }
  const need = new Int16Array(PAGE_HALFWORDS).fill(-1);
  const pre = new Int16Array(PAGE_HALFWORDS);
  insns.forEach((x, i) => {
    need[x.off >> 1] = x.ok ? rem[i] : 0;
    if (x.ok && !leader[i]) pre[x.off >> 1] = rem[i];
  });

  const regs = new Uint8Array(32); // bit 1: read, bit 2: written
  const use = (r: number, bit: number) => {
    if (r < 32) regs[r] |= bit;
  };
  for (const x of insns) {
    if (!x.ok) continue;
    if (x.op === Op.FP) {
      const { read, written } = fpXRegs(x.raw);
      use(read, 1);
      use(written, 2);
      continue;
    }
    use(x.a, 1);
    use(x.b, 1);
    use(x.d, 2);
  }
  regs[0] = 0;

  const f = new Body();
  const x = (r: number) => (r === 0 ? f.i64(0) : f.emit(W.localGet, xLocal(r)));
  const setX = (r: number) => (r === 0 ? f.emit(W.drop) : f.emit(W.localSet, xLocal(r)));
  const pc = (off: number) => {
    f.emit(W.localGet, L_VBASE);
    f.i64(off);
    f.emit(W.i64Add);
  };
  let exitLevel = 0;
  let loopLevel = 0;
  const labels = new Int32Array(insns.length);
  /** pc := vbase + off, JIT_EXIT := reason, leave; `uncount` instructions of the block were counted but not run. */
  const exit = (off: number, reason: number, uncount: number) => {
    if (uncount !== 0) {
      f.emit(W.localGet, L_N);
      f.i32(uncount);
      f.emit(W.i32Sub, W.localSet, L_N);
    }
    f.emit(W.localGet, P_ST);
    pc(off);
    f.emit(W.i64Store, 3, ...uleb(PC * 4));
    exitWith(reason);
  };
  const exitWith = (reason: number) => {
    f.emit(W.localGet, P_ST);
    f.i32(reason);
    f.emit(W.i32Store, 2, ...uleb(JIT_EXIT * 4));
    f.br(exitLevel);
  };
  /** A block's head: if (n + k > left) exit to `off` (budget); n += k. */
  const budget = (off: number, k: number) => {
    f.emit(W.localGet, L_N);
    f.i32(k);
    f.emit(W.i32Add, W.localTee, L_N, W.localGet, P_LEFT, W.i32GtS);
    f.enter(W.if);
    exit(off, EXIT_CONTINUE, k);
    f.end();
  };
  // Entry `maxHalf + h` of the dispatch is halfword h for a jump inside the
  // code: a block's first instruction (whose head counts the block), else
  // the exit for pcs that are no entry.
  const maxHalf = insns.length > 0 ? (insns[insns.length - 1].off >> 1) + 1 : 0;
  /** Control goes to `target` (a page offset; may lie outside the page) after instruction i. */
  const goto = (i: number, target: number) => {
    if (!covered(target)) return exit(target, EXIT_CONTINUE, rem[i] - 1);
    const j = at[target >> 1];
    if (target > insns[i].off) return f.br(labels[j]);
    f.i32(target >> 1);
    f.emit(W.localSet, P_ENTRY);
    f.br(loopLevel);
  };
  /** Exits for the interpreter to run instruction i. */
  const step = (i: number) => exit(insns[i].off, EXIT_STEP, rem[i]);
  /**
   * The TLB probe of instruction i: leaves the access's address in the VM
   * memory on the stack. A miss asks the hart to fill the entry (a page
   * walk) and probes again; a second miss leaves the access to the interpreter.
   */
  const probe = (i: number, size: number, store: boolean) => {
    const ins = insns[i];
    x(ins.a);
    f.i64(ins.imm);
    f.emit(W.i64Add, W.localTee, L_VA);
    f.emit(W.i32WrapI64, W.i32Const, 7, W.i32ShrU);
    f.i32(0x7fe0);
    f.emit(W.i32And, W.localGet, P_TLB, W.i32Add, W.localSet, L_E);
    const missed = () => {
      f.emit(W.localGet, L_E, W.i64Load, 3, store ? 8 : 0); // the read or the write tag
      f.emit(W.localGet, L_VA);
      f.i64(-4096 | (size - 1)); // a misaligned access misses too
      f.emit(W.i64And, W.i64Ne);
    };
    missed();
    f.enter(W.if);
    f.emit(W.localGet, P_ST, W.localGet, L_VA, W.i32WrapI64, W.localGet, L_VA);
    f.i64(32);
    f.emit(W.i64ShrU, W.i32WrapI64);
    f.i32(size);
    f.i32(store ? 1 : 0);
    f.emit(W.call, FN_FILL, W.i32Eqz);
    f.enter(W.if);
    step(i);
    f.end();
    missed();
    f.enter(W.if);
    step(i);
    f.end();
    f.end();
    // The address in the VM memory: va + the entry's addend.
    f.emit(W.localGet, L_E, W.i32Load, 2, 24, W.localGet, L_VA, W.i32WrapI64, W.i32Add);
  };
  /** mstatus.FS off: F/D instructions are illegal, the interpreter raises it. */
  const fsOff = (i: number) => {
    f.emit(W.localGet, P_ST, W.i32Load, 2, ...uleb(MSTATUS * 4));
    f.i32(MS_FS);
    f.emit(W.i32And, W.i32Eqz);
    f.enter(W.if);
    step(i);
    f.end();
  };
  const fsDirty = () => {
    f.emit(W.localGet, P_ST, W.localGet, P_ST, W.i32Load, 2, ...uleb(MSTATUS * 4));
    f.i32(MS_FS);
    f.emit(W.i32Or, W.i32Store, 2, ...uleb(MSTATUS * 4));
  };

  // Prologue: the registers the page uses, the page's virtual address.
  for (let r = 1; r < 32; r++) {
    if (regs[r] === 0) continue;
    f.emit(W.localGet, P_ST, W.i64Load, 3, ...uleb(r * 8), W.localSet, xLocal(r));
  }
  f.emit(W.localGet, P_ST, W.i64Load, 3, ...uleb(PC * 4));
  f.i64(-4096);
  f.emit(W.i64And, W.localSet, L_VBASE);

  exitLevel = f.enter(W.block);
  loopLevel = f.enter(W.loop);
  for (let i = insns.length - 1; i >= 0; i--) labels[i] = f.enter(W.block);
  const bad = f.enter(W.block);
  // The dispatch: entry halfword → its instruction's block; maxHalf + halfword → a block's first instruction.
  f.emit(W.localGet, P_ENTRY, W.brTable, ...uleb(2 * maxHalf));
  for (let h = 0; h < maxHalf; h++) f.emit(...uleb(f.open - 1 - (at[h] >= 0 ? labels[at[h]] : bad)));
  for (let h = 0; h < maxHalf; h++) f.emit(...uleb(f.open - 1 - (at[h] >= 0 && leader[at[h]] ? labels[at[h]] : bad)));
  f.emit(...uleb(f.open - 1 - bad));
  f.end();
  // Not an entry: pc = vbase + 2 * halfword.
  f.emit(W.localGet, P_ST, W.localGet, L_VBASE, W.localGet, P_ENTRY);
  f.i32(maxHalf);
  f.emit(W.i32Sub, W.localGet, P_ENTRY, W.localGet, P_ENTRY);
  f.i32(maxHalf);
  f.emit(W.i32GeU, W.select, W.i64ExtendI32U);
  f.i64(1);
  f.emit(W.i64Shl, W.i64Add, W.i64Store, 3, ...uleb(PC * 4));
  exitWith(EXIT_NO_ENTRY);

  /** Instruction i's operation (a branch or jump included, fall-through not). */
  const emitOp = (i: number): void => {
    const ins = insns[i];
    const { off, op, d, a, b, imm, len } = ins;
    const next = off + len;
    switch (op) {
      case Op.NOP: break;
      case Op.LI: f.i64(imm); setX(d); break;
      case Op.MV: x(a); setX(d); break;
      case Op.ADDI: x(a); f.i64(imm); f.emit(W.i64Add); setX(d); break;
      case Op.SLTI: x(a); f.i64(imm); f.emit(W.i64LtS, W.i64ExtendI32U); setX(d); break;
      case Op.SLTIU: x(a); f.i64(imm); f.emit(W.i64LtU, W.i64ExtendI32U); setX(d); break;
      case Op.XORI: x(a); f.i64(imm); f.emit(W.i64Xor); setX(d); break;
      case Op.ORI: x(a); f.i64(imm); f.emit(W.i64Or); setX(d); break;
      case Op.ANDI: x(a); f.i64(imm); f.emit(W.i64And); setX(d); break;
      case Op.SLLI: x(a); f.i64(imm); f.emit(W.i64Shl); setX(d); break;
      case Op.SRLI: x(a); f.i64(imm); f.emit(W.i64ShrU); setX(d); break;
      case Op.SRAI: x(a); f.i64(imm); f.emit(W.i64ShrS); setX(d); break;
      case Op.ADDIW: x(a); f.i64(imm); f.emit(W.i64Add, W.i64Extend32S); setX(d); break;
      case Op.SLLIW: x(a); f.emit(W.i32WrapI64); f.i32(imm); f.emit(W.i32Shl, W.i64ExtendI32S); setX(d); break;
      case Op.SRLIW: x(a); f.emit(W.i32WrapI64); f.i32(imm); f.emit(W.i32ShrU, W.i64ExtendI32S); setX(d); break;
      case Op.SRAIW: x(a); f.emit(W.i32WrapI64); f.i32(imm); f.emit(W.i32ShrS, W.i64ExtendI32S); setX(d); break;
      case Op.AUIPC: pc(off + imm); setX(d); break;
      case Op.ADD: x(a); x(b); f.emit(W.i64Add); setX(d); break;
      case Op.SUB: x(a); x(b); f.emit(W.i64Sub); setX(d); break;
      case Op.SLL: x(a); x(b); f.emit(W.i64Shl); setX(d); break; // wasm takes the count mod 64, as RISC-V
      case Op.SLT: x(a); x(b); f.emit(W.i64LtS, W.i64ExtendI32U); setX(d); break;
      case Op.SLTU: x(a); x(b); f.emit(W.i64LtU, W.i64ExtendI32U); setX(d); break;
      case Op.XOR: x(a); x(b); f.emit(W.i64Xor); setX(d); break;
      case Op.SRL: x(a); x(b); f.emit(W.i64ShrU); setX(d); break;
      case Op.SRA: x(a); x(b); f.emit(W.i64ShrS); setX(d); break;
      case Op.OR: x(a); x(b); f.emit(W.i64Or); setX(d); break;
      case Op.AND: x(a); x(b); f.emit(W.i64And); setX(d); break;
      case Op.ADDW: x(a); x(b); f.emit(W.i64Add, W.i64Extend32S); setX(d); break;
      case Op.SUBW: x(a); x(b); f.emit(W.i64Sub, W.i64Extend32S); setX(d); break;
      case Op.SLLW: x(a); f.emit(W.i32WrapI64); x(b); f.emit(W.i32WrapI64, W.i32Shl, W.i64ExtendI32S); setX(d); break;
      case Op.SRLW: x(a); f.emit(W.i32WrapI64); x(b); f.emit(W.i32WrapI64, W.i32ShrU, W.i64ExtendI32S); setX(d); break;
      case Op.SRAW: x(a); f.emit(W.i32WrapI64); x(b); f.emit(W.i32WrapI64, W.i32ShrS, W.i64ExtendI32S); setX(d); break;
      case Op.MULW: x(a); x(b); f.emit(W.i64Mul, W.i64Extend32S); setX(d); break;
      case Op.MUL: x(a); x(b); f.emit(W.i64Mul); setX(d); break;
      case Op.SH1ADD: case Op.SH2ADD: case Op.SH3ADD:
        x(a); f.i64(op - Op.SH1ADD + 1); f.emit(W.i64Shl); x(b); f.emit(W.i64Add); setX(d); break;
      case Op.ADD_UW: x(a); f.emit(W.i32WrapI64, W.i64ExtendI32U); x(b); f.emit(W.i64Add); setX(d); break;
      case Op.ANDN: x(a); x(b); f.i64(-1); f.emit(W.i64Xor, W.i64And); setX(d); break;
      case Op.ORN: x(a); x(b); f.i64(-1); f.emit(W.i64Xor, W.i64Or); setX(d); break;
      case Op.XNOR: x(a); x(b); f.emit(W.i64Xor); f.i64(-1); f.emit(W.i64Xor); setX(d); break;
      case Op.MIN: x(a); x(b); x(a); x(b); f.emit(W.i64LtS, W.select); setX(d); break;
      case Op.MAX: x(a); x(b); x(a); x(b); f.emit(W.i64GtS, W.select); setX(d); break;
      case Op.MINU: x(a); x(b); x(a); x(b); f.emit(W.i64LtU, W.select); setX(d); break;
      case Op.MAXU: x(a); x(b); x(a); x(b); f.emit(W.i64GtU, W.select); setX(d); break;
      case Op.SEXT_B: x(a); f.emit(W.i64Extend8S); setX(d); break;
      case Op.SEXT_H: x(a); f.emit(W.i64Extend16S); setX(d); break;
      case Op.ZEXT_H: x(a); f.i64(0xffff); f.emit(W.i64And); setX(d); break;
      case Op.MULDIV: {
        x(a); f.emit(W.localSet, MD.a); x(b); f.emit(W.localSet, MD.b);
        f.emit(...mulDivCode((ins.raw >>> 12) & 7, MD)); setX(d);
        break;
      }
      case Op.MULDIVW: {
        // The 64-bit definition on operands extended to 64 bits (signed for
        // DIVW/REMW, unsigned for DIVUW/REMUW) gives the W results, zero and
        // overflow cases included, once the result is sign-extended from 32.
        const f3 = (ins.raw >>> 12) & 7;
        const ext = (f3 & 1) === 0 ? W.i64ExtendI32S : W.i64ExtendI32U;
        x(a); f.emit(W.i32WrapI64, ext, W.localSet, MD.a); x(b); f.emit(W.i32WrapI64, ext, W.localSet, MD.b);
        f.emit(...mulDivCode(f3, MD), W.i64Extend32S); setX(d);
        break;
      }
      case Op.JAL: pc(next); setX(d); goto(i, off + imm); break;
      case Op.J: goto(i, off + imm); break;
      case Op.JALR: case Op.JR: {
        x(a); f.i64(imm); f.emit(W.i64Add); f.i64(-2); f.emit(W.i64And, W.localSet, L_VA);
        if (op === Op.JALR) { pc(next); setX(d); }
        // In the page (a return to a caller there): round the loop to the
        // target's block, whose head checks the budget.
        f.emit(W.localGet, L_VA, W.localGet, L_VBASE, W.i64Sub);
        f.i64(4096);
        f.emit(W.i64LtU);
        f.enter(W.if);
        f.emit(W.localGet, L_VA, W.i32WrapI64);
        f.i32(4095);
        f.emit(W.i32And, W.i32Const, 1, W.i32ShrU);
        f.i32(maxHalf);
        f.emit(W.i32Add, W.localSet, P_ENTRY);
        f.br(loopLevel);
        f.end();
        f.emit(W.localGet, P_ST, W.localGet, L_VA, W.i64Store, 3, ...uleb(PC * 4));
        exitWith(EXIT_CONTINUE);
        break;
      }
      case Op.BEQ: case Op.BNE: case Op.BLT: case Op.BGE: case Op.BLTU: case Op.BGEU: {
        x(a); x(b);
        f.emit([W.i64Eq, W.i64Ne, W.i64LtS, W.i64GeS, W.i64LtU, W.i64GeU][op - Op.BEQ]);
        f.enter(W.if);
        goto(i, off + imm);
        f.end();
        break;
      }
      case Op.LB: case Op.LH: case Op.LW: case Op.LD: case Op.LBU: case Op.LHU: case Op.LWU: {
        const size = [1, 2, 4, 8, 1, 2, 4][op - Op.LB];
        probe(i, size, false);
        f.emit([W.i64Load8S, W.i64Load16S, W.i64Load32S, W.i64Load, W.i64Load8U, W.i64Load16U, W.i64Load32U][op - Op.LB], 0, 0);
        setX(d);
        break;
      }
      case Op.SB: case Op.SH: case Op.SW: case Op.SD: {
        probe(i, 1 << (op - Op.SB), true);
        x(b);
        f.emit([W.i64Store8, W.i64Store16, W.i64Store32, W.i64Store][op - Op.SB], 0, 0);
        break;
      }
      case Op.FLW: case Op.FLD: {
        // d is the f register's state word index / 2: its byte offset is d * 8.
        fsOff(i);
        f.emit(W.localGet, P_ST);
        probe(i, op === Op.FLW ? 4 : 8, false);
        if (op === Op.FLW) {
          f.emit(W.i64Load32U, 2, 0);
          f.i64(-0x100000000); // NaN-boxed
          f.emit(W.i64Or);
        } else {
          f.emit(W.i64Load, 3, 0);
        }
        f.emit(W.i64Store, 3, ...uleb(d * 8));
        fsDirty();
        break;
      }
      case Op.FSW: case Op.FSD: {
        fsOff(i);
        probe(i, op === Op.FSW ? 4 : 8, true);
        f.emit(W.localGet, P_ST, W.i64Load, 3, ...uleb(b * 8));
        f.emit(op === Op.FSW ? W.i64Store32 : W.i64Store, op === Op.FSW ? 2 : 3, 0);
        break;
      }
      case Op.FP: {
        // Double add/sub/mul/fused multiply-add in RNE: inline (fp-double.ts), falling back to the call.
        let done = -1;
        if (fpFastKind(ins.raw) !== null) {
          fsOff(i);
          done = f.enter(W.block);
          const slow = f.enter(W.block);
          emitFpFast(f, FPL, ins.raw, slow);
          fsDirty();
          f.br(done);
          f.end();
        }
        // The interpreter's own F/D code (fpu/execute-fp.ts) through the
        // hart; the x registers it reads or writes pass through the state.
        const { read, written } = fpXRegs(ins.raw);
        if (read !== 0) f.emit(W.localGet, P_ST, W.localGet, xLocal(read), W.i64Store, 3, ...uleb(read * 8));
        f.emit(W.localGet, P_ST);
        f.i32(ins.raw);
        f.emit(W.call, FN_FP);
        f.enter(W.if);
        step(i);
        f.end();
        if (written !== 0) f.emit(W.localGet, P_ST, W.i64Load, 3, ...uleb(written * 8), W.localSet, xLocal(written));
        if (done >= 0) f.end();
        break;
      }
      default:
        throw new Error(`jit: operation ${op} has no translation`);
    }
  };
  /**
   * A block t..i that ends with a backward branch (or J) to its own start:
   * a wasm loop of its own, so the hot inner loops of guest code do not go
   * round the dispatch. (Its instructions' usual code stays, for entries
   * into the middle of the block.)
   */
  const emitLoop = (t: number, i: number): void => {
    const loop = f.enter(W.loop);
    budget(insns[t].off, rem[t]);
    for (let j = t; j < i; j++) emitOp(j);
    const { op, a, b, off, len } = insns[i];
    if (op === Op.J) {
      f.br(loop);
      f.end();
      return;
    }
    x(a); x(b);
    f.emit([W.i64Eq, W.i64Ne, W.i64LtS, W.i64GeS, W.i64LtU, W.i64GeU][op - Op.BEQ]);
    f.br(loop, W.brIf);
    f.end();
    goto(i, off + len);
  };
  const loopEnd = new Int32Array(insns.length).fill(-1);
  insns.forEach((ins, i) => {
    if (!ins.ok || !(isBranch(ins.op) || ins.op === Op.J) || ins.imm > 0 || !covered(ins.off + ins.imm)) return;
    const t = at[(ins.off + ins.imm) >> 1];
    if (leader[t] && t + rem[t] - 1 === i) loopEnd[t] = i;
  });

  let translated = 0;
  for (let i = 0; i < insns.length; i++) {
    f.end(); // instruction i's block: its code follows
    const ins = insns[i];
    const { off, op, len } = ins;
    if (!ins.ok) {
      exit(off, EXIT_STEP, 0);
      continue;
    }
    translated++;
    if (loopEnd[i] >= 0) {
      emitLoop(i, loopEnd[i]);
      continue;
    }
    if (leader[i]) budget(off, rem[i]);
    emitOp(i);
    // Fall through to the next instruction.
    const next = off + len;
    if (!isJump(op)) {
      if (i + 1 < insns.length && insns[i + 1].off === next) continue;
      goto(i, next);
    }
  }
  f.end(); // loop
  f.end(); // exit block
  for (let r = 1; r < 32; r++) {
    if ((regs[r] & 2) === 0) continue;
    f.emit(W.localGet, P_ST, W.localGet, xLocal(r), W.i64Store, 3, ...uleb(r * 8));
  }
  f.emit(W.localGet, L_N);
  const spans = new Int32Array(insns.length * 2);
  insns.forEach((ins, i) => {
    spans[2 * i] = ins.off;
    spans[2 * i + 1] = ins.off === 0xffe ? 0 : ins.len;
  });
  return { bytes: assemble(f.b), need, pre, translated, spans };
}

/**
 * One function run(i32 entry, i32 left, i32 st, i32 tlb) -> i32, importing
 * env.mem, env.fill(i32 st, i32 lo, i32 hi, i32 size, i32 write) -> i32 and
 * env.fp(i32 st, i32 insn) -> i32.
 */
function assemble(code: number[]): Uint8Array<ArrayBuffer> {
  const { i32 } = ValType;
  const str = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const head = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [3, 0x60, 4, i32, i32, i32, i32, 1, i32, 0x60, 5, i32, i32, i32, i32, i32, 1, i32, 0x60, 2, i32, i32, 1, i32]),
    ...section(2, [
      3,
      ...str("env"), ...str("mem"), 0x02, 0x00, 1,
      ...str("env"), ...str("fill"), 0x00, 1,
      ...str("env"), ...str("fp"), 0x00, 2,
    ]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...str("run"), 0x00, FN_RUN]),
  ];
  const locals: number[] = [...uleb(LOCAL_TYPES.length)];
  for (const t of LOCAL_TYPES) locals.push(1, t);
  const bodyLength = locals.length + code.length + 1;
  const codeSection = [1, ...uleb(bodyLength)];
  const tail = [10, ...uleb(codeSection.length + bodyLength), ...codeSection, ...locals];
  const out = new Uint8Array(head.length + tail.length + code.length + 1);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(code, head.length + tail.length);
  out[out.length - 1] = W.end;
  return out;
}
