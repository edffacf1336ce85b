/** CSR addresses and bit fields used by the hart (privileged spec 1.12). */
export const CSR = {
  fflags: 0x001, frm: 0x002, fcsr: 0x003,
  cycle: 0xc00, time: 0xc01, instret: 0xc02, hpmcounter3: 0xc03, hpmcounter31: 0xc1f,
  sstatus: 0x100, sie: 0x104, stvec: 0x105, scounteren: 0x106, senvcfg: 0x10a,
  sscratch: 0x140, sepc: 0x141, scause: 0x142, stval: 0x143, sip: 0x144, stimecmp: 0x14d,
  satp: 0x180,
  mvendorid: 0xf11, marchid: 0xf12, mimpid: 0xf13, mhartid: 0xf14, mconfigptr: 0xf15,
  mstatus: 0x300, misa: 0x301, medeleg: 0x302, mideleg: 0x303, mie: 0x304, mtvec: 0x305,
  mcounteren: 0x306, menvcfg: 0x30a, mcountinhibit: 0x320, mhpmevent3: 0x323, mhpmevent31: 0x33f,
  mscratch: 0x340, mepc: 0x341, mcause: 0x342, mtval: 0x343, mip: 0x344, mtinst: 0x34a, mtval2: 0x34b,
  pmpcfg0: 0x3a0, pmpcfg15: 0x3af, pmpaddr0: 0x3b0, pmpaddr63: 0x3ef,
  mcycle: 0xb00, minstret: 0xb02, mhpmcounter3: 0xb03, mhpmcounter31: 0xb1f,
} as const;

// mstatus bits (low word unless noted)
export const MS_SIE = 1 << 1;
export const MS_MIE = 1 << 3;
export const MS_SPIE = 1 << 5;
export const MS_UBE = 1 << 6;
export const MS_MPIE = 1 << 7;
export const MS_SPP = 1 << 8;
export const MS_VS = 3 << 9;
export const MS_MPP_SHIFT = 11;
export const MS_MPP = 3 << 11;
export const MS_FS = 3 << 13;
export const MS_XS = 3 << 15;
export const MS_MPRV = 1 << 17;
export const MS_SUM = 1 << 18;
export const MS_MXR = 1 << 19;
export const MS_TVM = 1 << 20;
export const MS_TW = 1 << 21;
export const MS_TSR = 1 << 22;
/** High word: UXL = SXL = 2 (64-bit), fixed. */
export const MS_HI_XL = 0xa;
/** High word bit 31 = SD (bit 63). */
export const MS_HI_SD = 1 << 31;

export const MSTATUS_WRITABLE = MS_SIE | MS_MIE | MS_SPIE | MS_MPIE | MS_SPP | MS_MPP | MS_FS |
  MS_MPRV | MS_SUM | MS_MXR | MS_TVM | MS_TW | MS_TSR;
export const SSTATUS_READABLE = MS_SIE | MS_SPIE | MS_UBE | MS_SPP | MS_VS | MS_FS | MS_XS | MS_SUM | MS_MXR;
export const SSTATUS_WRITABLE = MS_SIE | MS_SPIE | MS_SPP | MS_FS | MS_SUM | MS_MXR;

/** Interrupt bits in mip/mie. */
export const MIP_SSIP = 1 << 1;
export const MIP_MSIP = 1 << 3;
export const MIP_STIP = 1 << 5;
export const MIP_MTIP = 1 << 7;
export const MIP_SEIP = 1 << 9;
export const MIP_MEIP = 1 << 11;
export const MIP_LCOFIP = 1 << 13;
export const MIE_WRITABLE = MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP | MIP_LCOFIP;
export const MIDELEG_WRITABLE = MIP_SSIP | MIP_STIP | MIP_SEIP | MIP_LCOFIP;
/** Exceptions that may be delegated: all but ecall from M (11) and the reserved 10 and 14. */
export const MEDELEG_WRITABLE = 0xb3ff;

/** misa: MXL = 2 (64-bit), extensions A C D F I M S U. */
const ext = (c: string) => 1 << (c.charCodeAt(0) - 97);
export const MISA_LO = ext("a") | ext("c") | ext("d") | ext("f") | ext("i") | ext("m") | ext("s") | ext("u");
export const MISA_HI = 0x80000000 | 0;

/** Exception causes. */
export const EXC_INSN_MISALIGNED = 0;
export const EXC_INSN_ACCESS = 1;
export const EXC_ILLEGAL = 2;
export const EXC_BREAKPOINT = 3;
export const EXC_LOAD_MISALIGNED = 4;
export const EXC_LOAD_ACCESS = 5;
export const EXC_STORE_MISALIGNED = 6;
export const EXC_STORE_ACCESS = 7;
export const EXC_ECALL_U = 8;
export const EXC_ECALL_S = 9;
export const EXC_ECALL_M = 11;
export const EXC_INSN_PAGE_FAULT = 12;
export const EXC_LOAD_PAGE_FAULT = 13;
export const EXC_STORE_PAGE_FAULT = 15;

/** menvcfg high word bit 31 = STCE (Sstc enable, bit 63). */
export const MENVCFG_HI_STCE = 1 << 31;
