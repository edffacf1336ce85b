/**
 * The F and D computational instructions, encoded with fixed registers so a
 * single test harness can run any of them: sources f6 (or x6), f2, f3;
 * destination f7 or x7 (an instruction writes one of them).
 */

/** What a source register holds: a single, a double, or an integer (x6). */
export type SourceKind = "s" | "d" | "x";

export interface FpInstruction {
  name: string;
  /** Sources in rs1, rs2, rs3 order. */
  sources: SourceKind[];
  /** Whether bits 14:12 are a rounding mode (else part of the opcode). */
  hasRm: boolean;
  /** The instruction word; `rm` is ignored unless hasRm. */
  word(rm: number): number;
}

export const RD = 7;
export const RS1 = 6;
export const RS2 = 2;
export const RS3 = 3;

export function opFpWord(funct7: number, rs2Field: number, funct3: number): number {
  return ((funct7 << 25) | (rs2Field << 20) | (RS1 << 15) | (funct3 << 12) | (RD << 7) | 0x53) >>> 0;
}

export function fusedWord(opcode: number, fmt: number, rm: number): number {
  return ((RS3 << 27) | (fmt << 25) | (RS2 << 20) | (RS1 << 15) | (rm << 12) | (RD << 7) | opcode) >>> 0;
}

function withRm(name: string, sources: SourceKind[], funct7: number, rs2Field: number): FpInstruction {
  return { name, sources, hasRm: true, word: (rm) => opFpWord(funct7, rs2Field, rm) };
}

function fixed(name: string, sources: SourceKind[], funct7: number, rs2Field: number, funct3: number): FpInstruction {
  return { name, sources, hasRm: false, word: () => opFpWord(funct7, rs2Field, funct3) };
}

function build(): FpInstruction[] {
  const list: FpInstruction[] = [];
  const intKinds = ["w", "wu", "l", "lu"];
  for (const [fmt, f] of [[0, "s"], [1, "d"]] as const) {
    const two: SourceKind[] = [f, f];
    list.push(withRm(`fadd.${f}`, two, 0x00 | fmt, RS2));
    list.push(withRm(`fsub.${f}`, two, 0x04 | fmt, RS2));
    list.push(withRm(`fmul.${f}`, two, 0x08 | fmt, RS2));
    list.push(withRm(`fdiv.${f}`, two, 0x0c | fmt, RS2));
    list.push(withRm(`fsqrt.${f}`, [f], 0x2c | fmt, 0));
    list.push(fixed(`fsgnj.${f}`, two, 0x10 | fmt, RS2, 0));
    list.push(fixed(`fsgnjn.${f}`, two, 0x10 | fmt, RS2, 1));
    list.push(fixed(`fsgnjx.${f}`, two, 0x10 | fmt, RS2, 2));
    list.push(fixed(`fmin.${f}`, two, 0x14 | fmt, RS2, 0));
    list.push(fixed(`fmax.${f}`, two, 0x14 | fmt, RS2, 1));
    list.push(fixed(`fle.${f}`, two, 0x50 | fmt, RS2, 0));
    list.push(fixed(`flt.${f}`, two, 0x50 | fmt, RS2, 1));
    list.push(fixed(`feq.${f}`, two, 0x50 | fmt, RS2, 2));
    intKinds.forEach((k, i) => list.push(withRm(`fcvt.${k}.${f}`, [f], 0x60 | fmt, i)));
    intKinds.forEach((k, i) => list.push(withRm(`fcvt.${f}.${k}`, ["x"], 0x68 | fmt, i)));
    list.push(fixed(`fclass.${f}`, [f], 0x70 | fmt, 0, 1));
    list.push(fixed(f === "s" ? "fmv.x.w" : "fmv.x.d", [f], 0x70 | fmt, 0, 0));
    list.push(fixed(f === "s" ? "fmv.w.x" : "fmv.d.x", ["x"], 0x78 | fmt, 0, 0));
    const three: SourceKind[] = [f, f, f];
    for (const [name, opcode] of [["fmadd", 0x43], ["fmsub", 0x47], ["fnmsub", 0x4b], ["fnmadd", 0x4f]] as const) {
      list.push({ name: `${name}.${f}`, sources: three, hasRm: true, word: (rm) => fusedWord(opcode, fmt, rm) });
    }
  }
  list.push(withRm("fcvt.s.d", ["d"], 0x20, 1));
  list.push(withRm("fcvt.d.s", ["s"], 0x21, 0));
  return list;
}

export const FP_INSTRUCTIONS: readonly FpInstruction[] = build();

export const RM_NAMES = ["rne", "rtz", "rdn", "rup", "rmm", "rm5", "rm6", "dyn"];
