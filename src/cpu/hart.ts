/**
 * One RV64GC hart (+ Zba/Zbb/Zbs, Sstc): the interpreter.
 *
 * State lives in the VM memory (HartState); 64-bit registers are int32 pairs.
 * executeBatch's inner loop runs predecoded instructions (decode.ts, kept in
 * decode-cache.ts) from a one-page fetch cache and reaches RAM through the
 * software TLB in one addition, with no call for the common instructions.
 * Everything else (CSRs, traps, page walks, MMIO, misaligned accesses) leaves
 * it for stepSlow, which executes one instruction of any kind. Exceptions are
 * reported by setting `exc` (+ tval) and raised by the loop; interrupts are
 * checked between batches, and a batch ends early when something may have
 * enabled one. docs/cpu.md explains the design and what was measured.
 */
import type { Bus } from "../machine/bus.ts";
import type { Clock } from "../machine/device.ts";
import { compressedTable } from "./compressed.ts";
import { TRIGGER_LOAD, TRIGGER_STORE, Triggers } from "./triggers.ts";
import { ENTRY_WORDS, type DecodeCache } from "./decode-cache.ts";
import { COMPRESSED, decodeInto, Op, REG_MASK, SHIFT_RD, SHIFT_RS1, SHIFT_RS2 } from "./decode.ts";
import { csrRead, csrWrite } from "./csr.ts";
import {
  EXC_BREAKPOINT, EXC_ECALL_U, EXC_ILLEGAL, EXC_INSN_ACCESS, EXC_LOAD_ACCESS, EXC_LOAD_MISALIGNED,
  EXC_STORE_ACCESS, EXC_STORE_MISALIGNED, MENVCFG_HI_STCE, MIP_SEIP, MIP_STIP, MS_FS, MS_MIE,
  MS_MPIE, MS_MPP, MS_MPRV, MS_SIE, MS_SPIE, MS_SPP, MS_SUM, MS_TSR, MS_TVM, MS_TW,
} from "./csr-numbers.ts";
import { executeFp } from "./fpu/execute-fp.ts";
import {
  F, HartState, MCAUSE, MENVCFG, MEPC, MIDELEG, MEDELEG, MIE, MINSTRET, MIP, MSTATUS, MTVAL, MTVEC, PC, PRIV,
  PRIV_M, PRIV_S, PRIV_U, RES_ADDR, RES_VALID, RES_VALUE, SAVED_WORDS, SCAUSE, SCRATCH, SEIP_LINES, SEPC, STIMECMP,
  STVAL, STVEC, TIMER_CHECK, WFI,
} from "./hart-state.ts";
import {
  add64, addImm64, bswap32, clz64, ctz32, ctz64, hi64, ltSigned64, ltUnsigned64, orcb32,
  popcount32, rol64, ror64, sll64, sra64, srl64, sub64,
} from "./int64.ts";
import { HART_STATE_SIZE, RAM_BASE, RAM_OFFSET, TLB_BYTES, TLB_ENTRIES, TLB_ENTRY_WORDS, tlbOffset } from "./layout.ts";
import {
  ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, flushTlb, flushTlbAddress, flushTlbNonGlobal, MMU_M, MMU_S, MMU_S_SUM, TLB_INDEX_WORDS,
  tlbFetchEntryIndex, translate,
} from "./mmu.ts";
import { createMulDiv, type MulDiv } from "./mul-div.ts";
import { pmpDecode } from "./pmp.ts";
import { primeInterpreter } from "./primer.ts";
import { jitConfig } from "../jit/config.ts";
import { jitFor, type Jit } from "../jit/jit.ts";
import { EXIT_STEP } from "../jit/translate.ts";
import type { Saveable } from "../machine/device.ts";
import { badState } from "../machine/timer.ts";

/** A hart's saved state: its state words (hart-state.ts) and its extensions' states by name. */
export interface HartSnapshot {
  v: 1;
  words: number[];
  ext: Record<string, unknown>;
}

/**
 * Called for every synchronous exception before it is taken architecturally.
 * `cause` is the mcause exception code, `tval` what would go to xtval (as an
 * unsigned number). Return true when the host handled it (the handler updates
 * pc and registers itself, e.g. pc += 4 after an ecall); false to take the trap
 * into the guest as usual. Used by the built-in SBI firmware (ecall from S)
 * and by the process VM (every trap from U). `state.w[PC]` holds the pc of
 * the trapping instruction when it is called.
 */
export type HostTrapHandler = (hart: Hart, cause: number, tval: number) => boolean;

/** mip bits devices drive. */
export const IRQ_SSIP = 1 << 1;
export const IRQ_MSIP = 1 << 3;
export const IRQ_STIP = 1 << 5;
export const IRQ_MTIP = 1 << 7;
export const IRQ_SEIP = 1 << 9;
export const IRQ_MEIP = 1 << 11;

// executeBatch spells these layouts as literals (module constants would be
// loaded from the module context on every use in the loop).
if (TLB_ENTRIES !== 1024 || TLB_ENTRY_WORDS !== 8) throw new Error("executeBatch hard-codes a TLB of 1024 entries of 8 words");
if (ENTRY_WORDS !== 4 || SHIFT_RD !== 8 || SHIFT_RS1 !== 15 || SHIFT_RS2 !== 22 || REG_MASK !== 127 || COMPRESSED !== 1 << 29) {
  throw new Error("executeBatch hard-codes the decode-cache entry layout");
}

/** Instructions per batch: interrupts are checked between batches. */
const BATCH = 1024;
/**
 * Instructions between reads of the clock for the Sstc timer: batches often
 * end early (CSR writes, xRET), and reading the host clock costs more than a
 * short batch.
 */
const TIMER_CHECK_INTERVAL = 1024;
const TWO32 = 0x100000000;
/** Interrupt causes from highest to lowest priority. */
const INTERRUPT_PRIORITY = [11, 3, 7, 9, 1, 5, 13];

export class Hart {
  readonly state: HartState;
  /** The hart's state words (x registers first: x[i] = w[2i], w[2i+1]). */
  readonly w: Int32Array;
  readonly tlb: Int32Array;
  /** Word index of `tlb` in the VM memory (executeBatch reads the TLB through m32). */
  private readonly tlbWords: number;
  hostTrap: HostTrapHandler | null = null;
  /** The debug triggers (tselect/tdata*): state, matching, save()/restore(). */
  readonly triggers = new Triggers();

  // Pending exception of the current instruction (-1 = none).
  exc = -1;
  excTvalLo = 0;
  excTvalHi = 0;
  // Result of the last csrRead.
  csrLo = 0;
  csrHi = 0;
  /** Some PMP entry is configured (see pmp.ts). */
  pmpActive = false;
  /** High word of the last 64-bit load. */
  private rhi = 0;
  // Redirected next pc from a system instruction (mret/sret).
  private nextLo = 0;
  private nextHi = 0;

  private readonly m8: Uint8Array;
  private readonly m16: Uint16Array;
  private readonly m32: Int32Array;
  private readonly ctab: Int32Array;
  private readonly dcache: DecodeCache;
  /** The VM's JIT (src/jit), or null when it is off (TYPEVISOR_JIT). */
  readonly jit: Jit | null;
  private readonly md: MulDiv;
  /** Byte addresses of the mul/div operand slots in the scratch area. */
  private readonly mdA: number;
  private readonly mdB: number;
  private readonly mdD: number;
  private readonly mdDw: number;

  private fetchMmu = MMU_M;
  private dataMmu = MMU_M;
  private dataTlb = MMU_M * TLB_INDEX_WORDS;
  // One-page fetch cache: virtual page tag and addend (like a TLB entry).
  private fetchTagLo = 1;
  private fetchTagHi = 0;
  private fetchAddend = 0;
  /** Decode-cache entry (word index) of the fetch page's offset 0. */
  private fetchDec = 0;

  // Everything else the hart is lives in its state words (MINSTRET,
  // TIMER_CHECK, SEIP_LINES, RES_*), so save() is a copy of them.
  private batchDone = 0;
  private batchEnd = false;
  private stopRequested = false;
  /**
   * Per-hart state kept outside the words by optional modules (e.g. debug
   * triggers): saved and restored with the hart under their name.
   */
  readonly extensions = new Map<string, Saveable<unknown>>();

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly hartId: number,
    readonly bus: Bus,
    readonly clock: Clock,
  ) {
    primeInterpreter((m, b) => new Hart(m, 0, b, clock));
    this.state = new HartState(memory, hartId);
    this.w = this.state.w;
    this.tlb = new Int32Array(memory.buffer, tlbOffset(hartId), TLB_BYTES / 4);
    this.tlbWords = tlbOffset(hartId) >> 2;
    this.m8 = new Uint8Array(memory.buffer);
    this.m16 = new Uint16Array(memory.buffer);
    this.m32 = new Int32Array(memory.buffer);
    this.ctab = compressedTable();
    this.dcache = bus.code;
    this.dcache.attach(this);
    this.md = createMulDiv(memory);
    const jit = jitConfig();
    this.jit = jit.mode === "off" ? null : jitFor(memory, this.dcache, jit.threshold);
    this.jit?.attach(this.state.base, this);
    const scratch = this.state.base + SCRATCH * 4;
    this.mdA = scratch;
    this.mdB = scratch + 8;
    this.mdD = scratch + 16;
    this.mdDw = (scratch + 16) >> 2;
    this.extensions.set("triggers", this.triggers);
    this.reset(RAM_BASE);
  }

  /** Resets to the power-on state: M-mode, pc = `pc`, everything else zero. */
  reset(pc: number): void {
    this.w.fill(0, 0, HART_STATE_SIZE / 4);
    this.w[PRIV] = PRIV_M;
    this.state.setPc(pc);
    this.triggers.reset();
    this.exc = -1;
    this.w[TIMER_CHECK] = TIMER_CHECK_INTERVAL;
    this.pmpActive = pmpDecode(this.w);
    this.translationChanged();
  }

  /** Everything the hart is, as plain data (between run() calls). */
  save(): HartSnapshot {
    const ext: Record<string, unknown> = {};
    for (const [name, module] of this.extensions) ext[name] = module.save();
    return { v: 1, words: Array.from(this.w.subarray(0, SAVED_WORDS)), ext };
  }

  /** Becomes the saved hart: registers, CSRs, counters, reservation; caches are rebuilt. */
  restore(state: HartSnapshot): void {
    const ok =
      state?.v === 1 &&
      Array.isArray(state.words) &&
      state.words.length === SAVED_WORDS &&
      state.words.every((x) => Number.isInteger(x) && x >= -0x80000000 && x <= 0xffffffff) &&
      typeof state.ext === "object" && state.ext !== null;
    if (!ok) throw badState(`hart ${this.hartId}`, state);
    this.w.fill(0, 0, HART_STATE_SIZE / 4);
    for (let i = 0; i < SAVED_WORDS; i++) this.w[i] = state.words[i];
    // An extension the snapshot does not know keeps the state it has (a machine built to restore into: its reset state).
    for (const [name, module] of this.extensions) if (name in state.ext) module.restore(state.ext[name]);
    this.exc = -1;
    this.batchDone = 0;
    this.pmpActive = pmpDecode(this.w);
    this.translationChanged();
  }

  /**
   * Executes up to `budget` instructions (trapping ones included, so an
   * exception storm still returns) and returns how many it ran. Returns
   * early when the hart executes WFI with nothing pending (`waiting` is then
   * true), or after `requestStop()`.
   */
  run(budget: number): number {
    this.stopRequested = false;
    let done = 0;
    const w = this.w;
    while (done < budget && !this.stopRequested) {
      if (w[TIMER_CHECK] >= TIMER_CHECK_INTERVAL) {
        this.updateTimerInterrupt();
        w[TIMER_CHECK] = 0;
      }
      this.checkInterrupts();
      if (w[WFI] !== 0) break;
      const n = this.executeBatch(Math.min(budget - done, BATCH));
      done += n;
      w[TIMER_CHECK] += n;
    }
    return done;
  }

  /** True while the hart is stopped in WFI. */
  get waiting(): boolean {
    if (this.w[WFI] === 0) return false;
    this.updateTimerInterrupt();
    if ((this.w[MIP] & this.w[MIE]) !== 0) this.w[WFI] = 0;
    return this.w[WFI] !== 0;
  }

  /** Raises or lowers bits of mip (IRQ_* masks) from a device. Wakes a waiting hart. */
  setPending(mask: number, level: boolean): void {
    const w = this.w;
    if ((mask & MIP_SEIP) !== 0) {
      w[SEIP_LINES] = level ? w[SEIP_LINES] | 1 : w[SEIP_LINES] & ~1;
      mask &= ~MIP_SEIP;
    }
    w[MIP] = level ? w[MIP] | mask : w[MIP] & ~mask;
    this.refreshSeip();
    if ((w[MIP] & w[MIE]) !== 0) w[WFI] = 0;
    this.batchEnd = true;
  }

  /** Makes `run` return at the next instruction-batch boundary. */
  requestStop(): void {
    this.stopRequested = true;
    this.batchEnd = true;
  }

  /** Drops every cached translation (after the host edits page tables). */
  flushTlb(): void {
    this.translationChanged();
  }

  /** Instructions retired so far (also mcycle). */
  instretNow(): number {
    return this.state.getXSAt(MINSTRET) + this.batchDone;
  }

  setInstret(value: number): void {
    this.state.setPairNumber(MINSTRET, value - this.batchDone - 1);
  }

  /** The earliest mtime at which this hart's Sstc timer fires, or Infinity. */
  timerDeadline(): number {
    const w = this.w;
    if ((w[MENVCFG + 1] & MENVCFG_HI_STCE) === 0) return Infinity;
    return (w[STIMECMP + 1] >>> 0) * TWO32 + (w[STIMECMP] >>> 0);
  }

  /**
   * Reads 8 bytes at virtual address `va` as the current data privilege sees
   * it, or null if it does not translate (cold path: firmware, debugging).
   */
  readVirtual64(va: number): number | null {
    const pa = translate(this, va % TWO32 | 0, Math.floor(va / TWO32) | 0, ACCESS_READ, this.dataMmu);
    this.exc = -1;
    if (pa < 0) return null;
    const lo = this.bus.read(pa, 8);
    if (this.bus.fault) return null;
    return (this.bus.hi >>> 0) * TWO32 + (lo >>> 0);
  }

  // ---- called by csr.ts ----

  pmpChanged(): void {
    this.pmpActive = pmpDecode(this.w);
    this.translationChanged();
  }

  readMip(): number {
    return this.w[MIP];
  }

  writeMipSoftware(value: number, mask: number): void {
    const w = this.w;
    if ((mask & MIP_SEIP) !== 0) w[SEIP_LINES] = (value & MIP_SEIP) !== 0 ? w[SEIP_LINES] | 2 : w[SEIP_LINES] & ~2;
    const m = mask & ~MIP_SEIP;
    w[MIP] = (w[MIP] & ~m) | (value & m);
    this.refreshSeip();
    this.batchEnd = true;
  }

  markFpDirty(): void {
    this.w[MSTATUS] |= MS_FS;
  }

  /** stimecmp or menvcfg.STCE changed: compare with the clock before the next batch. */
  timerChanged(): void {
    this.w[TIMER_CHECK] = TIMER_CHECK_INTERVAL;
    this.batchEnd = true;
  }

  /** Ends the current batch after this instruction (interrupts may now be enabled). */
  endBatch(): void {
    this.batchEnd = true;
  }

  /** satp's mode or MXR changed (or the host edited page tables): drop cached translations. */
  translationChanged(): void {
    flushTlb(this.tlb);
    this.privChanged();
  }

  /**
   * What the triggers watch changed: drop the fetch page and the TLB, so
   * watched pages are left out of the fast paths from now on (triggers.ts).
   */
  triggersChanged(): void {
    this.translationChanged();
    this.batchEnd = true;
  }

  /** satp now names another address space (same mode): drop all but global translations. */
  addressSpaceChanged(): void {
    flushTlbNonGlobal(this.tlb);
    this.privChanged();
  }

  private refreshSeip(): void {
    const w = this.w;
    w[MIP] = w[SEIP_LINES] !== 0 ? w[MIP] | MIP_SEIP : w[MIP] & ~MIP_SEIP;
  }

  /**
   * The privilege, MPRV, MPP or SUM changed: pick the fetch and data MMU
   * indexes again (no flush: each index has its own TLB).
   */
  privChanged(): void {
    const w = this.w;
    const priv = w[PRIV];
    const idx = priv === PRIV_M ? MMU_M : priv;
    this.fetchMmu = idx;
    const ms = w[MSTATUS];
    const dataPriv = priv === PRIV_M && (ms & MS_MPRV) !== 0 ? (ms & MS_MPP) >>> 11 : priv;
    let d = dataPriv === PRIV_M ? MMU_M : dataPriv;
    if (d === MMU_S && (ms & MS_SUM) !== 0) d = MMU_S_SUM;
    this.dataMmu = d;
    this.dataTlb = d * TLB_INDEX_WORDS;
    this.fetchTagLo = 1;
  }

  private updateTimerInterrupt(): void {
    const w = this.w;
    if ((w[MENVCFG + 1] & MENVCFG_HI_STCE) === 0) return;
    const cmp = (w[STIMECMP + 1] >>> 0) * TWO32 + (w[STIMECMP] >>> 0);
    w[MIP] = this.clock.now() >= cmp ? w[MIP] | MIP_STIP : w[MIP] & ~MIP_STIP;
  }

  /** Takes the highest-priority enabled interrupt, if any. */
  private checkInterrupts(): void {
    const w = this.w;
    const pending = w[MIP] & w[MIE];
    if (pending === 0) return;
    w[WFI] = 0;
    const priv = w[PRIV];
    const ms = w[MSTATUS];
    let take = 0;
    const mLevel = pending & ~w[MIDELEG];
    if (mLevel !== 0 && (priv < PRIV_M || (ms & MS_MIE) !== 0)) {
      take = mLevel;
    } else {
      const sLevel = pending & w[MIDELEG];
      if (sLevel !== 0 && (priv < PRIV_S || (priv === PRIV_S && (ms & MS_SIE) !== 0))) take = sLevel;
    }
    if (take === 0) return;
    for (let i = 0; i < INTERRUPT_PRIORITY.length; i++) {
      const cause = INTERRUPT_PRIORITY[i];
      if ((take & (1 << cause)) !== 0) {
        this.enterTrap(cause, true, w[PC], w[PC + 1], 0, 0);
        return;
      }
    }
  }

  /** Raises the pending exception `exc` of the instruction at pc. */
  private raise(pcLo: number, pcHi: number): void {
    const cause = this.exc;
    this.exc = -1;
    const w = this.w;
    if (this.hostTrap !== null) {
      w[PC] = pcLo;
      w[PC + 1] = pcHi;
      const tval = (this.excTvalHi >>> 0) * TWO32 + (this.excTvalLo >>> 0);
      if (this.hostTrap(this, cause, tval)) {
        this.privChanged();
        return;
      }
    }
    this.enterTrap(cause, false, pcLo, pcHi, this.excTvalLo, this.excTvalHi);
  }

  private enterTrap(cause: number, interrupt: boolean, epcLo: number, epcHi: number, tvalLo: number, tvalHi: number): void {
    const w = this.w;
    const priv = w[PRIV];
    const deleg = priv <= PRIV_S && (((interrupt ? w[MIDELEG] : w[MEDELEG]) >>> cause) & 1) !== 0;
    const ms = w[MSTATUS];
    let tvec: number;
    if (deleg) {
      w[SCAUSE] = cause;
      w[SCAUSE + 1] = interrupt ? 0x80000000 | 0 : 0;
      w[SEPC] = epcLo;
      w[SEPC + 1] = epcHi;
      w[STVAL] = tvalLo;
      w[STVAL + 1] = tvalHi;
      w[MSTATUS] = (ms & ~(MS_SPIE | MS_SPP | MS_SIE)) | ((ms & MS_SIE) !== 0 ? MS_SPIE : 0) | (priv === PRIV_S ? MS_SPP : 0);
      w[PRIV] = PRIV_S;
      tvec = STVEC;
    } else {
      w[MCAUSE] = cause;
      w[MCAUSE + 1] = interrupt ? 0x80000000 | 0 : 0;
      w[MEPC] = epcLo;
      w[MEPC + 1] = epcHi;
      w[MTVAL] = tvalLo;
      w[MTVAL + 1] = tvalHi;
      w[MSTATUS] = (ms & ~(MS_MPIE | MS_MPP | MS_MIE)) | ((ms & MS_MIE) !== 0 ? MS_MPIE : 0) | (priv << 11);
      w[PRIV] = PRIV_M;
      tvec = MTVEC;
    }
    const base = w[tvec] & ~3;
    if (interrupt && (w[tvec] & 3) === 1) {
      w[PC] = addImm64(base, w[tvec + 1], cause * 4);
      w[PC + 1] = hi64.v;
    } else {
      w[PC] = base;
      w[PC + 1] = w[tvec + 1];
    }
    w[WFI] = 0;
    w[RES_VALID] = 0;
    this.privChanged();
  }

  private illegal(raw: number): void {
    this.exc = EXC_ILLEGAL;
    this.excTvalLo = raw;
    this.excTvalHi = 0;
  }

  // ---------------------------------------------------------------------------
  // The interpreter loop.

  /**
   * Runs up to `limit` instructions. The inner loop executes predecoded
   * instructions (decode.ts) from the decode cache: the integer ALU, branches
   * and jumps, loads and stores that hit the TLB, and FP arithmetic.
   * Everything else (and every miss: fetch page, TLB, MMIO, misalignment)
   * leaves it for `stepSlow`, which executes one instruction of any kind;
   * then the cached state (fetch page, data TLB, FS) is read again.
   */
  private executeBatch(limit: number): number {
    limit |= 0;
    const w = this.w;
    const m8 = this.m8;
    const m16 = this.m16;
    const m32 = this.m32;
    const dc = m32; // the decode cache is in the VM memory too
    let left = limit;
    let traps = 0;
    this.batchEnd = false;
    this.batchDone = 0;
    const jit = this.jit;
    // After the JIT stops at an instruction it does not translate, the inner
    // loop runs just that one: `left` is 1 and `held` the rest of the budget.
    let stepping = false;
    let held = 0;
    outer: while (left + held > 0) {
      if (stepping) {
        stepping = false;
        left += held;
        held = 0;
      }
      // The inner loop keeps pcHi fixed: a jump that changes it ends the
      // inner loop. `| 0`: fields are untyped to V8; this keeps them int32.
      let pcLo = w[PC];
      const pcHi = w[PC + 1];
      // The data TLB as a word index into m32 (the TLB is in the VM memory).
      const dTlb = (this.tlbWords + this.dataTlb) | 0;
      // The fetch page: its virtual address, the memory byte offset of its
      // start, its decode-cache entries. It must be pc's page with the same
      // pcHi, and not the last page below a 4 GiB boundary (pc + 4 would carry
      // into pcHi there): else the instruction takes the slow path.
      const fPage = this.fetchTagLo | 0;
      const fHost = (fPage + this.fetchAddend) | 0;
      const fDec = this.fetchDec | 0;
      // Set when the inner loop leaves for a call the outer loop makes before
      // going back in: 1 = decode the entry at pc, 2 = the operation at pc.
      let call = 0;
      if (jit !== null && this.fetchTagHi === pcHi && fPage !== -4096) {
        const n = jit.run(w, fDec, fHost, (pcLo - fPage) | 0, left, this.state.base, (this.tlbWords + this.dataTlb) << 2);
        if (n >= 0) {
          left -= n;
          if (jit.exit !== EXIT_STEP) continue;
          pcLo = w[PC];
          held = left - 1;
          left = 1;
          stepping = true;
        }
      }
      const leftIn = left;
      if (this.fetchTagHi === pcHi && fPage !== -4096) fast: while (left > 0) {
        const off = (pcLo - fPage) | 0;
        // Leaves at a page change, and at offset 0xffe (an instruction there
        // may cross into the next page).
        if ((off >>> 0) >= 0xffe) break;
        // The entry needs no check against memory: a write to a page takes
        // its entries away (decode-cache.ts).
        const k = (fDec + (off << 1)) | 0; // ENTRY_WORDS / 2 per byte
        const word = dc[k + 1];
        const imm = dc[k + 2];
        const d = (word >>> 8) & 127; // SHIFT_RD, REG_MASK
        const a = (word >>> 15) & 127; // SHIFT_RS1
        const b = (word >>> 22) & 127; // SHIFT_RS2
        const nLo = (pcLo + 4 - ((word >>> 28) & 2)) | 0; // COMPRESSED: length 2
        // x0 stays zero: no operation here writes rd = x0 (the decoder turns them into NOP or SLOW).
        switch (word & 0xff) {
          case Op.SLOW:
            break fast;
          case Op.NOP:
            break;
          case Op.LI:
            w[d] = imm;
            w[d + 1] = imm >> 31;
            break;
          case Op.MV:
            w[d] = w[a];
            w[d + 1] = w[a + 1];
            break;
          case Op.ADDI: {
            const aLo = w[a];
            const lo = (aLo + imm) | 0;
            w[d + 1] = (w[a + 1] + (imm >> 31) + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            w[d] = lo;
            break;
          }
          case Op.SLTI: {
            const aHi = w[a + 1];
            w[d] = aHi < imm >> 31 || (aHi === imm >> 31 && (w[a] >>> 0) < (imm >>> 0)) ? 1 : 0;
            w[d + 1] = 0;
            break;
          }
          case Op.SLTIU: {
            const aHi = w[a + 1];
            w[d] = (aHi >>> 0) < (imm >> 31) >>> 0 || (aHi === imm >> 31 && (w[a] >>> 0) < (imm >>> 0)) ? 1 : 0;
            w[d + 1] = 0;
            break;
          }
          case Op.XORI:
            w[d] = w[a] ^ imm;
            w[d + 1] = w[a + 1] ^ (imm >> 31);
            break;
          case Op.ORI:
            w[d] = w[a] | imm;
            w[d + 1] = w[a + 1] | (imm >> 31);
            break;
          case Op.ANDI:
            w[d] = w[a] & imm;
            w[d + 1] = w[a + 1] & (imm >> 31);
            break;
          case Op.SLLI: {
            const aLo = w[a];
            if (imm < 32) {
              w[d + 1] = (w[a + 1] << imm) | ((aLo >>> 1) >>> (31 - imm));
              w[d] = aLo << imm;
            } else {
              w[d + 1] = aLo << imm; // shift counts are taken mod 32
              w[d] = 0;
            }
            break;
          }
          case Op.SRLI: {
            const aHi = w[a + 1];
            if (imm < 32) {
              w[d] = (w[a] >>> imm) | ((aHi << 1) << (31 - imm));
              w[d + 1] = aHi >>> imm;
            } else {
              w[d] = aHi >>> imm;
              w[d + 1] = 0;
            }
            break;
          }
          case Op.SRAI: {
            const aHi = w[a + 1];
            if (imm < 32) {
              w[d] = (w[a] >>> imm) | ((aHi << 1) << (31 - imm));
              w[d + 1] = aHi >> imm;
            } else {
              w[d] = aHi >> imm;
              w[d + 1] = aHi >> 31;
            }
            break;
          }
          case Op.ADDIW: {
            const r = (w[a] + imm) | 0;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SLLIW: {
            const r = w[a] << imm;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SRLIW: {
            const r = (w[a] >>> imm) | 0;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SRAIW: {
            const r = w[a] >> imm;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.AUIPC: {
            const lo = (pcLo + imm) | 0;
            w[d] = lo;
            w[d + 1] = (pcHi + (imm >> 31) + ((lo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            break;
          }
          case Op.ADD: {
            const aLo = w[a];
            const lo = (aLo + w[b]) | 0;
            w[d + 1] = (w[a + 1] + w[b + 1] + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            w[d] = lo;
            break;
          }
          case Op.SUB: {
            const aLo = w[a], bLo = w[b];
            w[d + 1] = (w[a + 1] - w[b + 1] - ((aLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
            w[d] = (aLo - bLo) | 0;
            break;
          }
          case Op.SLL: {
            const s = w[b] & 63;
            const aLo = w[a];
            if (s < 32) {
              w[d + 1] = (w[a + 1] << s) | ((aLo >>> 1) >>> (31 - s));
              w[d] = aLo << s;
            } else {
              w[d + 1] = aLo << s;
              w[d] = 0;
            }
            break;
          }
          case Op.SLT: {
            const aHi = w[a + 1], bHi = w[b + 1];
            w[d] = aHi < bHi || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0)) ? 1 : 0;
            w[d + 1] = 0;
            break;
          }
          case Op.SLTU: {
            const aHi = w[a + 1], bHi = w[b + 1];
            w[d] = (aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0)) ? 1 : 0;
            w[d + 1] = 0;
            break;
          }
          case Op.XOR:
            w[d] = w[a] ^ w[b];
            w[d + 1] = w[a + 1] ^ w[b + 1];
            break;
          case Op.SRL: {
            const s = w[b] & 63;
            const aHi = w[a + 1];
            if (s < 32) {
              w[d] = (w[a] >>> s) | ((aHi << 1) << (31 - s));
              w[d + 1] = aHi >>> s;
            } else {
              w[d] = aHi >>> s;
              w[d + 1] = 0;
            }
            break;
          }
          case Op.SRA: {
            const s = w[b] & 63;
            const aHi = w[a + 1];
            if (s < 32) {
              w[d] = (w[a] >>> s) | ((aHi << 1) << (31 - s));
              w[d + 1] = aHi >> s;
            } else {
              w[d] = aHi >> s;
              w[d + 1] = aHi >> 31;
            }
            break;
          }
          case Op.OR:
            w[d] = w[a] | w[b];
            w[d + 1] = w[a + 1] | w[b + 1];
            break;
          case Op.AND:
            w[d] = w[a] & w[b];
            w[d + 1] = w[a + 1] & w[b + 1];
            break;
          case Op.ADDW: {
            const r = (w[a] + w[b]) | 0;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SUBW: {
            const r = (w[a] - w[b]) | 0;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SLLW: {
            const r = w[a] << w[b]; // shift counts are taken mod 32
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SRLW: {
            const r = (w[a] >>> w[b]) | 0;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SRAW: {
            const r = w[a] >> w[b];
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.MULW: {
            const r = Math.imul(w[a], w[b]);
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.MUL: {
            // The low 64 bits of the product: aLo * bLo in full (16-bit
            // pieces, all int32 arithmetic), plus the cross terms' low words.
            const aLo = w[a], bLo = w[b];
            const a0 = aLo & 0xffff, a1 = aLo >>> 16, b0 = bLo & 0xffff, b1 = bLo >>> 16;
            const p00 = Math.imul(a0, b0), p01 = Math.imul(a0, b1), p10 = Math.imul(a1, b0);
            const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
            const carry = (Math.imul(a1, b1) + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
            w[d + 1] = (carry + Math.imul(aLo, w[b + 1]) + Math.imul(w[a + 1], bLo)) | 0;
            w[d] = Math.imul(aLo, bLo);
            break;
          }
          case Op.SH1ADD: case Op.SH2ADD: case Op.SH3ADD: {
            const n = (word & 0xff) - (Op.SH1ADD - 1);
            const aLo = w[a];
            const sLo = aLo << n;
            const sHi = (w[a + 1] << n) | (aLo >>> (32 - n));
            const lo = (sLo + w[b]) | 0;
            w[d + 1] = (sHi + w[b + 1] + ((lo >>> 0) < (sLo >>> 0) ? 1 : 0)) | 0;
            w[d] = lo;
            break;
          }
          case Op.ADD_UW: {
            const aLo = w[a];
            const lo = (aLo + w[b]) | 0;
            w[d + 1] = (w[b + 1] + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            w[d] = lo;
            break;
          }
          case Op.ANDN:
            w[d] = w[a] & ~w[b];
            w[d + 1] = w[a + 1] & ~w[b + 1];
            break;
          case Op.ORN:
            w[d] = w[a] | ~w[b];
            w[d + 1] = w[a + 1] | ~w[b + 1];
            break;
          case Op.XNOR:
            w[d] = ~(w[a] ^ w[b]);
            w[d + 1] = ~(w[a + 1] ^ w[b + 1]);
            break;
          case Op.MIN: case Op.MAX: {
            const aHi = w[a + 1], bHi = w[b + 1];
            const aLess = aHi < bHi || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0));
            const s = aLess === ((word & 0xff) === Op.MIN) ? a : b;
            w[d] = w[s];
            w[d + 1] = w[s + 1];
            break;
          }
          case Op.MINU: case Op.MAXU: {
            const aHi = w[a + 1], bHi = w[b + 1];
            const aLess = (aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0));
            const s = aLess === ((word & 0xff) === Op.MINU) ? a : b;
            w[d] = w[s];
            w[d + 1] = w[s + 1];
            break;
          }
          case Op.SEXT_B: {
            const r = (w[a] << 24) >> 24;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.SEXT_H: {
            const r = (w[a] << 16) >> 16;
            w[d] = r;
            w[d + 1] = r >> 31;
            break;
          }
          case Op.ZEXT_H:
            w[d] = w[a] & 0xffff;
            w[d + 1] = 0;
            break;
          case Op.JAL: case Op.J: {
            if ((word & 0xff) === Op.JAL) {
              w[d] = nLo;
              w[d + 1] = pcHi;
            }
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          case Op.JALR: case Op.JR: {
            const aLo = w[a];
            const tLo = (aLo + imm) | 0;
            const tHi = (w[a + 1] + (imm >> 31) + ((tLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            if ((word & 0xff) === Op.JALR) {
              w[d] = nLo;
              w[d + 1] = pcHi;
            }
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo & ~1;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo & ~1;
            continue;
          }
          // Branches: each case tests for "not taken" (break: next instruction).
          case Op.BEQ: {
            const aHi = w[a + 1], bHi = w[b + 1];
            if (w[a] !== w[b] || aHi !== bHi) break;
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          case Op.BNE: {
            const aHi = w[a + 1], bHi = w[b + 1];
            if (w[a] === w[b] && aHi === bHi) break;
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          case Op.BLT: {
            const aHi = w[a + 1], bHi = w[b + 1];
            if (!(aHi < bHi || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0)))) break;
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          case Op.BGE: {
            const aHi = w[a + 1], bHi = w[b + 1];
            if (aHi < bHi || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0))) break;
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          case Op.BLTU: {
            const aHi = w[a + 1], bHi = w[b + 1];
            if (!((aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0)))) break;
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          case Op.BGEU: {
            const aHi = w[a + 1], bHi = w[b + 1];
            if ((aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (w[a] >>> 0) < (w[b] >>> 0))) break;
            const tLo = (pcLo + imm) | 0;
            const tHi = (pcHi + (imm >> 31) + ((tLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            left--;
            if (tHi !== pcHi) {
              w[PC] = tLo;
              w[PC + 1] = tHi;
              continue outer;
            }
            pcLo = tLo;
            continue;
          }
          // Loads and stores: the TLB entry is (vLo >>> 12) & 1023, 8 words each
          // (read tag at +0/+1, write tag at +2/+3, addend at +6). The tag compare
          // includes the address bits that must be zero for alignment (mask
          // -4096 | size - 1), so a misaligned access misses too. A miss leaves.
          case Op.LB: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4096) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const v = (m8[off >>> 0] << 24) >> 24;
            w[d] = v;
            w[d + 1] = v >> 31;
            break;
          }
          case Op.LH: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4095) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const v = (m16[off >>> 1] << 16) >> 16;
            w[d] = v;
            w[d + 1] = v >> 31;
            break;
          }
          case Op.LW: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4093) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const v = m32[off >>> 2];
            w[d] = v;
            w[d + 1] = v >> 31;
            break;
          }
          case Op.LD: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4089) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const x = off >>> 2;
            w[d] = m32[x];
            w[d + 1] = m32[x + 1];
            break;
          }
          case Op.LBU: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4096) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            w[d] = m8[off >>> 0];
            w[d + 1] = 0;
            break;
          }
          case Op.LHU: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4095) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            w[d] = m16[off >>> 1];
            w[d + 1] = 0;
            break;
          }
          case Op.LWU: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e] !== (vLo & -4093) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            w[d] = m32[off >>> 2];
            w[d + 1] = 0;
            break;
          }
          case Op.FLW: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if ((w[MSTATUS] & MS_FS) === 0 || m32[e] !== (vLo & -4093) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            w[d] = m32[off >>> 2];
            w[d + 1] = -1; // NaN-boxed
            w[MSTATUS] |= MS_FS;
            break;
          }
          case Op.FLD: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if ((w[MSTATUS] & MS_FS) === 0 || m32[e] !== (vLo & -4089) || m32[e + 1] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const x = off >>> 2;
            w[d] = m32[x];
            w[d + 1] = m32[x + 1];
            w[MSTATUS] |= MS_FS;
            break;
          }
          case Op.SB: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e + 2] !== (vLo & -4096) || m32[e + 3] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            m8[off >>> 0] = w[b];
            break;
          }
          case Op.SH: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e + 2] !== (vLo & -4095) || m32[e + 3] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            m16[off >>> 1] = w[b];
            break;
          }
          case Op.SW: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e + 2] !== (vLo & -4093) || m32[e + 3] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            m32[off >>> 2] = w[b];
            break;
          }
          case Op.SD: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if (m32[e + 2] !== (vLo & -4089) || m32[e + 3] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const x = off >>> 2;
            m32[x] = w[b];
            m32[x + 1] = w[b + 1];
            break;
          }
          case Op.FSW: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if ((w[MSTATUS] & MS_FS) === 0 || m32[e + 2] !== (vLo & -4093) || m32[e + 3] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            m32[off >>> 2] = w[b];
            break;
          }
          case Op.FSD: {
            const aLo = w[a];
            const vLo = (aLo + imm) | 0;
            const vHi = (w[a + 1] + (imm >> 31) + ((vLo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
            const e = dTlb + ((vLo >>> 9) & 0x1ff8);
            if ((w[MSTATUS] & MS_FS) === 0 || m32[e + 2] !== (vLo & -4089) || m32[e + 3] !== vHi) break fast;
            const off = vLo + m32[e + 6];
            const x = off >>> 2;
            m32[x] = w[b];
            m32[x + 1] = w[b + 1];
            break;
          }
          case Op.MULDIV: case Op.MULDIVW: case Op.AMO:
            call = 2;
            break fast;
          case Op.DECODE:
            call = 1;
            break fast;
          case Op.FP:
            if (this.fpOp(dc[k]) !== 0) break fast;
            break;
          default:
            break fast;
        }
        // A branch, not arithmetic on `word`: the next pc then does not wait
        // for the entry's load (the CPU predicts the length).
        if ((word & 0x20000000) === 0) pcLo = (pcLo + 4) | 0;
        else pcLo = (pcLo + 2) | 0;
        left--;
      }
      w[PC] = pcLo;
      if (jit !== null && leftIn !== left) jit.count(fDec, leftIn - left);
      if (stepping) {
        stepping = false;
        const ran = left === 0;
        left += held;
        held = 0;
        if (ran) continue;
      }
      if (left <= 0) break;
      // The calls the inner loop leaves to the outer one (with a call inside
      // it, V8 keeps the loop's state in stack slots, not registers): decoding
      // an entry that does not match memory; M division and high multiplies,
      // atomics. Then straight back into the inner loop.
      if (call !== 0) {
        const off = (pcLo - fPage) | 0;
        const k = (fDec + (off << 1)) | 0;
        if (call === 1) {
          const h = (fHost + off) >>> 1;
          decodeInto(dc, k, m16[h] | (m16[h + 1] << 16));
          continue;
        }
        const raw = dc[k];
        const word = dc[k + 1];
        const d = (word >>> 8) & 127;
        const a = (word >>> 15) & 127;
        const b = (word >>> 22) & 127;
        const f3 = (raw >>> 12) & 7;
        switch (word & 0xff) {
          case Op.MULDIV:
            this.op(raw, raw, d, a, b, f3);
            break;
          case Op.MULDIVW:
            this.op32(raw, raw, d, a, b, f3);
            break;
          default: // Op.AMO
            this.atomic(raw, raw, d, a, b, f3);
            w[0] = 0; // LR and SC may name x0
            w[1] = 0;
            if (this.exc >= 0) {
              this.raise(pcLo, pcHi);
              traps++;
              left--;
              if (this.batchEnd) break outer;
              continue;
            }
        }
        w[PC] = (pcLo + 4 - ((word >>> 28) & 2)) | 0;
        left--;
        continue;
      }
      // Another page: switch to it without a page walk if the TLB has it.
      if ((pcLo & -4096) !== fPage && this.fetchPageFromTlb(pcLo, pcHi)) continue;
      // One instruction of any kind, with all checks; then the cached state may have changed.
      this.batchDone = limit - left - traps;
      left--;
      if (!this.stepSlow()) traps++;
      if (this.batchEnd) break;
    }
    const retired = (w[MINSTRET] >>> 0) + (limit - left - traps);
    w[MINSTRET] = retired | 0;
    if (retired > 0xffffffff) w[MINSTRET + 1] = (w[MINSTRET + 1] + 1) | 0;
    this.batchDone = 0;
    return limit - left;
  }

  /**
   * Executes the instruction at pc with every check and all of its cases:
   * the path for what the inner loop of executeBatch leaves to it. Returns
   * false when it trapped.
   */
  private stepSlow(): boolean {
    const w = this.w;
    const pcLo = w[PC];
    const pcHi = w[PC + 1];
    if (this.triggers.execArmed && this.triggers.matchExec(pcLo, pcHi, w[PRIV])) {
      this.fault(EXC_BREAKPOINT, 0, 0); // tval 0, as QEMU 7.2
      this.raise(pcLo, pcHi);
      return false;
    }
    let insn: number;
    if ((pcLo & -4096) === this.fetchTagLo && pcHi === this.fetchTagHi && (pcLo & 0xffe) !== 0xffe) {
      const h = (pcLo + this.fetchAddend) >>> 1;
      insn = this.m16[h];
      if ((insn & 3) === 3) insn |= this.m16[h + 1] << 16;
    } else {
      insn = this.fetchSlow(pcLo, pcHi);
      if (this.exc >= 0) {
        this.raise(pcLo, pcHi);
        return false;
      }
    }
    const raw = insn;
    let len = 4;
    if ((insn & 3) !== 3) {
      insn = this.ctab[insn];
      len = 2;
    }
    let nLo = (pcLo + len) | 0;
    let nHi = (nLo >>> 0) < (pcLo >>> 0) ? (pcHi + 1) | 0 : pcHi;
    w[0] = 0;
    w[1] = 0;
    const d = (insn >>> 6) & 62; // rd * 2
    const a = (insn >>> 14) & 62; // rs1 * 2
    const b = (insn >>> 19) & 62; // rs2 * 2
    const f3 = (insn >>> 12) & 7;
    switch (insn & 0x7f) {
      case 0x37: // LUI
        w[d] = insn & -4096;
        w[d + 1] = insn >> 31;
        break;
      case 0x17: // AUIPC
        w[d] = addImm64(pcLo, pcHi, insn & -4096);
        w[d + 1] = hi64.v;
        break;
      case 0x6f: { // JAL
        const imm = ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) | (((insn >>> 21) & 0x3ff) << 1);
        const tLo = addImm64(pcLo, pcHi, imm);
        const tHi = hi64.v;
        w[d] = nLo;
        w[d + 1] = nHi;
        nLo = tLo;
        nHi = tHi;
        break;
      }
      case 0x67: { // JALR
        if (f3 !== 0) { this.illegal(raw); break; }
        const tLo = addImm64(w[a], w[a + 1], insn >> 20) & ~1;
        const tHi = hi64.v;
        w[d] = nLo;
        w[d + 1] = nHi;
        nLo = tLo;
        nHi = tHi;
        break;
      }
      case 0x63: { // BRANCH
        const aLo = w[a], aHi = w[a + 1], bLo = w[b], bHi = w[b + 1];
        let taken: boolean;
        switch (f3) {
          case 0: taken = aLo === bLo && aHi === bHi; break;
          case 1: taken = aLo !== bLo || aHi !== bHi; break;
          case 4: taken = ltSigned64(aLo, aHi, bLo, bHi); break;
          case 5: taken = !ltSigned64(aLo, aHi, bLo, bHi); break;
          case 6: taken = ltUnsigned64(aLo, aHi, bLo, bHi); break;
          case 7: taken = !ltUnsigned64(aLo, aHi, bLo, bHi); break;
          default: this.illegal(raw); taken = false;
        }
        if (taken) {
          const imm = ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
          nLo = addImm64(pcLo, pcHi, imm);
          nHi = hi64.v;
        }
        break;
      }
      case 0x03: { // LOAD
        const vLo = addImm64(w[a], w[a + 1], insn >> 20);
        const vHi = hi64.v;
        let lo: number, hi: number;
        switch (f3) {
          case 0: lo = (this.load8(vLo, vHi) << 24) >> 24; hi = lo >> 31; break;
          case 1: lo = (this.load16(vLo, vHi) << 16) >> 16; hi = lo >> 31; break;
          case 2: lo = this.load32(vLo, vHi); hi = lo >> 31; break;
          case 3: lo = this.load64(vLo, vHi); hi = this.rhi; break;
          case 4: lo = this.load8(vLo, vHi); hi = 0; break;
          case 5: lo = this.load16(vLo, vHi); hi = 0; break;
          case 6: lo = this.load32(vLo, vHi); hi = 0; break;
          default: this.illegal(raw); lo = hi = 0;
        }
        if (this.exc < 0) {
          w[d] = lo;
          w[d + 1] = hi;
        }
        break;
      }
      case 0x23: { // STORE
        const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
        const vLo = addImm64(w[a], w[a + 1], imm);
        const vHi = hi64.v;
        switch (f3) {
          case 0: this.store8(vLo, vHi, w[b]); break;
          case 1: this.store16(vLo, vHi, w[b]); break;
          case 2: this.store32(vLo, vHi, w[b]); break;
          case 3: this.store64(vLo, vHi, w[b], w[b + 1]); break;
          default: this.illegal(raw);
        }
        break;
      }
      case 0x13: this.opImm(insn, raw, d, a, f3); break;
      case 0x1b: this.opImm32(insn, raw, d, a, f3); break;
      case 0x33: this.op(insn, raw, d, a, b, f3); break;
      case 0x3b: this.op32(insn, raw, d, a, b, f3); break;
      case 0x0f: // FENCE, FENCE.I: nothing to do (a write to code drops its decoded entries at once)
        if (f3 > 1) this.illegal(raw);
        break;
      case 0x73:
        if (this.system(insn, raw, f3, d, a, pcLo, pcHi)) {
          nLo = this.nextLo;
          nHi = this.nextHi;
        }
        break;
      case 0x2f: this.atomic(insn, raw, d, a, b, f3); break;
      case 0x07: this.loadFp(insn, raw, d, a, f3); break;
      case 0x27: this.storeFp(insn, raw, a, b, f3); break;
      case 0x53: case 0x43: case 0x47: case 0x4b: case 0x4f:
        if (this.fpOp(insn) !== 0) this.illegal(raw);
        break;
      default:
        this.illegal(raw);
    }
    w[0] = 0;
    w[1] = 0;
    if (this.exc >= 0) {
      this.raise(pcLo, pcHi);
      return false;
    }
    w[PC] = nLo;
    w[PC + 1] = nHi;
    return true;
  }

  // ---------------------------------------------------------------------------
  // Integer ALU groups.

  private opImm(insn: number, raw: number, d: number, a: number, f3: number): void {
    const w = this.w;
    const imm = insn >> 20;
    const aLo = w[a], aHi = w[a + 1];
    let lo: number, hi: number;
    switch (f3) {
      case 0: lo = addImm64(aLo, aHi, imm); hi = hi64.v; break;
      case 2: lo = ltSigned64(aLo, aHi, imm, imm >> 31) ? 1 : 0; hi = 0; break;
      case 3: lo = ltUnsigned64(aLo, aHi, imm, imm >> 31) ? 1 : 0; hi = 0; break;
      case 4: lo = aLo ^ imm; hi = aHi ^ (imm >> 31); break;
      case 6: lo = aLo | imm; hi = aHi | (imm >> 31); break;
      case 7: lo = aLo & imm; hi = aHi & (imm >> 31); break;
      case 1: {
        const f6 = insn >>> 26;
        const sh = (insn >>> 20) & 63;
        if (f6 === 0x00) { lo = sll64(aLo, aHi, sh); hi = hi64.v; break; }
        if (f6 === 0x12) { lo = aLo; hi = aHi; if (sh < 32) lo &= ~(1 << sh); else hi &= ~(1 << (sh - 32)); break; } // BCLRI
        if (f6 === 0x0a) { lo = aLo; hi = aHi; if (sh < 32) lo |= 1 << sh; else hi |= 1 << (sh - 32); break; } // BSETI
        if (f6 === 0x1a) { lo = aLo; hi = aHi; if (sh < 32) lo ^= 1 << sh; else hi ^= 1 << (sh - 32); break; } // BINVI
        if ((insn >>> 25) === 0x30) {
          switch (sh) {
            case 0: lo = clz64(aLo, aHi); hi = 0; break;
            case 1: lo = ctz64(aLo, aHi); hi = 0; break;
            case 2: lo = popcount32(aLo) + popcount32(aHi); hi = 0; break;
            case 4: lo = (aLo << 24) >> 24; hi = lo >> 31; break;
            case 5: lo = (aLo << 16) >> 16; hi = lo >> 31; break;
            default: this.illegal(raw); return;
          }
          break;
        }
        this.illegal(raw);
        return;
      }
      default: { // 5
        const f6 = insn >>> 26;
        const sh = (insn >>> 20) & 63;
        const imm12 = (insn >>> 20) & 0xfff;
        if (f6 === 0x00) { lo = srl64(aLo, aHi, sh); hi = hi64.v; break; }
        if (f6 === 0x10) { lo = sra64(aLo, aHi, sh); hi = hi64.v; break; }
        if (f6 === 0x18) { lo = ror64(aLo, aHi, sh); hi = hi64.v; break; }
        if (f6 === 0x12) { lo = (sh < 32 ? aLo >>> sh : aHi >>> (sh - 32)) & 1; hi = 0; break; } // BEXTI
        if (imm12 === 0x287) { lo = orcb32(aLo); hi = orcb32(aHi); break; }
        if (imm12 === 0x6b8) { lo = bswap32(aHi); hi = bswap32(aLo); break; }
        this.illegal(raw);
        return;
      }
    }
    w[d] = lo;
    w[d + 1] = hi;
  }

  private opImm32(insn: number, raw: number, d: number, a: number, f3: number): void {
    const w = this.w;
    const aLo = w[a];
    const sh = (insn >>> 20) & 31;
    const f7 = insn >>> 25;
    let r: number;
    if (f3 === 0) {
      r = (aLo + (insn >> 20)) | 0;
    } else if (f3 === 1) {
      if (f7 === 0) r = aLo << sh;
      else if (f7 === 0x30 && sh === 0) r = Math.clz32(aLo);
      else if (f7 === 0x30 && sh === 1) r = ctz32(aLo);
      else if (f7 === 0x30 && sh === 2) r = popcount32(aLo);
      else if ((insn >>> 26) === 0x02) { // SLLI.UW
        w[d] = sll64(aLo, 0, (insn >>> 20) & 63);
        w[d + 1] = hi64.v;
        return;
      } else { this.illegal(raw); return; }
    } else if (f3 === 5) {
      if (f7 === 0) r = aLo >>> sh | 0;
      else if (f7 === 0x20) r = aLo >> sh;
      else if (f7 === 0x30) r = sh === 0 ? aLo : (aLo >>> sh) | (aLo << (32 - sh));
      else { this.illegal(raw); return; }
    } else {
      this.illegal(raw);
      return;
    }
    w[d] = r;
    w[d + 1] = r >> 31;
  }

  private mulDiv64(fn: (dst: number, a: number, b: number) => void, a: number, b: number): number {
    const w = this.w;
    const m32 = this.m32;
    m32[this.mdA >> 2] = w[a];
    m32[(this.mdA >> 2) + 1] = w[a + 1];
    m32[this.mdB >> 2] = w[b];
    m32[(this.mdB >> 2) + 1] = w[b + 1];
    fn(this.mdD, this.mdA, this.mdB);
    this.rhi = m32[this.mdDw + 1];
    return m32[this.mdDw];
  }

  private op(insn: number, raw: number, d: number, a: number, b: number, f3: number): void {
    const w = this.w;
    const aLo = w[a], aHi = w[a + 1], bLo = w[b], bHi = w[b + 1];
    const f7 = insn >>> 25;
    let lo: number, hi: number;
    switch ((f7 << 3) | f3) {
      case 0x000: lo = add64(aLo, aHi, bLo, bHi); hi = hi64.v; break;
      case 0x001: lo = sll64(aLo, aHi, bLo); hi = hi64.v; break;
      case 0x002: lo = ltSigned64(aLo, aHi, bLo, bHi) ? 1 : 0; hi = 0; break;
      case 0x003: lo = ltUnsigned64(aLo, aHi, bLo, bHi) ? 1 : 0; hi = 0; break;
      case 0x004: lo = aLo ^ bLo; hi = aHi ^ bHi; break;
      case 0x005: lo = srl64(aLo, aHi, bLo); hi = hi64.v; break;
      case 0x006: lo = aLo | bLo; hi = aHi | bHi; break;
      case 0x007: lo = aLo & bLo; hi = aHi & bHi; break;
      case 0x100: lo = sub64(aLo, aHi, bLo, bHi); hi = hi64.v; break;
      case 0x105: lo = sra64(aLo, aHi, bLo); hi = hi64.v; break;
      case 0x107: lo = aLo & ~bLo; hi = aHi & ~bHi; break; // ANDN
      case 0x106: lo = aLo | ~bLo; hi = aHi | ~bHi; break; // ORN
      case 0x104: lo = ~(aLo ^ bLo); hi = ~(aHi ^ bHi); break; // XNOR
      case 0x008: lo = this.mulDiv64(this.md.mul, a, b); hi = this.rhi; break;
      case 0x009: lo = this.mulDiv64(this.md.mulh, a, b); hi = this.rhi; break;
      case 0x00a: lo = this.mulDiv64(this.md.mulhsu, a, b); hi = this.rhi; break;
      case 0x00b: lo = this.mulDiv64(this.md.mulhu, a, b); hi = this.rhi; break;
      case 0x00c: lo = this.mulDiv64(this.md.div, a, b); hi = this.rhi; break;
      case 0x00d: lo = this.mulDiv64(this.md.divu, a, b); hi = this.rhi; break;
      case 0x00e: lo = this.mulDiv64(this.md.rem, a, b); hi = this.rhi; break;
      case 0x00f: lo = this.mulDiv64(this.md.remu, a, b); hi = this.rhi; break;
      case 0x082: lo = add64(sll64(aLo, aHi, 1), hi64.v, bLo, bHi); hi = hi64.v; break; // SH1ADD
      case 0x084: lo = add64(sll64(aLo, aHi, 2), hi64.v, bLo, bHi); hi = hi64.v; break; // SH2ADD
      case 0x086: lo = add64(sll64(aLo, aHi, 3), hi64.v, bLo, bHi); hi = hi64.v; break; // SH3ADD
      case 0x02c: if (ltSigned64(aLo, aHi, bLo, bHi)) { lo = aLo; hi = aHi; } else { lo = bLo; hi = bHi; } break; // MIN
      case 0x02d: if (ltUnsigned64(aLo, aHi, bLo, bHi)) { lo = aLo; hi = aHi; } else { lo = bLo; hi = bHi; } break; // MINU
      case 0x02e: if (ltSigned64(aLo, aHi, bLo, bHi)) { lo = bLo; hi = bHi; } else { lo = aLo; hi = aHi; } break; // MAX
      case 0x02f: if (ltUnsigned64(aLo, aHi, bLo, bHi)) { lo = bLo; hi = bHi; } else { lo = aLo; hi = aHi; } break; // MAXU
      case 0x181: lo = rol64(aLo, aHi, bLo); hi = hi64.v; break; // ROL
      case 0x185: lo = ror64(aLo, aHi, bLo); hi = hi64.v; break; // ROR
      case 0x121: { // BCLR
        const s = bLo & 63;
        lo = aLo; hi = aHi;
        if (s < 32) lo &= ~(1 << s); else hi &= ~(1 << (s - 32));
        break;
      }
      case 0x125: { // BEXT
        const s = bLo & 63;
        lo = (s < 32 ? aLo >>> s : aHi >>> (s - 32)) & 1; hi = 0;
        break;
      }
      case 0x0a1: { // BSET
        const s = bLo & 63;
        lo = aLo; hi = aHi;
        if (s < 32) lo |= 1 << s; else hi |= 1 << (s - 32);
        break;
      }
      case 0x1a1: { // BINV
        const s = bLo & 63;
        lo = aLo; hi = aHi;
        if (s < 32) lo ^= 1 << s; else hi ^= 1 << (s - 32);
        break;
      }
      default: this.illegal(raw); return;
    }
    w[d] = lo;
    w[d + 1] = hi;
  }

  private op32(insn: number, raw: number, d: number, a: number, b: number, f3: number): void {
    const w = this.w;
    const x = w[a], y = w[b];
    const f7 = insn >>> 25;
    let r: number;
    switch ((f7 << 3) | f3) {
      case 0x000: r = (x + y) | 0; break;
      case 0x100: r = (x - y) | 0; break;
      case 0x001: r = x << (y & 31); break;
      case 0x005: r = (x >>> (y & 31)) | 0; break;
      case 0x105: r = x >> (y & 31); break;
      case 0x008: r = Math.imul(x, y); break;
      case 0x00c: r = y === 0 ? -1 : x === -0x80000000 && y === -1 ? x : (x / y) | 0; break;
      case 0x00d: r = y === 0 ? -1 : ((x >>> 0) / (y >>> 0)) | 0; break;
      case 0x00e: r = y === 0 ? x : y === -1 ? 0 : (x % y) | 0; break;
      case 0x00f: r = y === 0 ? x : ((x >>> 0) % (y >>> 0)) | 0; break;
      case 0x020: w[d] = add64(x, 0, w[b], w[b + 1]); w[d + 1] = hi64.v; return; // ADD.UW
      case 0x024: // ZEXT.H
        if (((insn >>> 20) & 31) !== 0) { this.illegal(raw); return; }
        w[d] = x & 0xffff; w[d + 1] = 0; return;
      case 0x082: case 0x084: case 0x086: { // SHnADD.UW
        const lo = sll64(x, 0, f3 >> 1);
        w[d] = add64(lo, hi64.v, w[b], w[b + 1]);
        w[d + 1] = hi64.v;
        return;
      }
      case 0x181: { const s = y & 31; r = s === 0 ? x : (x << s) | (x >>> (32 - s)); break; } // ROLW
      case 0x185: { const s = y & 31; r = s === 0 ? x : (x >>> s) | (x << (32 - s)); break; } // RORW
      default: this.illegal(raw); return;
    }
    w[d] = r;
    w[d + 1] = r >> 31;
  }

  // ---------------------------------------------------------------------------
  // SYSTEM: ecall, ebreak, xret, wfi, sfence.vma, CSRs.

  /** Returns true when it redirected the pc (to nextLo/nextHi). */
  private system(insn: number, raw: number, f3: number, d: number, a: number, pcLo: number, pcHi: number): boolean {
    const w = this.w;
    const priv = w[PRIV];
    if (f3 === 0) {
      if (insn === 0x00000073) { // ECALL
        this.exc = EXC_ECALL_U + priv;
        this.excTvalLo = this.excTvalHi = 0;
        return false;
      }
      if (insn === 0x00100073) { // EBREAK
        this.exc = EXC_BREAKPOINT;
        this.excTvalLo = pcLo;
        this.excTvalHi = pcHi;
        return false;
      }
      if (insn === 0x30200073) { // MRET
        if (priv !== PRIV_M) { this.illegal(raw); return false; }
        const ms = w[MSTATUS];
        const mpp = (ms & MS_MPP) >>> 11;
        let v = (ms & ~(MS_MIE | MS_MPP)) | MS_MPIE;
        if ((ms & MS_MPIE) !== 0) v |= MS_MIE;
        if (mpp !== PRIV_M) v &= ~MS_MPRV;
        w[MSTATUS] = v;
        w[PRIV] = mpp;
        this.nextLo = w[MEPC];
        this.nextHi = w[MEPC + 1];
        this.privChanged();
        this.batchEnd = true;
        return true;
      }
      if (insn === 0x10200073) { // SRET
        const ms = w[MSTATUS];
        if (priv === PRIV_U || (priv === PRIV_S && (ms & MS_TSR) !== 0)) { this.illegal(raw); return false; }
        const spp = (ms & MS_SPP) >>> 8;
        let v = (ms & ~(MS_SIE | MS_SPP | MS_MPRV)) | MS_SPIE;
        if ((ms & MS_SPIE) !== 0) v |= MS_SIE;
        w[MSTATUS] = v;
        w[PRIV] = spp;
        this.nextLo = w[SEPC];
        this.nextHi = w[SEPC + 1];
        this.privChanged();
        this.batchEnd = true;
        return true;
      }
      if (insn === 0x10500073) { // WFI
        if (priv === PRIV_U || (priv === PRIV_S && (w[MSTATUS] & MS_TW) !== 0)) { this.illegal(raw); return false; }
        if ((w[MIP] & w[MIE]) === 0) w[WFI] = 1;
        this.batchEnd = true;
        return false;
      }
      if ((insn >>> 25) === 0x09 && d === 0) { // SFENCE.VMA (the ASID in rs2 is not used)
        if (priv === PRIV_U || (priv === PRIV_S && (w[MSTATUS] & MS_TVM) !== 0)) { this.illegal(raw); return false; }
        if (a === 0 && ((insn >>> 20) & 31) === 0) {
          this.translationChanged();
        } else if (a === 0) {
          this.addressSpaceChanged(); // one ASID's translations: the non-global ones
        } else {
          flushTlbAddress(this.tlb, w[a], w[a + 1]);
          this.fetchTagLo = 1;
        }
        return false;
      }
      this.illegal(raw);
      return false;
    }
    if (f3 === 4) { this.illegal(raw); return false; }
    // Zicsr
    const csr = insn >>> 20;
    const rs1 = a >> 1;
    const useImm = f3 >= 5;
    const srcLo = useImm ? rs1 : w[a];
    const srcHi = useImm ? 0 : w[a + 1];
    const op = f3 & 3; // 1 = RW, 2 = RS, 3 = RC
    const writes = op === 1 || rs1 !== 0;
    if (op === 1 && d === 0) {
      if (!csrWrite(this, csr, srcLo, srcHi)) this.illegal(raw);
      return false;
    }
    if (!csrRead(this, csr)) { this.illegal(raw); return false; }
    const oldLo = this.csrLo, oldHi = this.csrHi;
    if (writes) {
      let nLo = srcLo, nHi = srcHi;
      if (op === 2) { nLo = oldLo | srcLo; nHi = oldHi | srcHi; }
      else if (op === 3) { nLo = oldLo & ~srcLo; nHi = oldHi & ~srcHi; }
      if (!csrWrite(this, csr, nLo, nHi)) { this.illegal(raw); return false; }
    }
    w[d] = oldLo;
    w[d + 1] = oldHi;
    return false;
  }

  // ---------------------------------------------------------------------------
  // A extension.

  private atomic(insn: number, raw: number, d: number, a: number, b: number, f3: number): void {
    const w = this.w;
    if (f3 !== 2 && f3 !== 3) { this.illegal(raw); return; }
    const is64 = f3 === 3;
    const size = is64 ? 8 : 4;
    const f5 = insn >>> 27;
    const vLo = w[a], vHi = w[a + 1];
    const bus = this.bus;
    if (f5 === 0x02) { // LR
      if (((insn >>> 20) & 31) !== 0) { this.illegal(raw); return; }
      if ((vLo & (size - 1)) !== 0) { this.fault(EXC_LOAD_MISALIGNED, vLo, vHi); return; }
      if (this.triggers.dataArmed && this.triggers.matchData(vLo, vHi, size, TRIGGER_LOAD, w[PRIV])) { this.fault(EXC_BREAKPOINT, 0, 0); return; }
      const pa = this.dataPa(vLo, vHi, ACCESS_READ);
      if (pa < 0) return;
      let lo = bus.read(pa, size);
      if (bus.fault) { this.fault(EXC_LOAD_ACCESS, vLo, vHi); return; }
      const hi = is64 ? bus.hi : lo >> 31;
      w[RES_VALID] = 1;
      w[RES_ADDR] = vLo;
      w[RES_ADDR + 1] = vHi;
      w[RES_VALUE] = lo;
      w[RES_VALUE + 1] = hi;
      w[d] = lo;
      w[d + 1] = hi;
      return;
    }
    if ((vLo & (size - 1)) !== 0) { this.fault(EXC_STORE_MISALIGNED, vLo, vHi); return; }
    if (f5 === 0x03) { // SC
      const ok = w[RES_VALID] !== 0 && w[RES_ADDR] === vLo && w[RES_ADDR + 1] === vHi;
      w[RES_VALID] = 0;
      if (!ok) { w[d] = 1; w[d + 1] = 0; return; }
      // Like an AMO, a store-conditional that gets to memory reads and writes it (QEMU: a compare-and-swap).
      if (this.triggers.dataArmed && this.triggers.matchData(vLo, vHi, size, TRIGGER_LOAD | TRIGGER_STORE, w[PRIV])) { this.fault(EXC_BREAKPOINT, 0, 0); return; }
      const pa = this.dataPa(vLo, vHi, ACCESS_WRITE);
      if (pa < 0) return;
      const curLo = bus.read(pa, size);
      if (bus.fault) { this.fault(EXC_STORE_ACCESS, vLo, vHi); return; }
      const same = is64 ? curLo === w[RES_VALUE] && bus.hi === w[RES_VALUE + 1] : curLo === w[RES_VALUE];
      if (same) bus.write(pa, size, w[b], w[b + 1]);
      w[d] = same ? 0 : 1;
      w[d + 1] = 0;
      return;
    }
    if (this.triggers.dataArmed && this.triggers.matchData(vLo, vHi, size, TRIGGER_LOAD | TRIGGER_STORE, w[PRIV])) { this.fault(EXC_BREAKPOINT, 0, 0); return; }
    const pa = this.dataPa(vLo, vHi, ACCESS_WRITE);
    if (pa < 0) return;
    const oLo = bus.read(pa, size);
    if (bus.fault) { this.fault(EXC_STORE_ACCESS, vLo, vHi); return; }
    const oHi = is64 ? bus.hi : oLo >> 31;
    let sLo = w[b];
    let sHi = is64 ? w[b + 1] : sLo >> 31;
    let rLo: number, rHi: number;
    switch (f5) {
      case 0x01: rLo = sLo; rHi = sHi; break; // SWAP
      case 0x00: rLo = add64(oLo, oHi, sLo, sHi); rHi = hi64.v; break; // ADD
      case 0x04: rLo = oLo ^ sLo; rHi = oHi ^ sHi; break;
      case 0x0c: rLo = oLo & sLo; rHi = oHi & sHi; break;
      case 0x08: rLo = oLo | sLo; rHi = oHi | sHi; break;
      case 0x10: { const lt = ltSigned64(oLo, oHi, sLo, sHi); rLo = lt ? oLo : sLo; rHi = lt ? oHi : sHi; break; } // MIN
      case 0x14: { const lt = ltSigned64(oLo, oHi, sLo, sHi); rLo = lt ? sLo : oLo; rHi = lt ? sHi : oHi; break; } // MAX
      case 0x18: { // MINU
        const lt = is64 ? ltUnsigned64(oLo, oHi, sLo, sHi) : (oLo >>> 0) < (sLo >>> 0);
        rLo = lt ? oLo : sLo; rHi = lt ? oHi : sHi; break;
      }
      case 0x1c: { // MAXU
        const lt = is64 ? ltUnsigned64(oLo, oHi, sLo, sHi) : (oLo >>> 0) < (sLo >>> 0);
        rLo = lt ? sLo : oLo; rHi = lt ? sHi : oHi; break;
      }
      default: this.illegal(raw); return;
    }
    bus.write(pa, size, rLo, rHi);
    w[d] = oLo;
    w[d + 1] = oHi;
  }

  /**
   * A TLB miss in translated code (src/jit): walks the page table for a data
   * access of `size` bytes and fills the entry, with the side effects the
   * interpreter's access would have (A/D bits, the dirty log); the access
   * follows at once. 1 when walked; 0 leaves the access to the interpreter:
   * misaligned, an armed data trigger (it matches before any walk), or a
   * fault (raised when the interpreter runs the instruction).
   */
  fillDataTlb(lo: number, hi: number, size: number, write: number): number {
    if ((lo & (size - 1)) !== 0 || this.triggers.dataArmed) return 0;
    if (translate(this, lo, hi, write !== 0 ? ACCESS_WRITE : ACCESS_READ, this.dataMmu) >= 0) return 1;
    this.exc = -1;
    return 0;
  }

  /** Physical address of data at (lo, hi) for `access` (read or write): the TLB, else a page walk. -1 on a fault. */
  private dataPa(lo: number, hi: number, access: number): number {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS + 2 * access;
    if (t[e] === (lo & -4096) && t[e + 1] === hi) return ((lo + t[e + 6 - 2 * access]) >>> 0) - RAM_OFFSET + RAM_BASE;
    return translate(this, lo, hi, access, this.dataMmu);
  }

  // ---------------------------------------------------------------------------
  // F/D: the computational instructions (for the interpreter and the JIT),
  // loads and stores (the arithmetic lives in fpu/).

  /** An OP-FP or fused multiply-add instruction: 0 done, 1 illegal (nothing changed). */
  fpOp(insn: number): number {
    const w = this.w;
    if ((w[MSTATUS] & MS_FS) === 0 || executeFp(this.state, insn) !== 0) return 1;
    w[MSTATUS] |= MS_FS;
    w[0] = 0; // FP compares, classify and conversions may name x0
    w[1] = 0;
    return 0;
  }

  private loadFp(insn: number, raw: number, d: number, a: number, f3: number): void {
    const w = this.w;
    if ((w[MSTATUS] & MS_FS) === 0 || (f3 !== 2 && f3 !== 3)) { this.illegal(raw); return; }
    const vLo = addImm64(w[a], w[a + 1], insn >> 20);
    const vHi = hi64.v;
    const fd = F + d;
    if (f3 === 2) {
      const v = this.load32(vLo, vHi);
      if (this.exc >= 0) return;
      w[fd] = v;
      w[fd + 1] = -1; // NaN-boxed
    } else {
      const v = this.load64(vLo, vHi);
      if (this.exc >= 0) return;
      w[fd] = v;
      w[fd + 1] = this.rhi;
    }
    w[MSTATUS] |= MS_FS;
  }

  private storeFp(insn: number, raw: number, a: number, b: number, f3: number): void {
    const w = this.w;
    if ((w[MSTATUS] & MS_FS) === 0 || (f3 !== 2 && f3 !== 3)) { this.illegal(raw); return; }
    const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
    const vLo = addImm64(w[a], w[a + 1], imm);
    const vHi = hi64.v;
    const fs = F + b;
    if (f3 === 2) this.store32(vLo, vHi, w[fs]);
    else this.store64(vLo, vHi, w[fs], w[fs + 1]);
  }

  // ---------------------------------------------------------------------------
  // Memory access: TLB fast paths, slow paths for misses, MMIO and misalignment.

  private fault(cause: number, lo: number, hi: number): void {
    this.exc = cause;
    this.excTvalLo = lo;
    this.excTvalHi = hi;
  }

  private load8(lo: number, hi: number): number {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e] === (lo & -4096) && t[e + 1] === hi) return this.m8[(lo + t[e + 6]) >>> 0];
    return this.loadSlow(lo, hi, 1);
  }

  private load16(lo: number, hi: number): number {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e] === (lo & -4095) && t[e + 1] === hi) return this.m16[(lo + t[e + 6]) >>> 1];
    return this.loadSlow(lo, hi, 2);
  }

  private load32(lo: number, hi: number): number {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e] === (lo & -4093) && t[e + 1] === hi) return this.m32[(lo + t[e + 6]) >>> 2];
    return this.loadSlow(lo, hi, 4);
  }

  private load64(lo: number, hi: number): number {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e] === (lo & -4089) && t[e + 1] === hi) {
      const i = (lo + t[e + 6]) >>> 2;
      this.rhi = this.m32[i + 1];
      return this.m32[i];
    }
    return this.loadSlow(lo, hi, 8);
  }

  private store8(lo: number, hi: number, v: number): void {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e + 2] === (lo & -4096) && t[e + 3] === hi) { this.m8[(lo + t[e + 6]) >>> 0] = v; return; }
    this.storeSlow(lo, hi, 1, v, 0);
  }

  private store16(lo: number, hi: number, v: number): void {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e + 2] === (lo & -4095) && t[e + 3] === hi) { this.m16[(lo + t[e + 6]) >>> 1] = v; return; }
    this.storeSlow(lo, hi, 2, v, 0);
  }

  private store32(lo: number, hi: number, v: number): void {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e + 2] === (lo & -4093) && t[e + 3] === hi) { this.m32[(lo + t[e + 6]) >>> 2] = v; return; }
    this.storeSlow(lo, hi, 4, v, 0);
  }

  private store64(lo: number, hi: number, vLo: number, vHi: number): void {
    const t = this.tlb;
    const e = this.dataTlb + ((lo >>> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_WORDS;
    if (t[e + 2] === (lo & -4089) && t[e + 3] === hi) {
      const i = (lo + t[e + 6]) >>> 2;
      this.m32[i] = vLo;
      this.m32[i + 1] = vHi;
      return;
    }
    this.storeSlow(lo, hi, 8, vLo, vHi);
  }

  /** Raw little-endian value (zero-extended below 4 bytes; high word in rhi for 8). */
  private loadSlow(lo: number, hi: number, size: 1 | 2 | 4 | 8): number {
    if (this.triggers.dataArmed && this.triggers.matchData(lo, hi, size, TRIGGER_LOAD, this.w[PRIV])) {
      this.fault(EXC_BREAKPOINT, 0, 0);
      return 0;
    }
    if ((lo & (size - 1)) !== 0) return this.loadMisaligned(lo, hi, size);
    const pa = translate(this, lo, hi, ACCESS_READ, this.dataMmu);
    if (pa < 0) return 0;
    const v = this.bus.read(pa, size);
    if (this.bus.fault) { this.fault(EXC_LOAD_ACCESS, lo, hi); return 0; }
    this.rhi = this.bus.hi;
    return v;
  }

  /** Misaligned accesses succeed, byte by byte, as on QEMU's virt. */
  private loadMisaligned(lo: number, hi: number, size: number): number {
    let rLo = 0, rHi = 0;
    for (let k = 0; k < size; k++) {
      const bLo = addImm64(lo, hi, k);
      const pa = translate(this, bLo, hi64.v, ACCESS_READ, this.dataMmu);
      if (pa < 0) return 0;
      const byte = this.bus.read(pa, 1);
      if (this.bus.fault) { this.fault(EXC_LOAD_ACCESS, lo, hi); return 0; }
      if (k < 4) rLo |= byte << (8 * k);
      else rHi |= byte << (8 * (k - 4));
    }
    this.rhi = rHi;
    return rLo;
  }

  private storeSlow(lo: number, hi: number, size: 1 | 2 | 4 | 8, vLo: number, vHi: number): void {
    if (this.triggers.dataArmed && this.triggers.matchData(lo, hi, size, TRIGGER_STORE, this.w[PRIV])) {
      this.fault(EXC_BREAKPOINT, 0, 0);
      return;
    }
    const bus = this.bus;
    if ((lo & (size - 1)) !== 0) {
      // Check both pages first so a fault leaves memory untouched; a fault on
      // the second page reports its first byte, as QEMU does.
      const endLo = addImm64(lo, hi, size - 1);
      const endHi = hi64.v;
      if (translate(this, lo, hi, ACCESS_WRITE, this.dataMmu) < 0) return;
      if (((endLo ^ lo) & -4096) !== 0 && translate(this, endLo & -4096, endHi, ACCESS_WRITE, this.dataMmu) < 0) return;
      for (let k = 0; k < size; k++) {
        const bLo = addImm64(lo, hi, k);
        const pa = translate(this, bLo, hi64.v, ACCESS_WRITE, this.dataMmu);
        if (pa < 0) return;
        const byte = k < 4 ? vLo >>> (8 * k) : vHi >>> (8 * (k - 4));
        if (!bus.write(pa, 1, byte & 0xff, 0)) { this.fault(EXC_STORE_ACCESS, lo, hi); return; }
      }
      return;
    }
    const pa = translate(this, lo, hi, ACCESS_WRITE, this.dataMmu);
    if (pa < 0) return;
    if (!bus.write(pa, size, vLo, vHi)) this.fault(EXC_STORE_ACCESS, lo, hi);
  }

  /**
   * Fetches at pc (lo, hi) when the fetch page changed (or for the
   * instructions the inner loop leaves), and makes pc's page the fetch page.
   * Sets exc on a fault.
   */
  private fetchSlow(lo: number, hi: number): number {
    const host = this.fetchOffset(lo, hi);
    if (host < 0) return 0;
    this.setFetchPage(lo, hi, host);
    const m16 = this.m16;
    const insn = m16[host >>> 1];
    if ((insn & 3) !== 3) return insn;
    if ((lo & 0xfff) !== 0xffe) return insn | (m16[(host >>> 1) + 1] << 16);
    // A 32-bit instruction straddling two pages.
    const lo2 = (lo + 2) | 0;
    const hi2 = lo2 === 0 ? (hi + 1) | 0 : hi;
    const host2 = this.fetchOffset(lo2, hi2);
    if (host2 < 0) return 0;
    return insn | (m16[host2 >>> 1] << 16);
  }

  /** Makes pc's page the fetch page if the TLB translates it (no walk, no fault); else returns false. */
  private fetchPageFromTlb(lo: number, hi: number): boolean {
    if ((lo & -4096) === -4096) return false; // see executeBatch
    const t = this.tlb;
    const e = tlbFetchEntryIndex(this.fetchMmu, lo);
    if (t[e + 4] !== (lo & -4096) || t[e + 5] !== hi) return false;
    return this.setFetchPage(lo, hi, (lo + t[e + 6]) >>> 0);
  }

  /**
   * Makes pc's page, whose byte `pc` is at memory offset `host`, the fetch
   * page; false (no fetch page) when an execute trigger watches it, so each
   * of its instructions takes stepSlow, which checks the triggers.
   */
  private setFetchPage(lo: number, hi: number, host: number): boolean {
    if (this.triggers.execArmed && this.triggers.watchesExecPage(lo & -4096, hi)) {
      this.fetchTagLo = 1;
      return false;
    }
    // First: getting a slot may reset the fetch page (decodeSlotReused).
    this.fetchDec = this.dcache.pageBase((host - RAM_OFFSET) >>> 12);
    this.fetchTagLo = lo & -4096;
    this.fetchTagHi = hi;
    this.fetchAddend = (host - lo) | 0;
    return true;
  }

  /** The decode-cache slot at word `base` no longer holds its page: it is no longer the fetch page's. */
  decodeSlotReused(base: number): void {
    if (this.fetchDec === base) this.fetchTagLo = 1;
  }

  /** Memory byte offset of the instruction bytes at virtual (lo, hi): TLB, else a page walk. -1 on a fault. */
  private fetchOffset(lo: number, hi: number): number {
    const t = this.tlb;
    const e = tlbFetchEntryIndex(this.fetchMmu, lo);
    if (t[e + 4] === (lo & -4096) && t[e + 5] === hi) return (lo + t[e + 6]) >>> 0;
    const pa = translate(this, lo, hi, ACCESS_EXEC, this.fetchMmu);
    if (pa < 0) return -1;
    const off = this.bus.ramOffset(pa, 2);
    if (off < 0) {
      this.fault(EXC_INSN_ACCESS, lo, hi);
      return -1;
    }
    return RAM_OFFSET + off;
  }

}
