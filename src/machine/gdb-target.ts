/**
 * The virt machine as a GDB target (`typevisor run -s` / `--gdb tcp::PORT`,
 * `-S`): each hart is a GDB thread (id = hart id + 1), memory is what the
 * selected hart sees at its privilege — its Sv39/Sv48 page tables below
 * M-mode, physical in M-mode — and only RAM is read or written (device
 * registers have side effects a debugger must not trigger).
 *
 * Run control lives in the machine's run loop (VirtMachine.debugger): while
 * the debugger holds the machine, the loop waits instead of running harts.
 * Breakpoints are pc comparisons (the process VM patches ebreaks into
 * memory instead): while any is set (or a hart is stepped) the harts run one
 * instruction per `hart.run(1)`.
 */
import { F, FFLAGS, FRM, PC, PRIV, PRIV_M, SATP, X } from "../cpu/hart-state.ts";
import type { Hart } from "../cpu/hart.ts";
import { GDB_SIGINT, GDB_SIGTRAP, type DebugTarget, type ResumeAction, type StopReason } from "../debug/debug-target.ts";
import { readStateRegister, riscv64TargetXml, writeStateRegister, type StateLayout } from "../debug/riscv-registers.ts";
import type { Bus } from "./bus.ts";

const LAYOUT: StateLayout = { x: X, f: F, pc: PC, fflags: FFLAGS, frm: FRM };
const PAGE = 4096n;

/** What the machine's run loop asks of its debugger. */
export interface MachineDebugger {
  /** A promise to wait on while the debugger holds the machine stopped, else null. */
  held(): Promise<void> | null;
  /** Runs `hart` for up to `budget` instructions (fewer at a breakpoint); returns how many ran. */
  runHart(hart: Hart, budget: number): number;
  /** The machine powered off with `code`. */
  poweredOff(code: number): void;
}

export interface DebuggedMachine {
  readonly harts: Hart[];
  readonly bus: Bus;
  debugger: MachineDebugger | null;
  quit(code?: number): void;
  interruptSleep(): void;
}

export class VirtMachineTarget implements DebugTarget, MachineDebugger {
  readonly targetXml = riscv64TargetXml(null);
  onStop: (reason: StopReason) => void = () => {};
  private stopped: boolean;
  private wake: (() => void) | null = null;
  private waiting: Promise<void> | null = null;
  /** Low words of breakpoint addresses (the per-instruction test) and the exact addresses. */
  private readonly bpLow = new Set<number>();
  private readonly bps = new Set<bigint>();
  private stepHart = -1;
  private focus = 0;
  private ended = false;

  /** `startStopped`: -S, the harts wait for the debugger before their first instruction. */
  constructor(private readonly machine: DebuggedMachine, startStopped: boolean) {
    this.stopped = startStopped;
    machine.debugger = this;
  }

  // ---- DebugTarget ----------------------------------------------------------

  threadIds(): number[] {
    return this.machine.harts.map((h) => h.hartId + 1);
  }

  currentThread(): number {
    return this.focus + 1;
  }

  private hart(thread: number): Hart {
    return this.machine.harts[thread - 1] ?? this.machine.harts[this.focus];
  }

  readRegister(thread: number, regno: number): Uint8Array | null {
    return readStateRegister(this.hart(thread).w, LAYOUT, regno);
  }

  writeRegister(thread: number, regno: number, value: Uint8Array): boolean {
    return writeStateRegister(this.hart(thread).w, LAYOUT, regno, value);
  }

  readMemory(thread: number, addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, len));
    let done = 0;
    while (done < len) {
      const va = (addr + BigInt(done)) & 0xffff_ffff_ffff_ffffn;
      const n = Math.min(Number(PAGE - (va % PAGE)), len - done);
      const off = this.ramOffset(this.hart(thread), va, n);
      if (off < 0) break;
      out.set(this.machine.bus.ram.subarray(off, off + n), done);
      done += n;
    }
    return out.subarray(0, done);
  }

  writeMemory(thread: number, addr: bigint, data: Uint8Array): boolean {
    const pieces: Array<[number, number, number]> = [];
    for (let done = 0; done < data.length; ) {
      const va = (addr + BigInt(done)) & 0xffff_ffff_ffff_ffffn;
      const n = Math.min(Number(PAGE - (va % PAGE)), data.length - done);
      const off = this.ramOffset(this.hart(thread), va, n);
      if (off < 0) return false;
      pieces.push([off, done, n]);
      done += n;
    }
    // ramWritten: the harts' decoded code there must go (docs/cpu.md, "Writes to decoded code").
    for (const [off, from, n] of pieces) {
      this.machine.bus.ram.set(data.subarray(from, from + n), off);
      this.machine.bus.ramWritten(off, n);
    }
    return true;
  }

  resume(action: ResumeAction): void {
    this.stepHart = action.kind === "step" ? action.thread - 1 : -1;
    if (this.stepHart >= 0) this.focus = this.stepHart;
    this.release();
  }

  interrupt(): void {
    if (!this.stopped && !this.ended) this.stop({ kind: "signal", signal: GDB_SIGINT, thread: this.focus + 1 });
  }

  attach(): void {
    this.stopped = true; // qemu stops the machine when gdb connects
    this.machine.interruptSleep();
  }

  setBreakpoint(addr: bigint, present: boolean): void {
    if (present) this.bps.add(addr);
    else this.bps.delete(addr);
    this.bpLow.clear();
    for (const a of this.bps) this.bpLow.add(Number(a & 0xffff_ffffn) | 0);
  }

  kill(): void {
    this.ended = true;
    this.release();
    this.machine.quit(0);
  }

  detach(): void {
    this.bps.clear();
    this.bpLow.clear();
    this.stepHart = -1;
    this.release();
  }

  // ---- MachineDebugger ----------------------------------------------------------

  held(): Promise<void> | null {
    if (!this.stopped) return null;
    this.waiting ??= new Promise<void>((resolve) => (this.wake = resolve));
    return this.waiting;
  }

  runHart(hart: Hart, budget: number): number {
    if (this.stopped) return 0;
    const id = hart.hartId;
    if (this.bps.size === 0 && this.stepHart !== id) return hart.run(budget);
    const w = hart.w;
    let done = 0;
    while (done < budget) {
      const n = hart.run(1);
      if (n === 0) break; // WFI, or a stop request
      done += n;
      if (this.stepHart === id) {
        this.stop({ kind: "signal", signal: GDB_SIGTRAP, thread: id + 1 });
        break;
      }
      if (this.bpLow.has(w[PC]) && this.bps.has(pcOf(w))) {
        this.stop({ kind: "signal", signal: GDB_SIGTRAP, thread: id + 1, swbreak: true });
        break;
      }
    }
    return done;
  }

  poweredOff(code: number): void {
    if (this.ended) return;
    this.ended = true;
    this.stopped = false;
    this.onStop({ kind: "exited", code: code & 0xff });
  }

  // ---- internals -------------------------------------------------------------------

  private stop(reason: StopReason): void {
    if (reason.kind === "signal") this.focus = reason.thread - 1;
    this.stepHart = -1;
    this.stopped = true;
    this.machine.interruptSleep();
    this.onStop(reason);
  }

  private release(): void {
    this.stopped = false;
    const wake = this.wake;
    this.wake = null;
    this.waiting = null;
    wake?.();
  }

  /** Offset in `bus.ram` of virtual `va` as `hart` sees data (n bytes, one page), or -1. */
  private ramOffset(hart: Hart, va: bigint, n: number): number {
    const pa = translate(hart, this.machine.bus, va);
    if (pa === null) return -1;
    // ramOffset also loads the pages if a lazy restore has not yet.
    return pa < 2n ** 53n ? this.machine.bus.ramOffset(Number(pa), n) : -1;
  }
}

function pcOf(w: Int32Array): bigint {
  return (BigInt(w[PC + 1] >>> 0) << 32n) | BigInt(w[PC] >>> 0);
}

/**
 * Physical address of `va` for the hart's data accesses at its current
 * privilege (M-mode: none; S/U: satp's Sv39/Sv48 tables), or null when it
 * does not translate. Reads the tables and sets no A/D bits: a debugger's
 * look must not change the guest.
 */
export function translate(hart: Hart, bus: Bus, va: bigint): bigint | null {
  const w = hart.w;
  const satp = (BigInt(w[SATP + 1] >>> 0) << 32n) | BigInt(w[SATP] >>> 0);
  const mode = Number(satp >> 60n);
  if (w[PRIV] === PRIV_M || mode === 0) return va;
  const levels = mode === 8 ? 3 : mode === 9 ? 4 : 0;
  if (levels === 0) return null;
  const vaBits = BigInt(12 + 9 * levels);
  // The upper bits must copy the top bit of the virtual address.
  const top = va >> (vaBits - 1n);
  if (top !== 0n && top !== (1n << (65n - vaBits)) - 1n) return null;
  let table = (satp & 0xfff_ffff_ffffn) * PAGE;
  for (let level = levels - 1; level >= 0; level--) {
    const index = (va >> BigInt(12 + 9 * level)) & 0x1ffn;
    const pteAddr = table + index * 8n;
    // ramOffset also loads the page if a lazy restore has not yet.
    const off = pteAddr < 2n ** 53n ? bus.ramOffset(Number(pteAddr), 8) : -1;
    if (off < 0) return null;
    const dv = new DataView(bus.ram.buffer, bus.ram.byteOffset + off, 8);
    const pte = dv.getBigUint64(0, true);
    if ((pte & 1n) === 0n) return null;
    const ppn = (pte >> 10n) & 0xfff_ffff_ffffn;
    if ((pte & 0xan) !== 0n) {
      // A leaf (R or X): a superpage keeps the low virtual page number bits.
      const span = 1n << BigInt(12 + 9 * level);
      return ppn * PAGE - ((ppn * PAGE) % span) + (va % span);
    }
    table = ppn * PAGE;
  }
  return null;
}
