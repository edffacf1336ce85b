/**
 * Random RV64IMFDC (+ Zba/Zbb) programs for the JIT's differential fuzzer:
 * ALU operations on random values, loads and stores (some misaligned) into
 * a data page, F/D loads, stores, arithmetic, conversions, compares and
 * moves on random bit patterns (NaNs, infinities and subnormals included,
 * static and dynamic rounding modes), forward branches, counted loops, CSR
 * accesses the JIT leaves to the interpreter (fflags/frm too), and enough
 * code to cross pages. The assembler picks
 * compressed forms where it can (rv64gc). The program ends at the finisher.
 */
import { Prng } from "../diff/prng.ts";

/**
 * Registers the generator writes: never a0 (the data base), a6 (the loop
 * counter) or a7, to which every result is added (so a wrong result that a
 * later instruction overwrites still shows).
 */
const REGS = ["ra", "t0", "t1", "t2", "s0", "s1", "a1", "a2", "a3", "a4", "a5", "t3", "t4", "t5", "t6", "s2", "s3"];
const RR = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "addw", "subw", "sllw", "srlw", "sraw",
  "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu", "mulw", "divw", "divuw", "remw", "remuw",
  "sh1add", "sh2add", "sh3add", "add.uw", "andn", "orn", "xnor", "min", "max", "minu", "maxu"];
const RI = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"];
const SHIFT = ["slli", "srli", "srai"];
const SHIFTW = ["slliw", "srliw", "sraiw"];
const UNARY = ["sext.b", "sext.h", "zext.h"];
const LOADS: [string, number][] = [["lb", 1], ["lh", 2], ["lw", 4], ["ld", 8], ["lbu", 1], ["lhu", 2], ["lwu", 4]];
const STORES: [string, number][] = [["sb", 1], ["sh", 2], ["sw", 4], ["sd", 8]];
const BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"];
const FREGS = ["ft0", "ft1", "ft2", "ft3", "fa0", "fa1", "fa2", "fs0", "fs1", "ft8"];
const FRR = ["fadd", "fsub", "fmul", "fdiv", "fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"];
const FR4 = ["fmadd", "fmsub", "fnmadd", "fnmsub"];
const FCMP = ["feq", "flt", "fle"];
const ROUNDING = ["", "", "", ", rtz", ", rdn", ", rup", ", rmm", ", dyn"];

export function fuzzProgram(seed: number, length: number): string {
  const r = new Prng(seed);
  const pick = <T>(xs: readonly T[]): T => r.pick(xs);
  const reg = () => pick(REGS);
  const src = () => (r.int(8) === 0 ? "zero" : reg());
  const imm12 = () => r.int(4096) - 2048;
  const value = () => {
    const kinds = [() => r.int(64) - 32, () => r.u32() | 0, () => -1, () => 0x7fffffff, () => -0x80000000];
    return pick(kinds)();
  };
  const lines: string[] = [
    ".section .text.init", ".globl _start", "_start:", "  la a0, data + 2048", "  li a6, 0",
    "  li t0, 1 << 13", "  csrs mstatus, t0", // FS = Initial: F and D on
  ];
  for (const f of FREGS) lines.push(`  fld ${f}, ${r.int(511) * 8 - 2048}(a0)`);
  for (const x of REGS) lines.push(`  li ${x}, ${value()}`, `  slli ${x}, ${x}, ${r.int(33)}`, `  addi ${x}, ${x}, ${imm12()}`);
  let label = 0;
  const pending: { at: number; name: string }[] = [];
  const one = (): string => {
    const fr = () => pick(FREGS);
    const fmt = () => (r.int(3) === 0 ? "s" : "d");
    const rm = () => pick(ROUNDING);
    switch (r.int(20)) {
      case 0: case 1: case 2: return `${pick(RR)} ${reg()}, ${src()}, ${src()}`;
      case 3: case 4: return `${pick(RI)} ${reg()}, ${src()}, ${imm12()}`;
      case 5: return `${pick(SHIFT)} ${reg()}, ${src()}, ${r.int(64)}`;
      case 6: return r.int(2) ? `${pick(SHIFTW)} ${reg()}, ${src()}, ${r.int(32)}` : `${pick(UNARY)} ${reg()}, ${src()}`;
      case 7: return r.int(2) ? `lui ${reg()}, ${r.int(1 << 20)}` : `auipc ${reg()}, ${r.int(1 << 20)}`;
      case 8: case 9: {
        const [op, size] = pick(LOADS);
        const off = r.int(10) === 0 ? r.int(4088) : r.int(4088 / size) * size;
        return `${op} ${reg()}, ${off - 2048}(a0)`;
      }
      case 10: {
        const [op, size] = pick(STORES);
        const off = r.int(10) === 0 ? r.int(4088) : r.int(4088 / size) * size;
        return `${op} ${src()}, ${off - 2048}(a0)`;
      }
      case 11: return r.int(2) ? `csrrw ${reg()}, mscratch, ${src()}` : `csrr ${reg()}, mscratch`;
      case 12: {
        const size = r.int(2) ? 8 : 4;
        const off = r.int(10) === 0 ? r.int(4088) : r.int(4088 / size) * size;
        const op = r.int(3) ? (size === 8 ? "fld" : "flw") : size === 8 ? "fsd" : "fsw";
        return `${op} ${fr()}, ${off - 2048}(a0)`;
      }
      case 13: {
        const t = fmt();
        const k = r.int(4);
        if (k === 0) return `${pick(FR4)}.${t} ${fr()}, ${fr()}, ${fr()}, ${fr()}${rm()}`;
        if (k === 1) return `fsqrt.${t} ${fr()}, ${fr()}${rm()}`;
        const op = pick(FRR);
        return `${op}.${t} ${fr()}, ${fr()}, ${fr()}${op.startsWith("fmin") || op.startsWith("fmax") || op.startsWith("fsgnj") ? "" : rm()}`;
      }
      case 14: {
        const t = fmt();
        switch (r.int(6)) {
          case 0: return `${pick(FCMP)}.${t} ${reg()}, ${fr()}, ${fr()}`;
          case 1: return `fclass.${t} ${reg()}, ${fr()}`;
          case 2: return `fcvt.${pick(["w", "wu", "l", "lu"])}.${t} ${reg()}, ${fr()}${rm()}`;
          case 3: {
            const from = pick(["w", "wu", "l", "lu"]);
            return `fcvt.${t}.${from} ${fr()}, ${src()}${t === "d" && from.startsWith("w") ? "" : rm()}`; // exact: no rm
          }
          case 4: return t === "d" ? `fcvt.d.s ${fr()}, ${fr()}` : `fcvt.s.d ${fr()}, ${fr()}${rm()}`;
          default: return r.int(2) ? `fmv.x.${t === "d" ? "d" : "w"} ${reg()}, ${fr()}` : `fmv.${t === "d" ? "d" : "w"}.x ${fr()}, ${src()}`;
        }
      }
      case 16: case 17: {
        // Round-to-nearest arithmetic on a moderate double just loaded: the JIT's inline fast paths.
        const a = fr();
        const load = `fld ${a}, ${r.int(255) * 8}(a0)\n  `;
        const rne = pick(["", ", dyn", ", rne"]);
        if (r.int(2)) return `${load}${pick(FR4)}.d ${fr()}, ${a}, ${fr()}, ${fr()}${rne}`;
        return `${load}${pick(["fadd", "fsub", "fmul"])}.d ${fr()}, ${a}, ${fr()}${rne}`;
      }
      case 15: {
        // Clearing fflags makes a flag a later instruction raises (or fails to) show; frm is mostly RNE
        // (dyn then takes the fast paths), never 5..7 (dyn would be illegal).
        const k = r.int(3);
        return k === 0 ? `frflags ${reg()}` : k === 1 ? `fsflagsi ${reg()}, 0` : `fsrmi ${reg()}, ${r.int(2) ? 0 : r.int(5)}`;
      }
      default: {
        const name = `f${label++}`;
        pending.push({ at: r.int(12) + 1, name });
        return `${pick(BRANCHES)} ${src()}, ${src()}, ${name}`;
      }
    }
  };
  let emitted = 0;
  const flush = (all: boolean) => {
    for (let i = pending.length - 1; i >= 0; i--) {
      if (all || --pending[i]!.at <= 0) {
        lines.push(`${pending[i]!.name}:`);
        pending.splice(i, 1);
      }
    }
  };
  while (emitted < length) {
    if (r.int(40) === 0) {
      // A counted loop (x16 = a6 is only the counter).
      flush(true);
      const name = `l${label++}`;
      lines.push(`  li a6, ${r.int(20) + 1}`, `${name}:`);
      for (let i = r.int(12) + 1; i > 0; i--) lines.push(`  ${one()}`);
      flush(true);
      lines.push("  addi a6, a6, -1", `  bnez a6, ${name}`);
      emitted += 16;
      continue;
    }
    const insn = one();
    lines.push(`  ${insn}`);
    const rd = /^[a-z.]+ ([a-z0-9]+),/.exec(insn)?.[1];
    if (rd !== undefined && REGS.includes(rd) && !/^(s[bhwd]|b[a-z]+) /.test(insn)) lines.push(`  add a7, a7, ${rd}`);
    emitted++;
    flush(false);
  }
  flush(true);
  lines.push("  li t0, 0x100000", "  li t1, 0x5555", "  sw t1, 0(t0)", "1: j 1b");
  lines.push(".data", ".balign 4096", "data:");
  // Random bit patterns (NaNs, infinities, huge and tiny values), then doubles of moderate size.
  for (let i = 0; i < 256; i++) lines.push(`  .dword 0x${r.u32().toString(16)}${r.u32().toString(16).padStart(8, "0")}`);
  for (let i = 0; i < 256; i++) lines.push(`  .double ${((r.u32() / 2 ** 32 - 0.5) * 2 ** (r.int(40) - 20)).toExponential(16)}`);
  return lines.join("\n") + "\n";
}
