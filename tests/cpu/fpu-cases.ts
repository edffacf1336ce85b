/**
 * The FPU differential test's cases: every F/D instruction over edge-case
 * and seeded random operands in every rounding mode (static rm with an
 * arbitrary frm, and DYN with a valid frm), reserved rounding modes, and random
 * encodings for the decoder. All registers an instruction may read are set
 * by the case or by the fixed background register file.
 */
import { FP_INSTRUCTIONS, fusedWord, opFpWord, RD, RS1, RS2, RS3, type FpInstruction, type SourceKind } from "./fpu-instructions.ts";
import {
  boundaryValue,
  cancellingAddend,
  conversionBoundaryRaw,
  coreEdgeValues,
  DOUBLE,
  edgeIntegers,
  edgeValues,
  formatOf,
  MASK64,
  nearMidpointTriple,
  perturb,
  productBoundaryPartner,
  Random,
  randomInteger,
  randomRaw,
  relatedRaw,
  SINGLE,
  UNBOXED_SINGLES,
} from "./fpu-operands.ts";

export interface FpCase {
  /** Instruction name, or "decode" for random encodings. */
  name: string;
  word: number;
  frm: number;
  f6: bigint;
  f2: bigint;
  f3: bigint;
  x6: bigint;
}

/** f0..f31 before each case (f6, f2, f3 are then replaced by the case's operands). */
export const BACKGROUND_F: readonly bigint[] = Array.from({ length: 32 }, (_, i) => {
  if (i === RD) return 0x0123456789abcdefn; // sentinel: shows whether f7 was written
  if (i % 3 === 0) return SINGLE.box(SINGLE.rawOf(i + 0.25));
  if (i % 3 === 1) return DOUBLE.rawOf(-(i + 0.125));
  return DOUBLE.rawOf(i / 7);
});

/** x7 before each case (the integer destination). */
export const BACKGROUND_X7 = 0xfedcba9876543210n;

/** How many random operand tuples each kind of instruction gets (times FPU_TEST_SCALE, default 1). */
const SCALE = Number(process.env.FPU_TEST_SCALE ?? 1);
const RANDOM_COUNTS = {
  arithmetic: 4000 * SCALE,
  fused: 4000 * SCALE,
  fusedMidpoint: 1000 * SCALE,
  sqrt: 2500 * SCALE,
  quiet: 600 * SCALE,
  toInt: 2500 * SCALE,
  fromInt: 1000 * SCALE,
  convert: 2500 * SCALE,
  moves: 300 * SCALE,
  decode: 2000 * SCALE,
};

/** [rm, frm]: the five static modes (with an arbitrary frm, even a reserved one) and DYN with a valid frm. */
function roundingVariants(rng: Random): [number, number][] {
  return [
    [0, rng.int(8)],
    [1, rng.int(8)],
    [2, rng.int(8)],
    [3, rng.int(8)],
    [4, rng.int(8)],
    [7, rng.int(5)],
  ];
}

function randomRounding(rng: Random): [number, number] {
  const rm = rng.int(6);
  return rm < 5 ? [rm, rng.int(8)] : [7, rng.int(5)];
}

/** Register patterns for one source of the given kind: edge values. */
function edgeRegisters(kind: SourceKind, core: boolean): bigint[] {
  if (kind === "x") return edgeIntegers();
  const f = formatOf(kind);
  const raws = core ? coreEdgeValues(f) : edgeValues(f);
  const registers = raws.map((r) => f.box(r));
  if (kind === "s") registers.push(...(core ? UNBOXED_SINGLES.slice(0, 2) : UNBOXED_SINGLES));
  return registers;
}

function randomRegister(rng: Random, kind: SourceKind): bigint {
  if (kind === "x") return randomInteger(rng);
  const f = formatOf(kind);
  if (kind === "s" && rng.chance(0.02)) return rng.pick(UNBOXED_SINGLES);
  return f.box(randomRaw(rng, f));
}

class CaseList {
  readonly cases: FpCase[] = [];
  constructor(readonly rng: Random) {}

  /** Adds a case; operands are in source order (rs1, rs2, rs3). */
  add(instruction: FpInstruction, rm: number, frm: number, operands: bigint[]): void {
    const fp: bigint[] = [];
    let x6 = this.rng.bits(64);
    instruction.sources.forEach((kind, i) => {
      if (kind === "x") x6 = operands[i];
      else fp.push(operands[i]);
    });
    this.cases.push({
      name: instruction.name,
      word: instruction.word(rm),
      frm,
      f6: fp[0] ?? BACKGROUND_F[RS1],
      f2: fp[1] ?? BACKGROUND_F[RS2],
      f3: fp[2] ?? BACKGROUND_F[RS3],
      x6: x6 & MASK64,
    });
  }

  /** Every operand tuple in every rounding variant (once if the instruction has no rm). */
  addAllModes(instruction: FpInstruction, operands: bigint[]): void {
    if (!instruction.hasRm) return this.add(instruction, 0, this.rng.int(8), operands);
    for (const [rm, frm] of roundingVariants(this.rng)) this.add(instruction, rm, frm, operands);
  }

  addRandomMode(instruction: FpInstruction, operands: bigint[]): void {
    const [rm, frm] = instruction.hasRm ? randomRounding(this.rng) : [0, this.rng.int(8)];
    this.add(instruction, rm, frm, operands);
  }
}

function pairs(a: bigint[], b: bigint[]): bigint[][] {
  return a.flatMap((x) => b.map((y) => [x, y]));
}

function binaryArithmetic(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  const f = formatOf(kind);
  const edges = edgeRegisters(kind, true);
  for (const operands of pairs(edges, edges)) list.addAllModes(instruction, operands);
  const op = instruction.name.slice(0, 4);
  for (let i = 0; i < RANDOM_COUNTS.arithmetic; i++) {
    const aRaw = randomRaw(rng, f);
    let bRaw: bigint;
    let first = aRaw;
    if (op === "fmul" && rng.chance(0.4)) {
      bRaw = productBoundaryPartner(rng, f, aRaw);
    } else if (op === "fdiv" && rng.chance(0.4)) {
      // Dividend = divisor * something: exact quotients, quotients near the boundaries.
      bRaw = aRaw;
      const divisor = f.valueOf(aRaw);
      first = rng.chance(0.5)
        ? f.rawOf(divisor * rng.range(1, 1000) * 2 ** rng.range(-5, 5))
        : perturb(rng, f, f.rawOf(divisor * boundaryValue(rng, f)));
    } else {
      bRaw = relatedRaw(rng, f, aRaw);
    }
    list.addRandomMode(instruction, [f.box(first), rng.chance(0.01) ? rng.pick(UNBOXED_SINGLES) : f.box(bRaw)]);
  }
}

function quietBinary(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  const f = formatOf(kind);
  const edges = edgeRegisters(kind, true);
  for (const operands of pairs(edges, edges)) list.addAllModes(instruction, operands);
  for (let i = 0; i < RANDOM_COUNTS.quiet; i++) {
    const a = randomRaw(rng, f);
    list.addRandomMode(instruction, [f.box(a), f.box(rng.chance(0.3) ? a : relatedRaw(rng, f, a))]);
  }
}

function sqrt(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  const f = formatOf(kind);
  for (const a of edgeRegisters(kind, false)) list.addAllModes(instruction, [a]);
  for (let i = 0; i < RANDOM_COUNTS.sqrt; i++) {
    let raw = randomRaw(rng, f);
    if (rng.chance(0.3)) {
      // Perfect squares and their neighbours.
      const root = rng.range(1, 4096) * 2 ** rng.range(-20, 20);
      raw = perturb(rng, f, f.rawOf(root * root));
    }
    list.addRandomMode(instruction, [f.box(raw)]);
  }
}

function fused(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  const f = formatOf(kind);
  const fb = BigInt(f.fractionBits);
  const infinity = BigInt(f.maxFiniteExp + 1) << fb;
  const sign = 1n << BigInt(f.width - 1);
  const few = [0n, sign, f.rawOf(1), f.rawOf(-1), 1n, f.rawOf(1.5) | sign, infinity, infinity | sign, infinity | (1n << (fb - 1n)), infinity | 1n].map((r) => f.box(r));
  if (kind === "s") few.push(UNBOXED_SINGLES[0]);
  for (const a of few) for (const b of few) for (const c of few) list.addAllModes(instruction, [a, b, c]);
  for (let i = 0; i < RANDOM_COUNTS.fused; i++) {
    const a = randomRaw(rng, f);
    const b = rng.chance(0.2) ? productBoundaryPartner(rng, f, a) : relatedRaw(rng, f, a);
    const choice = rng.int(10);
    const c = choice < 4 ? cancellingAddend(rng, f, a, b) : choice < 7 ? randomRaw(rng, f) : relatedRaw(rng, f, a);
    list.addRandomMode(instruction, [f.box(a), f.box(b), f.box(c)]);
  }
  for (let i = 0; i < RANDOM_COUNTS.fusedMidpoint; i++) {
    const operands = nearMidpointTriple(rng, f).map((r) => f.box(r));
    if (rng.chance(0.5)) list.add(instruction, 0, rng.int(8), operands);
    else list.addRandomMode(instruction, operands);
  }
}

function toInteger(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  const f = formatOf(kind);
  for (const a of edgeRegisters(kind, false)) list.addAllModes(instruction, [a]);
  for (let i = 0; i < RANDOM_COUNTS.toInt; i++) {
    const raw = rng.chance(0.6) ? conversionBoundaryRaw(rng, f) : randomRaw(rng, f);
    list.addRandomMode(instruction, [f.box(raw)]);
  }
}

function fromInteger(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  for (const x of edgeIntegers()) list.addAllModes(instruction, [x]);
  for (let i = 0; i < RANDOM_COUNTS.fromInt; i++) list.addRandomMode(instruction, [randomInteger(rng)]);
}

/** Doubles near singles' rounding boundaries: ties, tininess, overflow. */
function narrowingSource(rng: Random): bigint {
  const single = SINGLE.valueOf(randomRaw(rng, SINGLE));
  if (!Number.isFinite(single)) return DOUBLE.rawOf(single);
  const raw = SINGLE.rawOf(single) & 0x7fffffffn;
  const next = SINGLE.valueOf(raw + 1n) * Math.sign(single || 1);
  const ulp = Math.abs(next - single) || 2 ** -149;
  const towards = rng.pick([0, 0.5, 0.25, 0.75, 1, -0.5]);
  const value = single + Math.sign(single || 1) * ulp * towards;
  return perturb(rng, DOUBLE, DOUBLE.rawOf(value));
}

function convertFormat(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  const f = formatOf(kind);
  for (const a of edgeRegisters(kind, false)) list.addAllModes(instruction, [a]);
  for (let i = 0; i < RANDOM_COUNTS.convert; i++) {
    const raw = kind === "d" && rng.chance(0.7) ? narrowingSource(rng) : randomRaw(rng, f);
    list.addRandomMode(instruction, [f.box(raw)]);
  }
}

function moveOrClassify(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const kind = instruction.sources[0];
  for (const a of edgeRegisters(kind, false)) list.addAllModes(instruction, [a]);
  for (let i = 0; i < RANDOM_COUNTS.moves; i++) list.addRandomMode(instruction, [randomRegister(rng, kind)]);
}

/** Reserved rounding modes: rm 5 and 6, and DYN with frm 5, 6, 7. */
function reservedModes(list: CaseList, instruction: FpInstruction): void {
  const rng = list.rng;
  const operands = instruction.sources.map((k) => randomRegister(rng, k));
  for (const [rm, frm] of [[5, 0], [6, 3], [7, 5], [7, 6], [7, 7]]) list.add(instruction, rm, frm, operands);
}

/** Random encodings in the OP-FP and fused opcodes (registers fixed, everything else random). */
function decodeFuzz(list: CaseList): void {
  const rng = list.rng;
  for (let i = 0; i < RANDOM_COUNTS.decode; i++) {
    let word: number;
    if (rng.chance(0.8)) {
      word = opFpWord(rng.int(128), rng.int(32), rng.int(8));
    } else {
      const opcode = rng.pick([0x43, 0x47, 0x4b, 0x4f]);
      word = (fusedWord(opcode, rng.int(4), rng.int(8)) & ~(31 << 27) & ~(31 << 20)) | (rng.int(32) << 27) | (rng.int(32) << 20);
    }
    list.cases.push({
      name: "decode",
      word: word >>> 0,
      frm: rng.int(8),
      f6: randomRegister(rng, rng.chance(0.5) ? "s" : "d"),
      f2: randomRegister(rng, rng.chance(0.5) ? "s" : "d"),
      f3: randomRegister(rng, rng.chance(0.5) ? "s" : "d"),
      x6: randomInteger(rng),
    });
  }
}

export function buildCases(seed: number): FpCase[] {
  const list = new CaseList(new Random(seed));
  for (const instruction of FP_INSTRUCTIONS) {
    const name = instruction.name;
    if (/^f(add|sub|mul|div)\./.test(name)) binaryArithmetic(list, instruction);
    else if (/^f(sgnjx?|sgnjn|min|max|eq|lt|le)\./.test(name)) quietBinary(list, instruction);
    else if (name.startsWith("fsqrt")) sqrt(list, instruction);
    else if (/^fn?m(add|sub)\./.test(name)) fused(list, instruction);
    else if (/^fcvt\.(w|wu|l|lu)\.[sd]$/.test(name)) toInteger(list, instruction);
    else if (/^fcvt\.[sd]\.(w|wu|l|lu)$/.test(name)) fromInteger(list, instruction);
    else if (name === "fcvt.s.d" || name === "fcvt.d.s") convertFormat(list, instruction);
    else moveOrClassify(list, instruction);
    if (instruction.hasRm) reservedModes(list, instruction);
  }
  decodeFuzz(list);
  return list.cases;
}
