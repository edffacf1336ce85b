/**
 * A hart's architectural state as int32 words inside the VM memory.
 *
 * A 64-bit value is a pair of words: low half at an even index, high half at
 * the next one: the same bytes a wasm `i64.load` reads at `index * 4`.
 * Index constants are word indexes into `HartState.w`.
 */
import { HART_STATE_SIZE, hartStateOffset } from "./layout.ts";

export const X = 0; // x0..x31: words 0..63 (x0 is kept zero)
export const F = 64; // f0..f31: words 64..127, raw IEEE bits (NaN-boxed singles)
export const PC = 128;
export const PRIV = 130; // 0 = U, 1 = S, 3 = M
export const FFLAGS = 131; // accrued exception flags, 5 bits: NV DZ OF UF NX
export const FRM = 132; // dynamic rounding mode, 3 bits
export const WFI = 133; // 1 while the hart waits for an interrupt

export const MSTATUS = 136;
export const MEPC = 138;
export const MTVEC = 140;
export const MCAUSE = 142;
export const MTVAL = 144;
export const MSCRATCH = 146;
export const MEDELEG = 148;
export const MIDELEG = 150;
export const MIE = 152; // single word: interrupt bits fit in 32
export const MIP = 153; // single word
export const SEPC = 154;
export const STVEC = 156;
export const SCAUSE = 158;
export const STVAL = 160;
export const SSCRATCH = 162;
export const SATP = 164;
export const MCOUNTEREN = 166; // single word
export const SCOUNTEREN = 167; // single word
export const MINSTRET = 168; // also serves as mcycle; the count at the start of the current batch
export const STIMECMP = 170;
export const MENVCFG = 172;
export const SENVCFG = 174;
export const PMPCFG = 176; // pmpcfg0, pmpcfg2: two pairs
export const PMPADDR = 180; // pmpaddr0..15: sixteen pairs
export const MCOUNTINHIBIT = 212; // single word
export const RES_VALID = 213; // LR reservation valid (single word)
export const RES_ADDR = 214; // LR reservation virtual address (pair)
export const RES_VALUE = 216; // the value LR loaded (pair; SC compares it, as QEMU does)
export const SEIP_LINES = 218; // who raises mip.SEIP: bit 0 the PLIC, bit 1 software (single word)
export const TIMER_CHECK = 219; // instructions since the Sstc timer was compared with the clock
/**
 * Words 0..SAVED_WORDS hold everything the hart is (a snapshot copies them);
 * the rest is scratch.
 */
export const SAVED_WORDS = 256;
/** Words 256..319 are scratch for helpers (64-bit ALU wasm, FPU). */
export const SCRATCH = 256;
/** Why translated code returned (src/jit/translate.ts EXIT_*): written by the code, read by the JIT. */
export const JIT_EXIT = 320;

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

export class HartState {
  /** The hart's words: index with the constants above. */
  readonly w: Int32Array;
  /** The same bytes as doubles: f register i is `f64[F / 2 + i]`. */
  readonly f64: Float64Array;
  /** Byte offset of this hart's state in the VM memory. */
  readonly base: number;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly hartId: number,
  ) {
    this.base = hartStateOffset(hartId);
    this.w = new Int32Array(memory.buffer, this.base, HART_STATE_SIZE / 4);
    this.f64 = new Float64Array(memory.buffer, this.base, HART_STATE_SIZE / 8);
  }

  // Convenience accessors for cold code (loaders, SBI, syscalls, tests).
  // The hot path indexes `w` directly.

  /** x register i as an unsigned number (exact below 2^53). */
  getXU(i: number): number {
    return (this.w[X + 2 * i + 1] >>> 0) * 0x100000000 + (this.w[X + 2 * i] >>> 0);
  }

  /** x register i as a signed number (exact within ±2^53). */
  getXS(i: number): number {
    return this.w[X + 2 * i + 1] * 0x100000000 + (this.w[X + 2 * i] >>> 0);
  }

  /** Sets x register i from a signed or unsigned number (exact within ±2^53). */
  setX(i: number, value: number): void {
    if (i === 0) return;
    const lo = value % 0x100000000;
    const hi = Math.floor(value / 0x100000000);
    this.w[X + 2 * i] = lo | 0;
    this.w[X + 2 * i + 1] = hi | 0;
  }

  getXBig(i: number): bigint {
    return (BigInt(this.w[X + 2 * i + 1]) << 32n) | BigInt(this.w[X + 2 * i] >>> 0);
  }

  setXBig(i: number, value: bigint): void {
    if (i === 0) return;
    this.w[X + 2 * i] = Number(BigInt.asIntN(32, value));
    this.w[X + 2 * i + 1] = Number(BigInt.asIntN(32, value >> 32n));
  }

  getPc(): number {
    return (this.w[PC + 1] >>> 0) * 0x100000000 + (this.w[PC] >>> 0);
  }

  setPc(value: number): void {
    this.w[PC] = value % 0x100000000 | 0;
    this.w[PC + 1] = Math.floor(value / 0x100000000) | 0;
  }

  /** pc += n, as a 64-bit add (pc values above 2^53 are common in S-mode). */
  advancePc(n: number): void {
    const lo = (this.w[PC] >>> 0) + n;
    this.w[PC] = lo | 0;
    if (lo > 0xffffffff) this.w[PC + 1] = (this.w[PC + 1] + 1) | 0;
  }

  /** The pair at `index` as a signed number (exact within ±2^53). */
  getXSAt(index: number): number {
    return this.w[index + 1] * 0x100000000 + (this.w[index] >>> 0);
  }

  /** Sets the pair at `index` from a signed or unsigned number (exact within ±2^53). */
  setPairNumber(index: number, value: number): void {
    this.w[index] = value % 0x100000000 | 0;
    this.w[index + 1] = Math.floor(value / 0x100000000) | 0;
  }

  getPair(index: number): bigint {
    return (BigInt(this.w[index + 1]) << 32n) | BigInt(this.w[index] >>> 0);
  }

  setPair(index: number, value: bigint): void {
    this.w[index] = Number(BigInt.asIntN(32, value));
    this.w[index + 1] = Number(BigInt.asIntN(32, value >> 32n));
  }
}
