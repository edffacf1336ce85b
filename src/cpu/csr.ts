/**
 * CSR reads and writes (Zicsr + privileged 1.12). Cold path: called from the
 * interpreter only for CSR instructions. Both return false when the access is
 * illegal (the caller raises an illegal-instruction exception).
 */
import type { Hart } from "./hart.ts";
import {
  FFLAGS, FRM, MCAUSE, MCOUNTEREN, MCOUNTINHIBIT, MEDELEG, MENVCFG, MEPC, MIDELEG, MIE, MIP,
  MSCRATCH, MSTATUS, MTVAL, MTVEC, PMPADDR, PMPCFG, PRIV, PRIV_M, PRIV_S, PRIV_U, SATP, SCAUSE,
  SCOUNTEREN, SENVCFG, SEPC, SSCRATCH, STIMECMP, STVAL, STVEC,
} from "./hart-state.ts";
import {
  CSR, MEDELEG_WRITABLE, MENVCFG_HI_STCE, MIDELEG_WRITABLE, MIE_WRITABLE, MIP_SEIP, MIP_SSIP,
  MIP_STIP, MISA_HI, MISA_LO, MS_FS, MS_HI_SD, MS_HI_XL, MS_MPP, MS_MPRV, MS_MXR, MS_SUM, MS_TVM,
  MS_MIE, MS_SIE, MSTATUS_WRITABLE, SSTATUS_READABLE, SSTATUS_WRITABLE,
} from "./csr-numbers.ts";
import { CSR_TDATA1, CSR_TDATA2, CSR_TDATA3, CSR_TINFO, CSR_TSELECT } from "./triggers.ts";

const TWO32 = 0x100000000;

function counterAllowed(h: Hart, bit: number): boolean {
  const w = h.w;
  const priv = w[PRIV];
  if (priv === PRIV_M) return true;
  if (((w[MCOUNTEREN] >>> bit) & 1) === 0) return false;
  if (priv === PRIV_U && ((w[SCOUNTEREN] >>> bit) & 1) === 0) return false;
  return true;
}

function fpuEnabled(h: Hart): boolean {
  return (h.w[MSTATUS] & MS_FS) !== 0;
}

function setResult(h: Hart, lo: number, hi: number): true {
  h.csrLo = lo | 0;
  h.csrHi = hi | 0;
  return true;
}

function setResultNumber(h: Hart, v: number): true {
  return setResult(h, v % TWO32, Math.floor(v / TWO32));
}

function pair(h: Hart, index: number): true {
  return setResult(h, h.w[index], h.w[index + 1]);
}

/** Reads CSR `csr` into h.csrLo/h.csrHi. */
export function csrRead(h: Hart, csr: number): boolean {
  const w = h.w;
  if (((csr >>> 8) & 3) > w[PRIV]) return false;
  switch (csr) {
    case CSR.fflags: return fpuEnabled(h) && setResult(h, w[FFLAGS] & 0x1f, 0);
    case CSR.frm: return fpuEnabled(h) && setResult(h, w[FRM] & 7, 0);
    case CSR.fcsr: return fpuEnabled(h) && setResult(h, ((w[FRM] & 7) << 5) | (w[FFLAGS] & 0x1f), 0);
    case CSR.cycle: case CSR.instret:
      return counterAllowed(h, csr & 31) && setResultNumber(h, h.instretNow());
    case CSR.time: return counterAllowed(h, 1) && setResultNumber(h, h.clock.now());
    case CSR.mcycle: case CSR.minstret: return setResultNumber(h, h.instretNow());
    case CSR.sstatus: {
      const ms = w[MSTATUS];
      const sd = (ms & MS_FS) === MS_FS ? MS_HI_SD : 0;
      return setResult(h, ms & SSTATUS_READABLE, (MS_HI_XL & 3) | sd);
    }
    case CSR.sie: return setResult(h, w[MIE] & w[MIDELEG], 0);
    case CSR.stvec: return pair(h, STVEC);
    case CSR.scounteren: return setResult(h, w[SCOUNTEREN], 0);
    case CSR.senvcfg: return pair(h, SENVCFG);
    case CSR.sscratch: return pair(h, SSCRATCH);
    case CSR.sepc: return pair(h, SEPC);
    case CSR.scause: return pair(h, SCAUSE);
    case CSR.stval: return pair(h, STVAL);
    case CSR.sip: return setResult(h, h.readMip() & w[MIDELEG], 0);
    case CSR.stimecmp: return stimecmpAllowed(h) && pair(h, STIMECMP);
    case CSR.satp:
      if (w[PRIV] === PRIV_S && (w[MSTATUS] & MS_TVM) !== 0) return false;
      return pair(h, SATP);
    case CSR.mvendorid: case CSR.marchid: case CSR.mimpid: case CSR.mconfigptr:
      return setResult(h, 0, 0);
    case CSR.mhartid: return setResult(h, h.hartId, 0);
    case CSR.mstatus: {
      const ms = w[MSTATUS];
      const sd = (ms & MS_FS) === MS_FS ? MS_HI_SD : 0;
      return setResult(h, ms, MS_HI_XL | sd);
    }
    case CSR.misa: return setResult(h, MISA_LO, MISA_HI);
    case CSR.medeleg: return pair(h, MEDELEG);
    case CSR.mideleg: return pair(h, MIDELEG);
    case CSR.mie: return setResult(h, w[MIE], 0);
    case CSR.mtvec: return pair(h, MTVEC);
    case CSR.mcounteren: return setResult(h, w[MCOUNTEREN], 0);
    case CSR.menvcfg: return pair(h, MENVCFG);
    case CSR.mcountinhibit: return setResult(h, w[MCOUNTINHIBIT], 0);
    case CSR.mscratch: return pair(h, MSCRATCH);
    case CSR.mepc: return pair(h, MEPC);
    case CSR.mcause: return pair(h, MCAUSE);
    case CSR.mtval: return pair(h, MTVAL);
    case CSR.mip: return setResult(h, h.readMip(), 0);
    case CSR.mtinst: case CSR.mtval2: return setResult(h, 0, 0);
    case CSR_TSELECT: case CSR_TDATA1: case CSR_TDATA2: case CSR_TDATA3: case CSR_TINFO:
      return setResult(h, h.triggers.read(csr), h.triggers.readHi);
  }
  if (csr >= CSR.hpmcounter3 && csr <= CSR.hpmcounter31) return counterAllowed(h, csr & 31) && setResult(h, 0, 0);
  if (csr >= CSR.mhpmcounter3 && csr <= CSR.mhpmcounter31) return setResult(h, 0, 0);
  if (csr >= CSR.mhpmevent3 && csr <= CSR.mhpmevent31) return setResult(h, 0, 0);
  if (csr >= CSR.pmpcfg0 && csr <= CSR.pmpcfg15) {
    const n = csr - CSR.pmpcfg0;
    if ((n & 1) !== 0) return false; // RV64 has only the even pmpcfg registers
    return n < 4 ? pair(h, PMPCFG + n) : setResult(h, 0, 0);
  }
  if (csr >= CSR.pmpaddr0 && csr <= CSR.pmpaddr63) {
    const n = csr - CSR.pmpaddr0;
    return n < 16 ? pair(h, PMPADDR + 2 * n) : setResult(h, 0, 0);
  }
  return false;
}

function stimecmpAllowed(h: Hart): boolean {
  const w = h.w;
  if (w[PRIV] === PRIV_M) return true;
  return (w[MENVCFG + 1] & MENVCFG_HI_STCE) !== 0 && (w[MCOUNTEREN] & 2) !== 0;
}

function writeMstatus(h: Hart, lo: number, mask: number): void {
  const w = h.w;
  const old = w[MSTATUS];
  let v = (old & ~mask) | (lo & mask);
  if (((v & MS_MPP) >>> 11) === 2) v = (v & ~MS_MPP) | (old & MS_MPP); // MPP is WARL: 2 is reserved
  w[MSTATUS] = v;
  if (((old ^ v) & MS_MXR) !== 0) h.translationChanged();
  else if (((old ^ v) & (MS_MPRV | MS_MPP | MS_SUM)) !== 0) h.privChanged();
  // Take a pending interrupt right after a write that enables it (Linux
  // writes sstatus around every critical section: only enabling matters).
  if ((v & ~old & (MS_SIE | MS_MIE)) !== 0 && (w[MIP] & w[MIE]) !== 0) h.endBatch();
}

function writeTvec(w: Int32Array, index: number, lo: number, hi: number): void {
  if ((lo & 3) >= 2) return; // reserved modes: QEMU ignores the write
  w[index] = lo;
  w[index + 1] = hi;
}

/** Writes CSR `csr`. Returns false if the write is illegal. */
export function csrWrite(h: Hart, csr: number, lo: number, hi: number): boolean {
  const w = h.w;
  if (((csr >>> 8) & 3) > w[PRIV] || (csr >>> 10) === 3) return false;
  switch (csr) {
    case CSR.fflags: if (!fpuEnabled(h)) return false; w[FFLAGS] = lo & 0x1f; h.markFpDirty(); return true;
    case CSR.frm: if (!fpuEnabled(h)) return false; w[FRM] = lo & 7; h.markFpDirty(); return true;
    case CSR.fcsr:
      if (!fpuEnabled(h)) return false;
      w[FFLAGS] = lo & 0x1f;
      w[FRM] = (lo >>> 5) & 7;
      h.markFpDirty();
      return true;
    case CSR.sstatus: writeMstatus(h, lo, SSTATUS_WRITABLE); return true;
    case CSR.sie: {
      const m = w[MIDELEG] & MIE_WRITABLE;
      w[MIE] = (w[MIE] & ~m) | (lo & m);
      h.endBatch();
      return true;
    }
    case CSR.stvec: writeTvec(w, STVEC, lo, hi); return true;
    case CSR.scounteren: w[SCOUNTEREN] = lo; return true;
    case CSR.senvcfg: w[SENVCFG] = lo & 1; w[SENVCFG + 1] = 0; return true;
    case CSR.sscratch: w[SSCRATCH] = lo; w[SSCRATCH + 1] = hi; return true;
    case CSR.sepc: w[SEPC] = lo & ~1; w[SEPC + 1] = hi; return true;
    case CSR.scause: w[SCAUSE] = lo; w[SCAUSE + 1] = hi; return true;
    case CSR.stval: w[STVAL] = lo; w[STVAL + 1] = hi; return true;
    case CSR.sip: {
      const m = w[MIDELEG] & MIP_SSIP;
      w[MIP] = (w[MIP] & ~m) | (lo & m);
      h.endBatch();
      return true;
    }
    case CSR.stimecmp:
      if (!stimecmpAllowed(h)) return false;
      w[STIMECMP] = lo;
      w[STIMECMP + 1] = hi;
      h.timerChanged();
      return true;
    case CSR.satp: {
      if (w[PRIV] === PRIV_S && (w[MSTATUS] & MS_TVM) !== 0) return false;
      const mode = hi >>> 28;
      if (mode !== 0 && mode !== 8 && mode !== 9) return true; // WARL: unsupported mode, no change
      const oldMode = w[SATP + 1] >>> 28;
      w[SATP] = lo;
      w[SATP + 1] = mode === 0 ? 0 : hi & 0xf00fffff; // ASID 16 bits (59:44), PPN 44 bits
      if (mode === 0) w[SATP] = 0;
      // No fence is implied (software must SFENCE.VMA after changing tables),
      // but the TLB has no ASID tags: another address space's pages must go.
      if (mode !== oldMode) h.translationChanged();
      else h.addressSpaceChanged();
      return true;
    }
    case CSR.mstatus: writeMstatus(h, lo, MSTATUS_WRITABLE); return true;
    case CSR.misa: return true; // WARL: fixed
    case CSR.medeleg: w[MEDELEG] = lo & MEDELEG_WRITABLE; w[MEDELEG + 1] = 0; return true;
    case CSR.mideleg: w[MIDELEG] = lo & MIDELEG_WRITABLE; w[MIDELEG + 1] = 0; h.endBatch(); return true;
    case CSR.mie: w[MIE] = lo & MIE_WRITABLE; h.endBatch(); return true;
    case CSR.mtvec: writeTvec(w, MTVEC, lo, hi); return true;
    case CSR.mcounteren: w[MCOUNTEREN] = lo; return true;
    case CSR.menvcfg:
      w[MENVCFG] = lo & 1; // FIOM
      w[MENVCFG + 1] = hi & MENVCFG_HI_STCE;
      h.timerChanged();
      return true;
    case CSR.mcountinhibit: w[MCOUNTINHIBIT] = lo & ~2; return true;
    case CSR.mscratch: w[MSCRATCH] = lo; w[MSCRATCH + 1] = hi; return true;
    case CSR.mepc: w[MEPC] = lo & ~1; w[MEPC + 1] = hi; return true;
    case CSR.mcause: w[MCAUSE] = lo; w[MCAUSE + 1] = hi; return true;
    case CSR.mtval: w[MTVAL] = lo; w[MTVAL + 1] = hi; return true;
    case CSR.mip: {
      let m = MIP_SSIP | MIP_SEIP;
      if ((w[MENVCFG + 1] & MENVCFG_HI_STCE) === 0) m |= MIP_STIP;
      h.writeMipSoftware(lo, m);
      return true;
    }
    case CSR.mtinst: case CSR.mtval2: return true;
    case CSR_TSELECT: case CSR_TDATA1: case CSR_TDATA2: case CSR_TDATA3: case CSR_TINFO:
      if (h.triggers.write(csr, lo, hi)) h.triggersChanged();
      return true;
    case CSR.mcycle: case CSR.minstret:
      h.setInstret((hi >>> 0) * TWO32 + (lo >>> 0));
      return true;
  }
  if (csr >= CSR.mhpmcounter3 && csr <= CSR.mhpmcounter31) return true;
  if (csr >= CSR.mhpmevent3 && csr <= CSR.mhpmevent31) return true;
  if (csr >= CSR.pmpcfg0 && csr <= CSR.pmpcfg15) {
    const n = csr - CSR.pmpcfg0;
    if ((n & 1) !== 0) return false;
    if (n < 4) writePmpcfg(w, PMPCFG + n, lo, hi);
    h.pmpChanged();
    return true;
  }
  if (csr >= CSR.pmpaddr0 && csr <= CSR.pmpaddr63) {
    const n = csr - CSR.pmpaddr0;
    if (n < 16 && !pmpLocked(w, n)) {
      w[PMPADDR + 2 * n] = lo;
      w[PMPADDR + 2 * n + 1] = hi & 0x3fffff; // 54 bits: physical address bits 55:2
    }
    h.pmpChanged();
    return true;
  }
  return false;
}

function pmpLocked(w: Int32Array, n: number): boolean {
  const word = PMPCFG + (n >= 8 ? 2 : 0) + ((n & 7) >= 4 ? 1 : 0);
  return ((w[word] >>> ((n & 3) * 8)) & 0x80) !== 0;
}

/** pmpcfg is WARL: locked entries keep their byte; R=0,W=1 is reserved and reads back as 0. */
function writePmpcfg(w: Int32Array, index: number, lo: number, hi: number): void {
  const halves = [lo, hi];
  for (let half = 0; half < 2; half++) {
    let out = 0;
    for (let b = 0; b < 4; b++) {
      const old = (w[index + half] >>> (b * 8)) & 0xff;
      let v = (halves[half] >>> (b * 8)) & 0x9f;
      if ((old & 0x80) !== 0) v = old;
      else if ((v & 3) === 2) v &= ~3;
      out |= v << (b * 8);
    }
    w[index + half] = out;
  }
}

