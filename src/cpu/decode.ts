/**
 * The predecoder: turns one instruction (32-bit, or 16-bit RVC) into the
 * entry the interpreter's inner loop executes: an operation number, register
 * fields and the immediate, already extracted, sign-extended and specialised
 * (x0 operands, rd = x0).
 *
 * Only the common operations have their own number; everything else decodes
 * to Op.SLOW, which the hart executes through its general path (and which
 * raises illegal-instruction when the encoding is invalid). An operation
 * number is only given to an encoding that is valid as a whole, so the inner
 * loop never has to check one.
 *
 * Entry layout (words at k, k+1, k+2 of a decode cache, see decode-cache.ts):
 *   raw   the instruction bits as fetched: 32 bits at pc (for RVC, the low
 *         half is the instruction and the high half whatever follows it)
 *   word  op | rd << 8 | rs1 << 15 | rs2 << 22 | (len == 2) << 29
 *   imm   the immediate (branch and jump offsets relative to pc)
 * Register fields are word indexes into the hart state (x[i] at 2i, 2i+1;
 * f[i] at F + 2i), not register numbers.
 */
import { compressedTable } from "./compressed.ts";

/** Operation numbers of the inner loop's switch (dense, from 0, for a jump table). */
export const enum Op {
  SLOW = 0, // everything else: the hart's general path
  NOP, // FENCE, FENCE.I, and ALU operations that write x0
  LI, // rd = imm (LUI, ADDI rd, x0, imm)
  MV, // rd = rs1
  ADDI,
  SLTI,
  SLTIU,
  XORI,
  ORI,
  ANDI,
  SLLI, // imm = shift amount
  SRLI,
  SRAI,
  ADDIW,
  SLLIW,
  SRLIW,
  SRAIW,
  AUIPC, // rd = pc + imm
  ADD,
  SUB,
  SLL,
  SLT,
  SLTU,
  XOR,
  SRL,
  SRA,
  OR,
  AND,
  ADDW,
  SUBW,
  SLLW,
  SRLW,
  SRAW,
  MULW,
  MUL,
  SH1ADD,
  SH2ADD,
  SH3ADD,
  ADD_UW,
  ANDN,
  ORN,
  XNOR,
  MIN,
  MAX,
  MINU,
  MAXU,
  SEXT_B,
  SEXT_H,
  ZEXT_H,
  MULDIV, // the other M operations: the hart's op()
  MULDIVW, // DIVW, DIVUW, REMW, REMUW: op32()
  JAL, // rd = pc + len; pc += imm
  J, // JAL with rd = x0
  JALR,
  JR, // JALR with rd = x0
  BEQ,
  BNE,
  BLT,
  BGE,
  BLTU,
  BGEU,
  LB,
  LH,
  LW,
  LD,
  LBU,
  LHU,
  LWU,
  SB,
  SH,
  SW,
  SD,
  FLW, // rd is an f register
  FLD,
  FSW, // rs2 is an f register
  FSD,
  FP, // OP-FP and fused multiply-add: executeFp
  AMO, // LR, SC, AMOs: the hart's atomic()
  DECODE, // not decoded yet, or its bytes were written since (decode-cache.ts)
}

/** Word index of f0 in the hart state (hart-state.ts F), for the FP load/store fields. */
const F_WORD = 64;
export const SHIFT_RD = 8;
export const SHIFT_RS1 = 15;
export const SHIFT_RS2 = 22;
/** Register fields are 7 bits: word indexes up to F + 63. */
export const REG_MASK = 127;
/** Set in `word` for a 16-bit instruction. */
export const COMPRESSED = 1 << 29;

/** Decodes `raw` (as fetched at pc) into entry words k..k+2 of `dc`. */
export function decodeInto(dc: Int32Array, k: number, raw: number): void {
  let insn = raw;
  let flags = 0;
  if ((raw & 3) !== 3) {
    insn = compressedTable()[raw & 0xffff];
    flags = COMPRESSED;
  }
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  let op = decodeOp(insn, rd, rs1, rs2);
  let d = rd;
  let a = rs1;
  let b = rs2;
  let imm = 0;
  switch (op) {
    case Op.ADDI: case Op.SLTI: case Op.SLTIU: case Op.XORI: case Op.ORI: case Op.ANDI:
    case Op.ADDIW: case Op.JALR: case Op.LB: case Op.LH: case Op.LW: case Op.LD: case Op.LBU:
    case Op.LHU: case Op.LWU: case Op.FLW: case Op.FLD:
      imm = insn >> 20;
      break;
    case Op.SLLI: case Op.SRLI: case Op.SRAI:
      imm = (insn >>> 20) & 63;
      break;
    case Op.SLLIW: case Op.SRLIW: case Op.SRAIW:
      imm = (insn >>> 20) & 31;
      break;
    case Op.LI: case Op.AUIPC: // LUI, AUIPC (ADDI rd, x0 is rewritten below)
      imm = insn & -4096;
      break;
    case Op.JAL:
      imm = ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) | (((insn >>> 21) & 0x3ff) << 1);
      break;
    case Op.BEQ: case Op.BNE: case Op.BLT: case Op.BGE: case Op.BLTU: case Op.BGEU:
      imm = ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
      break;
    case Op.SB: case Op.SH: case Op.SW: case Op.SD: case Op.FSW: case Op.FSD:
      imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
      break;
  }
  // Specialise: x0 as destination or operand.
  if (op === Op.ADDI && rs1 === 0) {
    op = Op.LI;
  } else if (op === Op.ADDI && imm === 0) {
    op = Op.MV;
  } else if (op === Op.ADD && (rs1 === 0 || rs2 === 0)) {
    op = Op.MV;
    a = rs1 === 0 ? rs2 : rs1;
  } else if (op === Op.JAL && rd === 0) {
    op = Op.J;
  } else if (op === Op.JALR && rd === 0) {
    op = Op.JR;
  }
  if (rd === 0 && op >= Op.LI && op <= Op.MULDIVW) op = Op.NOP;
  let word = op | flags;
  if (op !== Op.SLOW) {
    if (op === Op.FLW || op === Op.FLD) d += F_WORD / 2;
    if (op === Op.FSW || op === Op.FSD) b += F_WORD / 2;
    word |= (d << (SHIFT_RD + 1)) | (a << (SHIFT_RS1 + 1)) | (b << (SHIFT_RS2 + 1));
  }
  dc[k] = raw;
  dc[k + 1] = word;
  dc[k + 2] = imm;
}

/** The operation of a valid encoding, or Op.SLOW. */
function decodeOp(insn: number, rd: number, rs1: number, rs2: number): Op {
  const f3 = (insn >>> 12) & 7;
  const f7 = insn >>> 25;
  switch (insn & 0x7f) {
    case 0x37: return Op.LI; // LUI
    case 0x17: return Op.AUIPC;
    case 0x6f: return Op.JAL;
    case 0x67: return f3 === 0 ? Op.JALR : Op.SLOW;
    case 0x63:
      switch (f3) {
        case 0: return Op.BEQ;
        case 1: return Op.BNE;
        case 4: return Op.BLT;
        case 5: return Op.BGE;
        case 6: return Op.BLTU;
        case 7: return Op.BGEU;
      }
      return Op.SLOW;
    case 0x03: // a load to x0 still accesses memory: general path
      return rd === 0 || f3 === 7 ? Op.SLOW : ((Op.LB + f3) as Op);
    case 0x23: return f3 <= 3 ? ((Op.SB + f3) as Op) : Op.SLOW;
    case 0x07: return f3 === 2 ? Op.FLW : f3 === 3 ? Op.FLD : Op.SLOW;
    case 0x27: return f3 === 2 ? Op.FSW : f3 === 3 ? Op.FSD : Op.SLOW;
    case 0x0f: return f3 <= 1 ? Op.NOP : Op.SLOW; // FENCE, FENCE.I
    case 0x13: {
      const f6 = insn >>> 26;
      switch (f3) {
        case 0: return Op.ADDI;
        case 2: return Op.SLTI;
        case 3: return Op.SLTIU;
        case 4: return Op.XORI;
        case 6: return Op.ORI;
        case 7: return Op.ANDI;
        case 1:
          if (f6 === 0) return Op.SLLI;
          if (f7 === 0x30 && rs2 === 4) return Op.SEXT_B;
          if (f7 === 0x30 && rs2 === 5) return Op.SEXT_H;
          return Op.SLOW;
        default: // 5
          return f6 === 0 ? Op.SRLI : f6 === 0x10 ? Op.SRAI : Op.SLOW;
      }
    }
    case 0x1b:
      if (f3 === 0) return Op.ADDIW;
      if (f3 === 1 && f7 === 0) return Op.SLLIW;
      if (f3 === 5 && f7 === 0) return Op.SRLIW;
      if (f3 === 5 && f7 === 0x20) return Op.SRAIW;
      return Op.SLOW;
    case 0x33:
      switch ((f7 << 3) | f3) {
        case 0x000: return Op.ADD;
        case 0x001: return Op.SLL;
        case 0x002: return Op.SLT;
        case 0x003: return Op.SLTU;
        case 0x004: return Op.XOR;
        case 0x005: return Op.SRL;
        case 0x006: return Op.OR;
        case 0x007: return Op.AND;
        case 0x100: return Op.SUB;
        case 0x105: return Op.SRA;
        case 0x008: return Op.MUL;
        case 0x009: case 0x00a: case 0x00b: case 0x00c: case 0x00d: case 0x00e: case 0x00f: return Op.MULDIV;
        case 0x082: return Op.SH1ADD;
        case 0x084: return Op.SH2ADD;
        case 0x086: return Op.SH3ADD;
        case 0x107: return Op.ANDN;
        case 0x106: return Op.ORN;
        case 0x104: return Op.XNOR;
        case 0x02c: return Op.MIN;
        case 0x02d: return Op.MINU;
        case 0x02e: return Op.MAX;
        case 0x02f: return Op.MAXU;
      }
      return Op.SLOW;
    case 0x3b:
      switch ((f7 << 3) | f3) {
        case 0x000: return Op.ADDW;
        case 0x100: return Op.SUBW;
        case 0x001: return Op.SLLW;
        case 0x005: return Op.SRLW;
        case 0x105: return Op.SRAW;
        case 0x008: return Op.MULW;
        case 0x00c: case 0x00d: case 0x00e: case 0x00f: return Op.MULDIVW;
        case 0x020: return Op.ADD_UW;
        case 0x024: return rs2 === 0 ? Op.ZEXT_H : Op.SLOW;
      }
      return Op.SLOW;
    case 0x53: case 0x43: case 0x47: case 0x4b: case 0x4f:
      return Op.FP;
    case 0x2f: {
      if (f3 !== 2 && f3 !== 3) return Op.SLOW;
      const f5 = insn >>> 27;
      if (f5 === 0x02) return rs2 === 0 ? Op.AMO : Op.SLOW; // LR
      return f5 <= 0x04 || (f5 & 3) === 0 && f5 <= 0x1c ? Op.AMO : Op.SLOW;
    }
  }
  return Op.SLOW;
}
