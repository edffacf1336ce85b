/**
 * RV64 M-extension multiply/divide on 64-bit operands, done by a tiny wasm
 * module so the interpreter needs no BigInt. Each export takes byte addresses
 * (dst, a, b) in the VM memory, reads i64 operands and stores the i64 result;
 * RISC-V's division-by-zero and overflow results are produced here (wasm
 * itself would trap).
 */
import { assembleModule, BlockType, Op, sleb, ValType, type WasmFunction } from "../wasm/encoder.ts";

const { i32, i64 } = ValType;

/** The locals (all i64) an M operation's code reads (a, b) and uses as scratch (t, u, v). */
export interface MulDivLocals {
  a: number;
  b: number;
  t: number;
  u: number;
  v: number;
}

const c64 = (v: bigint) => [Op.i64Const, ...sleb(v)];
const get = (l: number) => [Op.localGet, l];
const M32 = c64(0xffffffffn);

/**
 * The one definition of RV64 M's 64-bit operations: wasm code leaving
 * `funct3`'s result (0 MUL, 1 MULH, 2 MULHSU, 3 MULHU, 4 DIV, 5 DIVU, 6 REM,
 * 7 REMU) of locals a and b on the stack, with RISC-V's division-by-zero and
 * overflow results (wasm itself would trap). The interpreter runs it in the
 * module below; the JIT (src/jit) inlines it.
 */
export function mulDivCode(funct3: number, l: MulDivLocals): number[] {
  const { a: A, b: B, t: T, u: U, v: V } = l;
  const lo32 = (x: number) => [...get(x), ...M32, Op.i64And];
  const hi32 = (x: number) => [...get(x), ...c64(32n), Op.i64ShrU];
  /** if (b == 0) zeroCase else other: both produce an i64. */
  const ifBZero = (zeroCase: number[], other: number[]) =>
    [...get(B), Op.i64Eqz, Op.if, BlockType.i64, ...zeroCase, Op.else, ...other, Op.end];
  const ifBMinusOne = (minusOneCase: number[], other: number[]) =>
    [...get(B), ...c64(-1n), Op.i64Eq, Op.if, BlockType.i64, ...minusOneCase, Op.else, ...other, Op.end];
  /** High 64 bits of the unsigned 128-bit product of a and b. */
  const mulhu = [
    // T = a0*b0 >> 32 ; U = a0*b1 ; V = a1*b0
    ...lo32(A), ...lo32(B), Op.i64Mul, ...c64(32n), Op.i64ShrU, Op.localSet, T,
    ...lo32(A), ...hi32(B), Op.i64Mul, Op.localSet, U,
    ...hi32(A), ...lo32(B), Op.i64Mul, Op.localSet, V,
    // T = mid = T + lo(U) + lo(V)
    ...get(T), ...lo32(U), Op.i64Add, ...lo32(V), Op.i64Add, Op.localSet, T,
    // hi = a1*b1 + hi(U) + hi(V) + hi(mid)
    ...hi32(A), ...hi32(B), Op.i64Mul, ...hi32(U), Op.i64Add, ...hi32(V), Op.i64Add, ...hi32(T), Op.i64Add,
  ];
  /** x < 0 ? y : 0 */
  const ifNeg = (x: number, y: number) => [...get(y), ...c64(0n), ...get(x), ...c64(0n), Op.i64LtS, Op.select];
  switch (funct3 & 7) {
    case 0: return [...get(A), ...get(B), Op.i64Mul];
    case 1: return [...mulhu, ...ifNeg(A, B), Op.i64Sub, ...ifNeg(B, A), Op.i64Sub];
    case 2: return [...mulhu, ...ifNeg(A, B), Op.i64Sub];
    case 3: return mulhu;
    case 4: return ifBZero(c64(-1n), ifBMinusOne([...c64(0n), ...get(A), Op.i64Sub], [...get(A), ...get(B), Op.i64DivS]));
    case 5: return ifBZero(c64(-1n), [...get(A), ...get(B), Op.i64DivU]);
    case 6: return ifBZero(get(A), ifBMinusOne(c64(0n), [...get(A), ...get(B), Op.i64RemS]));
    default: return ifBZero(get(A), [...get(A), ...get(B), Op.i64RemU]);
  }
}

// The interpreter's module: each function is (dst, a, b) byte addresses; locals 3..7.
const LOCALS: MulDivLocals = { a: 3, b: 4, t: 5, u: 6, v: 7 };
const load = (addrLocal: number, into: number) => [Op.localGet, addrLocal, Op.i64Load, 3, 0, Op.localSet, into];
const prologue = [...load(1, LOCALS.a), ...load(2, LOCALS.b), Op.localGet, 0];
const store = [Op.i64Store, 3, 0];

function fn(name: string, funct3: number): WasmFunction {
  return { name, params: [i32, i32, i32], results: [], locals: [i64, i64, i64, i64, i64], code: [...prologue, ...mulDivCode(funct3, LOCALS), ...store] };
}

const functions: WasmFunction[] = [
  fn("mul", 0), fn("mulh", 1), fn("mulhsu", 2), fn("mulhu", 3), fn("div", 4), fn("divu", 5), fn("rem", 6), fn("remu", 7),
];

type MulDivFn = (dst: number, a: number, b: number) => void;
export interface MulDiv {
  mul: MulDivFn;
  mulh: MulDivFn;
  mulhsu: MulDivFn;
  mulhu: MulDivFn;
  div: MulDivFn;
  divu: MulDivFn;
  rem: MulDivFn;
  remu: MulDivFn;
}

const compiled = new WebAssembly.Module(assembleModule(functions));

export function createMulDiv(memory: WebAssembly.Memory): MulDiv {
  const instance = new WebAssembly.Instance(compiled, { env: { mem: memory } });
  return instance.exports as unknown as MulDiv;
}
