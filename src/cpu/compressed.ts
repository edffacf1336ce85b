/**
 * RVC: every 16-bit instruction expands to the 32-bit instruction it stands
 * for, so the interpreter has one execute path. The whole 64K space is
 * expanded once into a table.
 */

/**
 * What the table holds for an illegal (or reserved) encoding: all ones, a
 * reserved major opcode, so the interpreter's decode needs no extra test.
 */
export const ILLEGAL_EXPANSION = -1;

const OP_LOAD = 0x03, OP_LOAD_FP = 0x07, OP_IMM = 0x13, OP_IMM_32 = 0x1b, OP_STORE = 0x23,
  OP_STORE_FP = 0x27, OP = 0x33, OP_LUI = 0x37, OP_32 = 0x3b, OP_BRANCH = 0x63, OP_JALR = 0x67,
  OP_JAL = 0x6f, OP_SYSTEM = 0x73;

const bit = (v: number, i: number) => (v >>> i) & 1;
const bits = (v: number, hi: number, lo: number) => (v >>> lo) & ((1 << (hi - lo + 1)) - 1);
const sext = (v: number, width: number) => (v << (32 - width)) >> (32 - width);

const iType = (imm: number, rs1: number, f3: number, rd: number, op: number) =>
  ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const sType = (imm: number, rs2: number, rs1: number, f3: number, op: number) =>
  (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;
const rType = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) =>
  (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const bType = (imm: number, rs2: number, rs1: number, f3: number) =>
  (bit(imm, 12) << 31) | (bits(imm, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
  (bits(imm, 4, 1) << 8) | (bit(imm, 11) << 7) | OP_BRANCH;
const jType = (imm: number, rd: number) =>
  (bit(imm, 20) << 31) | (bits(imm, 10, 1) << 21) | (bit(imm, 11) << 20) | (bits(imm, 19, 12) << 12) | (rd << 7) | OP_JAL;

/** Expands one 16-bit instruction; returns 0 when it is illegal or reserved. */
export function expandCompressed(c: number): number {
  const op = c & 3;
  const f3 = bits(c, 15, 13);
  const rdp = bits(c, 4, 2) + 8; // rd' / rs2'
  const rs1p = bits(c, 9, 7) + 8; // rs1' / rd'
  const rd = bits(c, 11, 7);
  const rs2 = bits(c, 6, 2);
  const ciImm = sext((bit(c, 12) << 5) | bits(c, 6, 2), 6);
  const ldOff = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6); // C.LD/C.SD/C.FLD/C.FSD
  const lwOff = (bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6); // C.LW/C.SW
  if (op === 0) {
    switch (f3) {
      case 0: {
        const imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3);
        return imm === 0 ? 0 : iType(imm, 2, 0, rdp, OP_IMM); // C.ADDI4SPN
      }
      case 1: return iType(ldOff, rs1p, 3, rdp, OP_LOAD_FP); // C.FLD
      case 2: return iType(lwOff, rs1p, 2, rdp, OP_LOAD); // C.LW
      case 3: return iType(ldOff, rs1p, 3, rdp, OP_LOAD); // C.LD
      case 5: return sType(ldOff, rdp, rs1p, 3, OP_STORE_FP); // C.FSD
      case 6: return sType(lwOff, rdp, rs1p, 2, OP_STORE); // C.SW
      case 7: return sType(ldOff, rdp, rs1p, 3, OP_STORE); // C.SD
      default: return 0;
    }
  }
  if (op === 1) {
    switch (f3) {
      case 0: return iType(ciImm, rd, 0, rd, OP_IMM); // C.ADDI / C.NOP
      case 1: return rd === 0 ? 0 : iType(ciImm, rd, 0, rd, OP_IMM_32); // C.ADDIW
      case 2: return iType(ciImm, 0, 0, rd, OP_IMM); // C.LI
      case 3: {
        if (rd === 2) {
          const imm = sext((bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (bits(c, 4, 3) << 7) | (bit(c, 2) << 5), 10);
          return imm === 0 ? 0 : iType(imm, 2, 0, 2, OP_IMM); // C.ADDI16SP
        }
        return ciImm === 0 ? 0 : ((ciImm << 12) & 0xfffff000) | (rd << 7) | OP_LUI; // C.LUI
      }
      case 4: {
        const shamt = (bit(c, 12) << 5) | bits(c, 6, 2);
        switch (bits(c, 11, 10)) {
          case 0: return iType(shamt, rs1p, 5, rs1p, OP_IMM); // C.SRLI
          case 1: return iType(shamt | 0x400, rs1p, 5, rs1p, OP_IMM); // C.SRAI
          case 2: return iType(ciImm, rs1p, 7, rs1p, OP_IMM); // C.ANDI
          default: {
            const f2 = bits(c, 6, 5);
            if (bit(c, 12) === 0) {
              const table = [[0x20, 0], [0, 4], [0, 6], [0, 7]]; // SUB XOR OR AND
              return rType(table[f2][0], rdp, rs1p, table[f2][1], rs1p, OP);
            }
            if (f2 === 0) return rType(0x20, rdp, rs1p, 0, rs1p, OP_32); // C.SUBW
            if (f2 === 1) return rType(0, rdp, rs1p, 0, rs1p, OP_32); // C.ADDW
            return 0;
          }
        }
      }
      case 5: {
        const imm = sext((bit(c, 12) << 11) | (bit(c, 11) << 4) | (bits(c, 10, 9) << 8) | (bit(c, 8) << 10) |
          (bit(c, 7) << 6) | (bit(c, 6) << 7) | (bits(c, 5, 3) << 1) | (bit(c, 2) << 5), 12);
        return jType(imm, 0); // C.J
      }
      default: {
        const imm = sext((bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bit(c, 2) << 5), 9);
        return bType(imm, 0, rs1p, f3 === 6 ? 0 : 1); // C.BEQZ / C.BNEZ
      }
    }
  }
  if (op === 2) {
    switch (f3) {
      case 0: return iType((bit(c, 12) << 5) | rs2, rd, 1, rd, OP_IMM); // C.SLLI
      case 1: return iType((bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6), 2, 3, rd, OP_LOAD_FP); // C.FLDSP
      case 2: return rd === 0 ? 0 : iType((bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6), 2, 2, rd, OP_LOAD); // C.LWSP
      case 3: return rd === 0 ? 0 : iType((bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6), 2, 3, rd, OP_LOAD); // C.LDSP
      case 4:
        if (bit(c, 12) === 0) {
          if (rs2 === 0) return rd === 0 ? 0 : iType(0, rd, 0, 0, OP_JALR); // C.JR
          return rType(0, rs2, 0, 0, rd, OP); // C.MV
        }
        if (rs2 === 0) return rd === 0 ? 0x00100073 : iType(0, rd, 0, 1, OP_JALR); // C.EBREAK / C.JALR
        return rType(0, rs2, rd, 0, rd, OP); // C.ADD
      case 5: return sType((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6), rs2, 2, 3, OP_STORE_FP); // C.FSDSP
      case 6: return sType((bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6), rs2, 2, 2, OP_STORE); // C.SWSP
      default: return sType((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6), rs2, 2, 3, OP_STORE); // C.SDSP
    }
  }
  return 0;
}

let table: Int32Array | null = null;

/** The expansion of every 16-bit pattern (index = the 16 bits; ILLEGAL_EXPANSION if illegal). */
export function compressedTable(): Int32Array {
  if (table === null) {
    table = new Int32Array(65536);
    for (let c = 0; c < 65536; c++) {
      if ((c & 3) === 3) continue;
      const insn = expandCompressed(c);
      table[c] = insn === 0 ? ILLEGAL_EXPANSION : insn;
    }
  }
  return table;
}

