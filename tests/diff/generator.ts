/**
 * Random straight-line RV64GC + Zba/Zbb/Zbs programs for differential runs.
 *
 * A program holds many sequences. Each sequence starts from a register,
 * fcsr and scratch-memory state chosen by the generator (edge values
 * included), runs random valid instructions (forward branches only, memory
 * accesses confined to a scratch buffer), then stores every x and f register
 * and fcsr next to the scratch buffer and prints all of it as one hex line:
 *
 *   =<index> <x1..x31> <f0..f31> <fcsr> <64 scratch dwords>
 *
 * Reserved: sp (x2) points at the scratch buffer, s0 (x8) at its middle;
 * nothing writes them. Some loads/stores are misaligned (QEMU 7.2 performs
 * those to RAM without trapping; so must Typevisor); AMOs and LR/SC are not. ctzw is left out: QEMU 7.2 gets it wrong when the low
 * word is zero (see tests/isa/zbb-2.S), which would drown real differences.
 */
import { Prng } from "./prng.ts";

export const SCRATCH_DWORDS = 64;
/** Values per dump line: x1..x31, f0..f31, fcsr, scratch. */
export const DUMP_VALUES = 31 + 32 + 1 + SCRATCH_DWORDS;

export function dumpSlotName(i: number): string {
  if (i < 31) return `x${i + 1}`;
  if (i < 63) return `f${i - 31}`;
  if (i === 63) return "fcsr";
  return `mem[${(i - 64) * 8}]`;
}

export interface GeneratedProgram {
  source: string;
  /** Assembly of each sequence's body (for failure reports). */
  bodies: string[];
}

const M64 = (1n << 64n) - 1n;
const hex64 = (v: bigint) => "0x" + (v & M64).toString(16).padStart(16, "0");

const INT_EDGES: bigint[] = [
  0n, 1n, 2n, M64, M64 - 1n, 1n << 63n, (1n << 63n) - 1n, 0xffffffff80000000n, 0x7fffffffn, 0x80000000n,
  0xffffffffn, 0x100000000n, 0xffffffff00000000n, 0x8000n, 0xff80n, 0x80n, 31n, 32n, 63n, 64n,
];
// double bit patterns
const F64_EDGES: bigint[] = [
  0n, 1n << 63n, // ±0
  0x7ff0000000000000n, 0xfff0000000000000n, // ±inf
  0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff8000000000123n, // quiet NaNs
  0x7ff0000000000001n, 0xfff4000000000000n, // signalling NaNs
  0x0000000000000001n, 0x800fffffffffffffn, 0x000fffffffffffffn, // subnormals
  0x0010000000000000n, 0x7fefffffffffffffn, 0xffefffffffffffffn, // min/max normal
  0x3ff0000000000000n, 0xbff0000000000000n, 0x3fe0000000000000n, 0x4004000000000000n, 0xc004000000000000n,
  0x41e0000000000000n, 0xc1e0000000000000n, 0x43e0000000000000n, 0xc3e0000000000000n, // 2^31, 2^63 bounds
  0x41dfffffffc00000n, 0x4330000000000001n,
];
// single bit patterns
const F32_EDGES: number[] = [
  0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc00123, 0x7f800001, 0xffa00000, 0x00000001,
  0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000, 0x3f000000, 0x40200000, 0xc0200000,
  0x4f000000, 0xcf000000, 0x5f000000, 0xdf000000, 0x4effffff,
];

const ROUNDING = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"] as const;

/** Integer registers an instruction may write (not sp, not s0). */
const WRITABLE = [1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31];
const C_WRITABLE = [9, 10, 11, 12, 13, 14, 15];
const C_READABLE = [8, 9, 10, 11, 12, 13, 14, 15];

const R_OPS = [
  "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "addw", "subw", "sllw", "srlw", "sraw",
  "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu", "mulw", "divw", "divuw", "remw", "remuw",
  "sh1add", "sh2add", "sh3add", "add.uw", "sh1add.uw", "sh2add.uw", "sh3add.uw",
  "andn", "orn", "xnor", "max", "maxu", "min", "minu", "rol", "ror", "rolw", "rorw", "bclr", "bext", "binv", "bset",
];
const I_OPS = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"];
const SHIFT64_OPS = ["slli", "srli", "srai", "slli.uw", "rori", "bclri", "bexti", "binvi", "bseti"];
const SHIFT32_OPS = ["slliw", "srliw", "sraiw", "roriw"];
const UNARY_OPS = ["clz", "ctz", "cpop", "clzw", "cpopw", "sext.b", "sext.h", "zext.h", "orc.b", "rev8"];
const LOADS: [string, number][] = [["lb", 1], ["lbu", 1], ["lh", 2], ["lhu", 2], ["lw", 4], ["lwu", 4], ["ld", 8]];
const STORES: [string, number][] = [["sb", 1], ["sh", 2], ["sw", 4], ["sd", 8]];
const AMOS = ["amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax", "amominu", "amomaxu"];
const ORDER = ["", ".aq", ".rl", ".aqrl"];
const BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"];

class SequenceWriter {
  readonly lines: string[] = [];
  private labels = 0;
  /** Open forward branches: label and how many instructions until it. */
  private pending: { label: string; left: number }[] = [];

  constructor(
    private readonly rng: Prng,
    private readonly seqIndex: number,
  ) {}

  private x(): string {
    return `x${this.rng.pick(WRITABLE)}`;
  }
  private xs(): string {
    return `x${this.rng.int(32)}`;
  }
  private f(): string {
    return `f${this.rng.int(32)}`;
  }
  private rm(): string {
    return this.rng.pick(ROUNDING);
  }
  private imm12(): number {
    return this.rng.chance(0.3) ? this.rng.pick([0, -1, 1, 2047, -2048, 31, 32, 63]) : this.rng.range(-2048, 2047);
  }

  emit(line: string): void {
    this.lines.push(line);
    for (const p of this.pending) p.left--;
    const due = this.pending.filter((p) => p.left <= 0);
    this.pending = this.pending.filter((p) => p.left > 0);
    for (const p of due) this.lines.push(`${p.label}:`);
  }

  closeBranches(): void {
    for (const p of this.pending) this.lines.push(`${p.label}:`);
    this.pending = [];
  }

  /** An offset keeping the access inside the scratch buffer; sometimes misaligned. */
  private memOffset(base: "s0" | "sp", size: number): number {
    // s0 = scratch + 256 (offsets -256..255), sp = scratch (0..511)
    const start = this.rng.chance(0.2) ? this.rng.int(512 - size + 1) : size * this.rng.int(512 / size);
    return base === "s0" ? start - 256 : start;
  }

  private forwardBranch(): void {
    const label = `.Lskip_${this.seqIndex}_${this.labels++}`;
    const kind = this.rng.int(10);
    let line: string;
    if (kind < 6) line = `${this.rng.pick(BRANCHES)} ${this.xs()}, ${this.xs()}, ${label}`;
    else if (kind < 8) line = `${this.rng.pick(["c.beqz", "c.bnez"])} x${this.rng.pick(C_READABLE)}, ${label}`;
    else if (kind < 9) line = `jal ${this.x()}, ${label}`;
    else line = `c.j ${label}`;
    this.emit(line);
    this.pending.push({ label, left: this.rng.range(1, 4) });
  }

  instruction(): void {
    const r = this.rng;
    const k = r.int(100);
    if (k < 14) this.emit(`${r.pick(R_OPS)} ${this.x()}, ${this.xs()}, ${this.xs()}`);
    else if (k < 20) this.emit(`${r.pick(I_OPS)} ${this.x()}, ${this.xs()}, ${this.imm12()}`);
    else if (k < 25) {
      if (r.chance(0.6)) this.emit(`${r.pick(SHIFT64_OPS)} ${this.x()}, ${this.xs()}, ${r.pick([0, 1, 31, 32, 63, r.int(64)])}`);
      else this.emit(`${r.pick(SHIFT32_OPS)} ${this.x()}, ${this.xs()}, ${r.pick([0, 1, 31, r.int(32)])}`);
    } else if (k < 29) this.emit(`${r.pick(UNARY_OPS)} ${this.x()}, ${this.xs()}`);
    else if (k < 31) this.emit(`${r.pick(["lui", "auipc"])} ${this.x()}, ${r.pick([0, 1, 0x80000, 0xfffff, r.int(1 << 20)])}`);
    else if (k < 38) {
      const [op, size] = r.pick(LOADS);
      const base = r.chance(0.5) ? "s0" : "sp";
      this.emit(`${op} ${this.x()}, ${this.memOffset(base, size)}(${base})`);
    } else if (k < 43) {
      const [op, size] = r.pick(STORES);
      const base = r.chance(0.5) ? "s0" : "sp";
      this.emit(`${op} ${this.xs()}, ${this.memOffset(base, size)}(${base})`);
    } else if (k < 46) {
      const base = r.chance(0.5) ? "s0" : "sp";
      const [op, size] = r.pick([["flw", 4], ["fld", 8], ["fsw", 4], ["fsd", 8]] as const);
      this.emit(`${op} ${this.f()}, ${this.memOffset(base, size)}(${base})`);
    } else if (k < 48) this.emit(`${r.pick(AMOS)}.${r.pick(["w", "d"])}${r.pick(ORDER)} ${this.x()}, ${this.xs()}, (s0)`);
    else if (k < 49) this.lrsc();
    else if (k < 62) this.compressed();
    else if (k < 67) this.forwardBranch();
    else this.floating();
  }

  /** LR, a few ALU ops, SC: emitted as one unit so no branch lands inside. */
  private lrsc(): void {
    const r = this.rng;
    const w = r.pick(["w", "d"]);
    const unit = [`lr.${w}${r.pick(ORDER)} ${this.x()}, (s0)`];
    for (let i = r.int(3); i > 0; i--) unit.push(`${r.pick(R_OPS)} ${this.x()}, ${this.xs()}, ${this.xs()}`);
    unit.push(`sc.${w}${r.pick(ORDER)} ${this.x()}, ${this.xs()}, (s0)`);
    this.emit(unit.join("\n  "));
  }

  private compressed(): void {
    const r = this.rng;
    const cw = () => `x${r.pick(C_WRITABLE)}`;
    const cr = () => `x${r.pick(C_READABLE)}`;
    const nz6 = () => r.pick([-32, -1, 1, 31, r.range(1, 31), -r.range(1, 32)]);
    switch (r.int(16)) {
      case 0: this.emit(`c.addi ${this.x()}, ${nz6()}`); break;
      case 1: this.emit(`c.addiw ${this.x()}, ${r.range(-32, 31)}`); break;
      case 2: this.emit(`c.li ${this.x()}, ${r.range(-32, 31)}`); break;
      case 3: {
        const imm = r.chance(0.5) ? r.range(1, 31) : r.range(0xfffe0, 0xfffff);
        this.emit(`c.lui ${this.x()}, ${imm}`);
        break;
      }
      case 4: this.emit(`${r.pick(["c.srli", "c.srai"])} ${cw()}, ${r.range(1, 63)}`); break;
      case 5: this.emit(`c.andi ${cw()}, ${r.range(-32, 31)}`); break;
      case 6: this.emit(`c.slli ${this.x()}, ${r.range(1, 63)}`); break;
      case 7: this.emit(`${r.pick(["c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw"])} ${cw()}, ${cr()}`); break;
      case 8: this.emit(`${r.pick(["c.mv", "c.add"])} ${this.x()}, x${r.range(1, 31)}`); break;
      case 9: this.emit(`c.addi4spn ${cw()}, sp, ${4 * r.range(1, 255)}`); break;
      case 10: this.emit(`c.lw ${cw()}, ${4 * r.range(0, 31)}(s0)`); break;
      case 11: this.emit(`c.ld ${cw()}, ${8 * r.range(0, 31)}(s0)`); break;
      case 12: this.emit(`${r.pick(["c.sw", "c.sd"])} ${cr()}, ${8 * r.range(0, 15)}(s0)`); break;
      case 13: this.emit(r.chance(0.5) ? `c.lwsp ${this.x()}, ${4 * r.range(0, 63)}(sp)` : `c.ldsp ${this.x()}, ${8 * r.range(0, 63)}(sp)`); break;
      case 14: this.emit(r.chance(0.5) ? `c.swsp ${this.xs()}, ${4 * r.range(0, 63)}(sp)` : `c.sdsp ${this.xs()}, ${8 * r.range(0, 63)}(sp)`); break;
      default: {
        const fr = `f${r.range(8, 15)}`;
        const forms = [
          `c.fld ${fr}, ${8 * r.range(0, 31)}(s0)`,
          `c.fsd ${fr}, ${8 * r.range(0, 31)}(s0)`,
          `c.fldsp ${this.f()}, ${8 * r.range(0, 63)}(sp)`,
          `c.fsdsp ${this.f()}, ${8 * r.range(0, 63)}(sp)`,
        ];
        this.emit(r.pick(forms));
      }
    }
  }

  private floating(): void {
    const r = this.rng;
    const p = r.pick(["s", "d"]);
    switch (r.int(14)) {
      case 0:
      case 1:
      case 2:
        this.emit(`${r.pick(["fadd", "fsub", "fmul", "fdiv"])}.${p} ${this.f()}, ${this.f()}, ${this.f()}, ${this.rm()}`);
        break;
      case 3: this.emit(`fsqrt.${p} ${this.f()}, ${this.f()}, ${this.rm()}`); break;
      case 4: this.emit(`${r.pick(["fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"])}.${p} ${this.f()}, ${this.f()}, ${this.f()}`); break;
      case 5:
      case 6:
        this.emit(`${r.pick(["fmadd", "fmsub", "fnmadd", "fnmsub"])}.${p} ${this.f()}, ${this.f()}, ${this.f()}, ${this.f()}, ${this.rm()}`);
        break;
      case 7: this.emit(`${r.pick(["feq", "flt", "fle"])}.${p} ${this.x()}, ${this.f()}, ${this.f()}`); break;
      case 8: this.emit(`fclass.${p} ${this.x()}, ${this.f()}`); break;
      case 9: this.emit(`fcvt.${r.pick(["w", "wu", "l", "lu"])}.${p} ${this.x()}, ${this.f()}, ${this.rm()}`); break;
      case 10: {
        const src = r.pick(["w", "wu", "l", "lu"]);
        const exact = p === "d" && (src === "w" || src === "wu");
        this.emit(`fcvt.${p}.${src} ${this.f()}, ${this.xs()}${exact ? "" : ", " + this.rm()}`);
        break;
      }
      case 11:
        this.emit(r.chance(0.5) ? `fcvt.s.d ${this.f()}, ${this.f()}, ${this.rm()}` : `fcvt.d.s ${this.f()}, ${this.f()}`);
        break;
      case 12:
        this.emit(
          r.pick([`fmv.x.w ${this.x()}, ${this.f()}`, `fmv.w.x ${this.f()}, ${this.xs()}`, `fmv.x.d ${this.x()}, ${this.f()}`, `fmv.d.x ${this.f()}, ${this.xs()}`]),
        );
        break;
      default:
        this.emit(
          r.pick([
            `csrwi frm, ${r.int(5)}`,
            `csrwi fflags, ${r.int(32)}`,
            `csrrs ${this.x()}, fflags, x0`,
            `csrrci ${this.x()}, fflags, ${r.int(32)}`,
            `csrr ${this.x()}, fcsr`,
            `csrrsi ${this.x()}, fflags, ${r.int(32)}`,
          ]),
        );
    }
  }
}

function intValue(r: Prng): bigint {
  const k = r.int(10);
  if (k < 4) return r.pick(INT_EDGES);
  if (k < 6) return BigInt(r.range(-100, 100)) & M64;
  if (k < 7) return r.pick(F64_EDGES);
  return r.u64();
}

function fpValue(r: Prng): bigint {
  const k = r.int(10);
  if (k < 4) return r.pick(F64_EDGES);
  if (k < 7) return 0xffffffff00000000n | BigInt(r.pick(F32_EDGES) >>> 0); // boxed single
  if (k < 8) return (BigInt(r.u32()) << 32n) | BigInt(r.pick(F32_EDGES) >>> 0); // usually not boxed
  if (k < 9) return 0xffffffff00000000n | BigInt(r.u32());
  return r.u64();
}

export interface GenerateOptions {
  seed: number;
  sequences: number;
  /** Index of the first sequence (so indexes stay unique across programs). */
  firstIndex?: number;
  minLength?: number;
  maxLength?: number;
}

export function generateProgram(opts: GenerateOptions): GeneratedProgram {
  const r = new Prng(opts.seed);
  const first = opts.firstIndex ?? 0;
  const minLen = opts.minLength ?? 15;
  const maxLen = opts.maxLength ?? 50;
  const text: string[] = [];
  const data: string[] = [];
  const bodies: string[] = [];
  text.push('#include "harness.h"', "TEST_BEGIN");
  for (let s = 0; s < opts.sequences; s++) {
    const idx = first + s;
    // initial state: scratch, x1..x31, f0..f31, fcsr
    const init: bigint[] = [];
    for (let i = 0; i < SCRATCH_DWORDS; i++) init.push(r.chance(0.3) ? r.pick(F64_EDGES) : intValue(r));
    for (let i = 1; i <= 31; i++) init.push(intValue(r));
    for (let i = 0; i < 32; i++) init.push(fpValue(r));
    init.push(BigInt((r.int(5) << 5) | r.int(32)));
    data.push(`init_${idx}:`, ...chunk(init.map(hex64), 4).map((c) => `  .dword ${c.join(", ")}`));

    const w = new SequenceWriter(r, idx);
    const len = r.range(minLen, maxLen);
    for (let i = 0; i < len; i++) w.instruction();
    w.closeBranches();
    bodies.push(w.lines.join("\n"));

    text.push(`  .globl seq_${idx}`, `seq_${idx}:`);
    text.push(`  la a0, init_${idx}`, "  call load_scratch", `  la x31, init_${idx}`);
    text.push("  ld x1, 1016(x31)", "  csrw fcsr, x1");
    for (let i = 0; i < 32; i++) text.push(`  fld f${i}, ${760 + 8 * i}(x31)`);
    for (let i = 1; i <= 30; i++) if (i !== 2 && i !== 8) text.push(`  ld x${i}, ${512 + 8 * (i - 1)}(x31)`);
    text.push("  la sp, scratch", "  addi s0, sp, 256", "  ld x31, 752(x31)");
    text.push(`  .globl seq_${idx}_body`, `seq_${idx}_body:`);
    text.push(...w.lines.map((l) => (l.endsWith(":") ? l : "  " + l)));
    text.push(`  .globl seq_${idx}_end`, `seq_${idx}_end:`);
    for (let i = 1; i <= 31; i++) text.push(`  sd x${i}, ${256 + 8 * (i - 1)}(s0)`);
    for (let i = 0; i < 32; i++) text.push(`  fsd f${i}, ${504 + 8 * i}(s0)`);
    text.push("  csrr x1, fcsr", "  sd x1, 760(s0)", `  li a0, ${idx}`, "  call dump_sequence");
  }
  text.push("TEST_END", "");
  text.push(RUNTIME);
  text.push("  .data", "  .balign 16", ...data);
  return { source: text.join("\n") + "\n", bodies };
}

function chunk<T>(items: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/** Copies the initial scratch image and prints a dump line. */
const RUNTIME = `
  .text
load_scratch:               // a0 = init table: its first 512 bytes go to scratch
  la a1, scratch
  li a2, ${SCRATCH_DWORDS}
1:
  ld a3, 0(a0)
  sd a3, 0(a1)
  addi a0, a0, 8
  addi a1, a1, 8
  addi a2, a2, -1
  bnez a2, 1b
  ret

dump_sequence:              // a0 = sequence index; prints dump area then scratch
  mv s1, ra
  mv s2, a0
  li a0, '='
  call print_char
  mv a0, s2
  call print_raw_hex
  la s3, dump_area
  li s4, ${31 + 32 + 1}
2:
  li a0, ' '
  call print_char
  ld a0, 0(s3)
  call print_raw_hex
  addi s3, s3, 8
  addi s4, s4, -1
  bnez s4, 2b
  la s3, scratch
  li s4, ${SCRATCH_DWORDS}
3:
  li a0, ' '
  call print_char
  ld a0, 0(s3)
  call print_raw_hex
  addi s3, s3, 8
  addi s4, s4, -1
  bnez s4, 3b
  li a0, '\\n'
  call print_char
  mv ra, s1
  ret

print_raw_hex:              // a0 = value, 16 hex digits, no prefix
  mv a1, a0
  mv t2, ra
  li a2, 60
1:
  srl a0, a1, a2
  andi a0, a0, 15
  li t0, 10
  blt a0, t0, 2f
  addi a0, a0, 'a' - 10 - '0'
2:
  addi a0, a0, '0'
  call print_char
  addi a2, a2, -4
  bgez a2, 1b
  mv ra, t2
  ret

  .bss
  .balign 16
scratch: .space ${SCRATCH_DWORDS * 8}
dump_area: .space ${(31 + 32 + 1) * 8}
`;
