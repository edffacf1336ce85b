/**
 * The F and D extensions' computational instructions: OP-FP (0x53) and the
 * fused multiply-adds (0x43, 0x47, 0x4b, 0x4f). Loads and stores, the FS
 * check and FS dirtying belong to the hart.
 *
 * Each operation first tries a host-double fast path (round to nearest even
 * only, see fast-path.ts) and otherwise runs the exact software path.
 */
import { F, FRM, X, type HartState } from "../hart-state.ts";
import { fpAdd, fpDiv, fpMul, fpMulAdd, fpSqrt } from "./arith.ts";
import { fpClassify } from "./classify.ts";
import { fpCompare, fpMinMax } from "./compare.ts";
import { FMT_D, FMT_S, RM_DYN, RM_RNE, RM_RTZ } from "./constants.ts";
import { fpConvertFormat, fpFromInt, fpToInt, INT_LU } from "./convert.ts";
import {
  fastAddD,
  fastAddS,
  fastDivD,
  fastDivS,
  fastFromInt,
  fastMulAddD,
  fastMulAddS,
  fastMulD,
  fastMulS,
  fastNarrowD,
  fastSqrtD,
  fastSqrtS,
  fastToInt,
  fastWidenS,
} from "./fast-path.ts";
import { Operand, unpackReg } from "./operand.ts";
import { writeS } from "./result.ts";
import { fpSignInject, SGNJX } from "./sign-inject.ts";

const OK = 0;
const ILLEGAL = 1;

const OPCODE_OP_FP = 0x53;
const OPCODE_FMADD = 0x43;
const OPCODE_FMSUB = 0x47;
const OPCODE_FNMSUB = 0x4b;
const OPCODE_FNMADD = 0x4f;

// OP-FP funct7 >> 2 (the low two bits are the format).
const FADD = 0x00;
const FSUB = 0x01;
const FMUL = 0x02;
const FDIV = 0x03;
const FSGNJ = 0x04;
const FMINMAX = 0x05;
const FCVT_FMT_FMT = 0x08;
const FSQRT = 0x0b;
const FCMP = 0x14;
const FCVT_INT_FMT = 0x18;
const FCVT_FMT_INT = 0x1a;
const FMV_X_FCLASS = 0x1c;
const FMV_F_X = 0x1e;

const opA = new Operand();
const opB = new Operand();
const opC = new Operand();

let fastPathEnabled = true;

/** Turns the host-double fast paths off or on (tests run both ways). */
export function setFpFastPath(enabled: boolean): void {
  fastPathEnabled = enabled;
}

/** The rounding mode an rm field selects, or -1 when it is reserved. */
function roundingMode(s: HartState, rm: number): number {
  if (rm < 5) return rm;
  if (rm !== RM_DYN) return -1;
  const frm = s.w[FRM];
  return frm >>> 0 < 5 ? frm : -1;
}

/**
 * Executes one OP-FP or FMADD/FMSUB/FNMSUB/FNMADD instruction. Returns 0 on
 * success, 1 if the instruction is illegal (unknown encoding, or a reserved
 * rounding mode in rm or, for rm = DYN, in frm); nothing is changed then.
 */
export function executeFp(s: HartState, insn: number): number {
  const opcode = insn & 0x7f;
  const rd = (insn >>> 7) & 31;
  const funct3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const fmt = (insn >>> 25) & 3;
  if (fmt > FMT_D) return ILLEGAL;
  if (opcode !== OPCODE_OP_FP) return executeMulAdd(s, insn, opcode, rd, funct3, rs1, rs2, fmt);

  const w = s.w;
  const single = fmt === FMT_S;
  const fast = fastPathEnabled;
  switch (insn >>> 27) {
    case FADD:
    case FSUB: {
      const rm = roundingMode(s, funct3);
      if (rm < 0) return ILLEGAL;
      const subtract = insn >>> 27 === FSUB;
      if (fast && rm === RM_RNE) {
        if (single ? fastAddS(s, rd, rs1, rs2, subtract) : fastAddD(s, rd, rs1, rs2, subtract)) return OK;
      }
      unpackReg(opA, w, rs1, fmt);
      unpackReg(opB, w, rs2, fmt);
      fpAdd(w, rd, fmt, opA, opB, subtract ? 1 : 0, rm);
      return OK;
    }
    case FMUL: {
      const rm = roundingMode(s, funct3);
      if (rm < 0) return ILLEGAL;
      if (fast && rm === RM_RNE) {
        if (single ? fastMulS(s, rd, rs1, rs2) : fastMulD(s, rd, rs1, rs2)) return OK;
      }
      unpackReg(opA, w, rs1, fmt);
      unpackReg(opB, w, rs2, fmt);
      fpMul(w, rd, fmt, opA, opB, rm);
      return OK;
    }
    case FDIV: {
      const rm = roundingMode(s, funct3);
      if (rm < 0) return ILLEGAL;
      if (fast && rm === RM_RNE) {
        if (single ? fastDivS(s, rd, rs1, rs2) : fastDivD(s, rd, rs1, rs2)) return OK;
      }
      unpackReg(opA, w, rs1, fmt);
      unpackReg(opB, w, rs2, fmt);
      fpDiv(w, rd, fmt, opA, opB, rm);
      return OK;
    }
    case FSQRT: {
      const rm = roundingMode(s, funct3);
      if (rs2 !== 0 || rm < 0) return ILLEGAL;
      if (fast && rm === RM_RNE) {
        if (single ? fastSqrtS(s, rd, rs1) : fastSqrtD(s, rd, rs1)) return OK;
      }
      unpackReg(opA, w, rs1, fmt);
      fpSqrt(w, rd, fmt, opA, rm);
      return OK;
    }
    case FSGNJ:
      if (funct3 > SGNJX) return ILLEGAL;
      fpSignInject(w, rd, fmt, rs1, rs2, funct3);
      return OK;
    case FMINMAX:
      if (funct3 > 1) return ILLEGAL;
      fpMinMax(s, rd, fmt, rs1, rs2, funct3 === 1);
      return OK;
    case FCVT_FMT_FMT: {
      // FCVT.S.D (fmt S, rs2 = D) or FCVT.D.S (fmt D, rs2 = S).
      const rm = roundingMode(s, funct3);
      if (rs2 !== (single ? FMT_D : FMT_S) || rm < 0) return ILLEGAL;
      if (fast && (single ? rm === RM_RNE && fastNarrowD(s, rd, rs1) : fastWidenS(s, rd, rs1))) return OK;
      unpackReg(opA, w, rs1, rs2);
      fpConvertFormat(w, rd, fmt, opA, rm);
      return OK;
    }
    case FCMP:
      if (funct3 > 2) return ILLEGAL;
      fpCompare(s, rd, fmt, rs1, rs2, funct3);
      return OK;
    case FCVT_INT_FMT: {
      const rm = roundingMode(s, funct3);
      if (rs2 > INT_LU || rm < 0) return ILLEGAL;
      if (fast && (rm === RM_RNE || rm === RM_RTZ) && fastToInt(s, rd, single, rs1, rs2, rm)) return OK;
      unpackReg(opA, w, rs1, fmt);
      fpToInt(w, rd, opA, rs2, rm);
      return OK;
    }
    case FCVT_FMT_INT: {
      const rm = roundingMode(s, funct3);
      if (rs2 > INT_LU || rm < 0) return ILLEGAL;
      if (fast && (!single || rm === RM_RNE) && fastFromInt(s, rd, single, rs1, rs2)) return OK;
      fpFromInt(w, rd, fmt, w[X + 2 * rs1], w[X + 2 * rs1 + 1], rs2, rm);
      return OK;
    }
    case FMV_X_FCLASS: {
      if (rs2 !== 0 || funct3 > 1) return ILLEGAL;
      if (rd === 0) return OK;
      if (funct3 === 1) {
        w[X + 2 * rd] = fpClassify(w, fmt, rs1);
        w[X + 2 * rd + 1] = 0;
      } else if (single) {
        const bits = w[F + 2 * rs1]; // raw, no NaN-box check
        w[X + 2 * rd] = bits;
        w[X + 2 * rd + 1] = bits >> 31;
      } else {
        w[X + 2 * rd] = w[F + 2 * rs1];
        w[X + 2 * rd + 1] = w[F + 2 * rs1 + 1];
      }
      return OK;
    }
    case FMV_F_X:
      if (rs2 !== 0 || funct3 !== 0) return ILLEGAL;
      if (single) {
        writeS(w, rd, w[X + 2 * rs1]);
      } else {
        w[F + 2 * rd] = w[X + 2 * rs1];
        w[F + 2 * rd + 1] = w[X + 2 * rs1 + 1];
      }
      return OK;
  }
  return ILLEGAL;
}

function executeMulAdd(
  s: HartState,
  insn: number,
  opcode: number,
  rd: number,
  funct3: number,
  rs1: number,
  rs2: number,
  fmt: number,
): number {
  let negateProduct: boolean;
  let negateAddend: boolean;
  switch (opcode) {
    case OPCODE_FMADD:
      negateProduct = false;
      negateAddend = false;
      break;
    case OPCODE_FMSUB:
      negateProduct = false;
      negateAddend = true;
      break;
    case OPCODE_FNMSUB:
      negateProduct = true;
      negateAddend = false;
      break;
    case OPCODE_FNMADD:
      negateProduct = true;
      negateAddend = true;
      break;
    default:
      return ILLEGAL;
  }
  const rm = roundingMode(s, funct3);
  if (rm < 0) return ILLEGAL;
  const rs3 = insn >>> 27;
  if (fastPathEnabled && rm === RM_RNE) {
    const done =
      fmt === FMT_S
        ? fastMulAddS(s, rd, rs1, rs2, rs3, negateProduct, negateAddend)
        : fastMulAddD(s, rd, rs1, rs2, rs3, negateProduct, negateAddend);
    if (done) return OK;
  }
  const w = s.w;
  unpackReg(opA, w, rs1, fmt);
  unpackReg(opB, w, rs2, fmt);
  unpackReg(opC, w, rs3, fmt);
  fpMulAdd(w, rd, fmt, opA, opB, opC, negateProduct ? 1 : 0, negateAddend ? 1 : 0, rm);
  return OK;
}
