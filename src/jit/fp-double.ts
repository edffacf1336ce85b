/**
 * Double-precision add, subtract, multiply and the fused multiply-adds in
 * translated code: the round-to-nearest-even fast paths of
 * src/cpu/fpu/fast-path.ts (fastAddD, fastMulD, fastMulAddD), step for step
 * in wasm f64 arithmetic, which is IEEE binary64 with RNE like the JS
 * numbers they are written in. Wherever those return false (operands or
 * result out of the range where their error-free reasoning holds, NaNs,
 * infinities, zero products for multiply) the code branches to `slow`, and
 * the translation calls the interpreter's executeFp. The differential
 * fuzzer and lockstep (tests/jit) compare the two. Other rounding modes and
 * formats always take the call.
 */
import { F, FFLAGS, FRM } from "../cpu/hart-state.ts";
import { FLAG_NX, RM_DYN, RM_RNE } from "../cpu/fpu/constants.ts";
import { Op as W, uleb } from "../wasm/encoder.ts";

/** What the emitters need of the function being built (translate.ts's Body). */
export interface FpBody {
  emit(...bytes: number[]): void;
  i32(v: number): void;
  enter(kind: number): number;
  end(): void;
  br(level: number, op?: number): void;
}

/** The f64 scratch locals, and the state's byte offset (a parameter). */
export interface FpLocals {
  st: number;
  x: number; y: number; z: number;
  ph: number; pl: number; sh: number; sl: number; t: number; te: number; r: number; back: number; v: number;
  xh: number; xl: number; yh: number; yl: number;
}

export const FP_LOCAL_COUNT = 16;

const OPCODE_OP_FP = 0x53;
const FMT_D = 1;
const SAFE_MAX = 2 ** 995;
const SAFE_MIN = 2 ** -960;
const SPLIT = 134217729;
const TWO_POW_1000 = 2 ** 1000;
const TWO_POW_1022 = 2 ** 1022;

const F64 = {
  load: 0x2b, store: 0x39, const: 0x44,
  eq: 0x61, ne: 0x62, lt: 0x63, gt: 0x64, le: 0x65, ge: 0x66,
  abs: 0x99, neg: 0x9a, add: 0xa0, sub: 0xa1, mul: 0xa2,
  i64Reinterpret: 0xbd, fromI64Reinterpret: 0xbf,
} as const;

type Kind = "add" | "sub" | "mul" | "fma";

/** The kind of fast path for an F/D instruction, or null when it has none. */
export function fpFastKind(insn: number): { kind: Kind; negateProduct: boolean; negateAddend: boolean } | null {
  const opcode = insn & 0x7f;
  const rm = (insn >>> 12) & 7;
  if (((insn >>> 25) & 3) !== FMT_D || (rm !== RM_RNE && rm !== RM_DYN)) return null;
  if (opcode === OPCODE_OP_FP) {
    const f5 = insn >>> 27;
    if (f5 > 2) return null;
    return { kind: (["add", "sub", "mul"] as const)[f5], negateProduct: false, negateAddend: false };
  }
  // FMADD 0x43, FMSUB 0x47, FNMSUB 0x4b, FNMADD 0x4f.
  if ((opcode & 0x73) !== 0x43) return null;
  const k = (opcode >>> 2) & 3;
  return { kind: "fma", negateProduct: k >= 2, negateAddend: k === 1 || k === 3 };
}

/**
 * Emits the fast path of `insn` (fpFastKind not null): `slow` is the level
 * of the block to leave (Body.br) when it does not apply.
 */
export function emitFpFast(f: FpBody, L: FpLocals, insn: number, slow: number): void {
  const k = fpFastKind(insn)!;
  const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31, rs3 = insn >>> 27;
  const get = (l: number) => f.emit(W.localGet, l);
  const set = (l: number) => f.emit(W.localSet, l);
  const num = (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    f.emit(F64.const, ...b);
  };
  const loadF = (r: number) => f.emit(W.localGet, L.st, F64.load, 3, ...uleb((F + 2 * r) * 4));
  const slowIf = () => f.br(slow, W.brIf); // the i32 on the stack is nonzero: take the slow path
  /** slow unless |l| < bound (false for NaN). */
  const requireBelow = (l: number, bound: number) => {
    get(l); f.emit(F64.abs); num(bound); f.emit(F64.lt, W.i32Eqz);
    slowIf();
  };
  const raiseInexact = () => {
    f.enter(W.if);
    f.emit(W.localGet, L.st, W.localGet, L.st, W.i32Load, 2, ...uleb(FFLAGS * 4));
    f.i32(FLAG_NX);
    f.emit(W.i32Or, W.i32Store, 2, ...uleb(FFLAGS * 4));
    f.end();
  };
  /** Pushes sumError(a, b, s) = a + b − s exactly (TwoSum); `a`, `b` may be negated. */
  const sumError = (a: () => void, b: () => void, s: number) => {
    get(s); a(); f.emit(F64.sub); set(L.v); // v = s - a
    a(); get(s); get(L.v); f.emit(F64.sub, F64.sub); // a - (s - v)
    b(); get(L.v); f.emit(F64.sub, F64.add); // + (b - v)
  };
  /** Pushes productError(x, y, p) = x·y − p exactly (Dekker's TwoProduct). */
  const productError = (p: number) => {
    const split = (from: number, hi: number, lo: number) => {
      num(SPLIT); get(from); f.emit(F64.mul); set(lo); // lo = SPLIT * from (scratch)
      get(lo); get(lo); get(from); f.emit(F64.sub, F64.sub); set(hi); // hi = s - (s - from)
      get(from); get(hi); f.emit(F64.sub); set(lo); // lo = from - hi
    };
    split(L.x, L.xh, L.xl);
    split(L.y, L.yh, L.yl);
    get(L.xh); get(L.yh); f.emit(F64.mul); get(p); f.emit(F64.sub);
    get(L.xh); get(L.yl); f.emit(F64.mul, F64.add);
    get(L.xl); get(L.yh); f.emit(F64.mul, F64.add);
    get(L.xl); get(L.yl); f.emit(F64.mul, F64.add);
  };
  const store = (l: number) => {
    f.emit(W.localGet, L.st); get(l); f.emit(F64.store, 3, ...uleb((F + 2 * rd) * 4));
  };

  if (((insn >>> 12) & 7) === RM_DYN) {
    f.emit(W.localGet, L.st, W.i32Load, 2, ...uleb(FRM * 4)); // frm must be RNE
    slowIf();
  }
  loadF(rs1);
  if (k.negateProduct) f.emit(F64.neg);
  set(L.x);
  loadF(rs2);
  if (k.kind === "sub") f.emit(F64.neg);
  set(L.y);

  if (k.kind === "add" || k.kind === "sub") {
    requireBelow(L.x, TWO_POW_1022);
    requireBelow(L.y, TWO_POW_1022);
    get(L.x); get(L.y); f.emit(F64.add); set(L.sh);
    sumError(() => get(L.x), () => get(L.y), L.sh);
    num(0); f.emit(F64.ne);
    raiseInexact();
    store(L.sh);
    return;
  }
  requireBelow(L.x, SAFE_MAX);
  requireBelow(L.y, SAFE_MAX);
  get(L.x); get(L.y); f.emit(F64.mul); set(L.ph);
  if (k.kind === "mul") {
    // Zero products (exact) are left to the call: rare in hot code.
    get(L.ph); f.emit(F64.abs); set(L.v);
    get(L.v); num(SAFE_MIN); f.emit(F64.ge); get(L.v); num(SAFE_MAX); f.emit(F64.lt, W.i32And, W.i32Eqz);
    slowIf();
    productError(L.ph);
    num(0); f.emit(F64.ne);
    raiseInexact();
    store(L.ph);
    return;
  }
  loadF(rs3);
  if (k.negateAddend) f.emit(F64.neg);
  set(L.z);
  // An exact zero product: the result is z (+ the product, for the zero's sign).
  get(L.ph); num(0); f.emit(F64.eq);
  get(L.x); num(0); f.emit(F64.eq); get(L.y); num(0); f.emit(F64.eq, W.i32Or, W.i32And);
  f.enter(W.if);
  get(L.z); f.emit(F64.abs); num(Number.MAX_VALUE); f.emit(F64.le, W.i32Eqz);
  slowIf();
  get(L.ph); get(L.z); f.emit(F64.add); set(L.r);
  f.emit(W.else);
  // |z| ≤ 2^1000 and (|z| ≥ SAFE_MIN or z = 0); SAFE_MIN ≤ |product| ≤ 2^1000.
  get(L.z); f.emit(F64.abs); set(L.v);
  get(L.v); num(TWO_POW_1000); f.emit(F64.le);
  get(L.v); num(SAFE_MIN); f.emit(F64.ge); get(L.z); num(0); f.emit(F64.eq, W.i32Or, W.i32And, W.i32Eqz);
  slowIf();
  get(L.ph); f.emit(F64.abs); set(L.v);
  get(L.v); num(SAFE_MIN); f.emit(F64.ge); get(L.v); num(TWO_POW_1000); f.emit(F64.le, W.i32And, W.i32Eqz);
  slowIf();
  productError(L.ph); set(L.pl);
  get(L.z); get(L.ph); f.emit(F64.add); set(L.sh);
  sumError(() => get(L.z), () => get(L.ph), L.sh); set(L.sl);
  get(L.sl); get(L.pl); f.emit(F64.add); set(L.t);
  sumError(() => get(L.sl), () => get(L.pl), L.t); set(L.te);
  // tail rounded to odd when inexact: its last bit is set, moving toward the error.
  get(L.te); num(0); f.emit(F64.ne);
  get(L.t); f.emit(F64.i64Reinterpret, W.i64Const, 1, W.i64And, W.i64Eqz, W.i32And);
  f.enter(W.if);
  get(L.t); f.emit(F64.i64Reinterpret, W.i64Const, 1, W.i64Const, 0x7f); // +1, else −1
  get(L.te); num(0); f.emit(F64.gt); get(L.t); num(0); f.emit(F64.gt, W.i32Eq, W.select, W.i64Add, F64.fromI64Reinterpret);
  set(L.t);
  f.end();
  get(L.sh); get(L.t); f.emit(F64.add); set(L.r);
  get(L.r); f.emit(F64.abs); num(SAFE_MIN); f.emit(F64.ge, W.i32Eqz);
  slowIf();
  get(L.r); get(L.z); f.emit(F64.sub); set(L.back);
  get(L.back); get(L.ph); f.emit(F64.ne);
  sumError(() => get(L.r), () => { get(L.z); f.emit(F64.neg); }, L.back); get(L.pl); f.emit(F64.ne, W.i32Or);
  raiseInexact();
  f.end(); // if/else
  store(L.r);
}
