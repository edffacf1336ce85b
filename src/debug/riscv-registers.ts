/**
 * The RV64 register file as GDB numbers it (gdb/riscv-tdep.h): x0..x31 are
 * 0..31, pc 32, f0..f31 33..64, CSRs at 65 + their number (fflags 66,
 * frm 67, fcsr 68), and the target description that says so.
 */
export const REG_PC = 32;
export const REG_F0 = 33;
export const REG_FFLAGS = 66;
export const REG_FRM = 67;
export const REG_FCSR = 68;
/** Registers in the `g` packet: x0..x31 and pc (the rest through `p`, as QEMU does). */
export const G_PACKET_REGS = 33;

/** Bytes of register `regno`, 0 if there is no such register. */
export function registerSize(regno: number): number {
  if (regno >= 0 && regno < REG_F0 + 32) return 8;
  if (regno === REG_FFLAGS || regno === REG_FRM || regno === REG_FCSR) return 4;
  return 0;
}

const X_NAMES = [
  "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
  "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];
const F_NAMES = [
  "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
  "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

function xType(i: number): string {
  return i === 1 ? "code_ptr" : i === 2 || i === 8 ? "data_ptr" : "int";
}

/** target.xml for an RV64 hart with the F and D extensions; `osabi` e.g. "GNU/Linux" for the process VM. */
export function riscv64TargetXml(osabi: string | null): string {
  const cpu = X_NAMES.map((n, i) => `    <reg name="${n}" bitsize="64" type="${xType(i)}" regnum="${i}"/>`);
  cpu.push(`    <reg name="pc" bitsize="64" type="code_ptr" regnum="${REG_PC}"/>`);
  const fpu = F_NAMES.map((n, i) => `    <reg name="${n}" bitsize="64" type="riscv_double" regnum="${REG_F0 + i}"/>`);
  return [
    `<?xml version="1.0"?>`,
    `<!DOCTYPE target SYSTEM "gdb-target.dtd">`,
    `<target version="1.0">`,
    `  <architecture>riscv:rv64</architecture>`,
    ...(osabi !== null ? [`  <osabi>${osabi}</osabi>`] : []),
    `  <feature name="org.gnu.gdb.riscv.cpu">`,
    ...cpu,
    `  </feature>`,
    `  <feature name="org.gnu.gdb.riscv.fpu">`,
    `    <union id="riscv_double">`,
    `      <field name="float" type="ieee_single"/>`,
    `      <field name="double" type="ieee_double"/>`,
    `    </union>`,
    ...fpu,
    `    <reg name="fflags" bitsize="32" type="int" regnum="${REG_FFLAGS}"/>`,
    `    <reg name="frm" bitsize="32" type="int" regnum="${REG_FRM}"/>`,
    `    <reg name="fcsr" bitsize="32" type="int" regnum="${REG_FCSR}"/>`,
    `  </feature>`,
    `</target>`,
    ``,
  ].join("\n");
}

/**
 * Reads register `regno` out of hart-state words (x pairs at 0, f pairs at
 * 64, pc at 128, fflags 131, frm 132: the layout of src/cpu/hart-state.ts,
 * passed in so this file stays free of the cpu).
 */
export function readStateRegister(w: Int32Array, layout: StateLayout, regno: number): Uint8Array | null {
  const size = registerSize(regno);
  if (size === 0) return null;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  if (size === 8) {
    const idx = regno < 32 ? layout.x + 2 * regno : regno === REG_PC ? layout.pc : layout.f + 2 * (regno - REG_F0);
    dv.setInt32(0, regno === 0 ? 0 : w[idx], true);
    dv.setInt32(4, regno === 0 ? 0 : w[idx + 1], true);
    return out;
  }
  const fflags = w[layout.fflags] & 0x1f;
  const frm = w[layout.frm] & 7;
  dv.setUint32(0, regno === REG_FFLAGS ? fflags : regno === REG_FRM ? frm : (frm << 5) | fflags, true);
  return out;
}

export function writeStateRegister(w: Int32Array, layout: StateLayout, regno: number, value: Uint8Array): boolean {
  const size = registerSize(regno);
  if (size === 0 || value.length !== size) return false;
  const dv = new DataView(value.buffer, value.byteOffset, value.length);
  if (size === 8) {
    if (regno === 0) return true;
    const idx = regno < 32 ? layout.x + 2 * regno : regno === REG_PC ? layout.pc : layout.f + 2 * (regno - REG_F0);
    w[idx] = dv.getInt32(0, true);
    w[idx + 1] = dv.getInt32(4, true);
    return true;
  }
  const v = dv.getUint32(0, true);
  if (regno === REG_FFLAGS) w[layout.fflags] = v & 0x1f;
  else if (regno === REG_FRM) w[layout.frm] = v & 7;
  else {
    w[layout.fflags] = v & 0x1f;
    w[layout.frm] = (v >>> 5) & 7;
  }
  return true;
}

export interface StateLayout {
  x: number;
  f: number;
  pc: number;
  fflags: number;
  frm: number;
}
