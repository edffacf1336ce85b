/**
 * RV64 M-extension multiply/divide on 64-bit operands, done by a tiny wasm
 * module so the interpreter needs no BigInt. Each export takes byte addresses
 * (dst, a, b) in the VM memory, reads i64 operands and stores the i64 result;
 * RISC-V's division-by-zero and overflow results are produced here (wasm
 * itself would trap).
 */
import { assembleModule, BlockType, Op, sleb, ValType, type WasmFunction } from "../wasm/encoder.ts";

const { i32, i64 } = ValType;
const A = 3; // local: a (i64)
const B = 4; // local: b (i64)
const T = 5; // scratch locals for mulh
const U = 6;
const V = 7;

const load = (addrLocal: number, into: number) => [Op.localGet, addrLocal, Op.i64Load, 3, 0, Op.localSet, into];
const prologue = [...load(1, A), ...load(2, B), Op.localGet, 0];
const store = [Op.i64Store, 3, 0];
const c64 = (v: bigint) => [Op.i64Const, ...sleb(v)];
const get = (l: number) => [Op.localGet, l];

/** if (b == 0) zeroCase else other: both produce an i64. */
function ifBZero(zeroCase: number[], other: number[]): number[] {
  return [...get(B), Op.i64Eqz, Op.if, BlockType.i64, ...zeroCase, Op.else, ...other, Op.end];
}

function ifBMinusOne(minusOneCase: number[], other: number[]): number[] {
  return [...get(B), ...c64(-1n), Op.i64Eq, Op.if, BlockType.i64, ...minusOneCase, Op.else, ...other, Op.end];
}

const M32 = c64(0xffffffffn);
const lo32 = (l: number) => [...get(l), ...M32, Op.i64And];
const hi32 = (l: number) => [...get(l), ...c64(32n), Op.i64ShrU];

/** High 64 bits of the unsigned 128-bit product of locals A and B. */
const mulhuCode = [
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

function fn(name: string, body: number[]): WasmFunction {
  return { name, params: [i32, i32, i32], results: [], locals: [i64, i64, i64, i64, i64], code: [...prologue, ...body, ...store] };
}

const functions: WasmFunction[] = [
  fn("mul", [...get(A), ...get(B), Op.i64Mul]),
  fn("mulhu", mulhuCode),
  fn("mulh", [...mulhuCode, ...ifNeg(A, B), Op.i64Sub, ...ifNeg(B, A), Op.i64Sub]),
  fn("mulhsu", [...mulhuCode, ...ifNeg(A, B), Op.i64Sub]),
  fn("div", ifBZero(c64(-1n), ifBMinusOne([...c64(0n), ...get(A), Op.i64Sub], [...get(A), ...get(B), Op.i64DivS]))),
  fn("divu", ifBZero(c64(-1n), [...get(A), ...get(B), Op.i64DivU])),
  fn("rem", ifBZero(get(A), ifBMinusOne(c64(0n), [...get(A), ...get(B), Op.i64RemS]))),
  fn("remu", ifBZero(get(A), [...get(A), ...get(B), Op.i64RemU])),
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
