/**
 * PLIC ("sifive,plic-1.0.0" at 0xc000000), level-triggered like QEMU's
 * sifive_plic: a source whose line is high becomes pending; claiming it
 * clears pending and marks it claimed; completing it unmarks it, and if the
 * line is still high it is pending again at once.
 *
 *   0x000000 + 4i           priority of source i (3 bits; 0 = never)
 *   0x001000 + 4w           pending bits (read-only)
 *   0x002000 + 0x80c + 4w   enable bits of context c
 *   0x200000 + 0x1000c      threshold of context c
 *   0x200004 + 0x1000c      claim (read) / complete (write) of context c
 *
 * Context 2h is hart h in M-mode (drives MEIP), 2h+1 is S-mode (SEIP).
 */
import { IRQ_MEIP, IRQ_SEIP } from "../cpu/hart.ts";
import type { AccessSize, InterruptSink, MmioDevice, Saveable } from "../machine/device.ts";
import { badState, type HartIrq } from "../machine/timer.ts";
import { mergeWrite, narrowRead } from "./regs.ts";

export const PLIC_BASE = 0xc000000;
export const PLIC_SIZE = 0x600000;
/** Sources 1..95 exist (0 means "none"), as on QEMU 7.2 virt. */
export const PLIC_SOURCES = 96;
const WORDS = PLIC_SOURCES / 32;
const PRIORITY_MASK = 7;

const PENDING = 0x1000;
const ENABLE = 0x2000;
const ENABLE_SHIFT = 7; // 0x80 bytes per context
const ENABLE_STRIDE = 1 << ENABLE_SHIFT;
const CONTEXT = 0x200000;
const CONTEXT_SHIFT = 12; // 0x1000 bytes per context
const CONTEXT_STRIDE = 1 << CONTEXT_SHIFT;

export interface PlicState {
  v: 1;
  priority: number[];
  /** Bit sets of PLIC_SOURCES bits as words. */
  level: number[];
  pending: number[];
  claimed: number[];
  enable: number[][];
  threshold: number[];
}

export class Plic implements MmioDevice, InterruptSink, Saveable<PlicState> {
  readonly name = "plic";
  readonly base = PLIC_BASE;
  readonly size = PLIC_SIZE;
  readonly contexts: number;
  private readonly priority = new Uint8Array(PLIC_SOURCES);
  private readonly level = new Uint32Array(WORDS);
  private readonly pending = new Uint32Array(WORDS);
  private readonly claimed = new Uint32Array(WORDS);
  /** WORDS enable words per context. */
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  /** The external-interrupt level last driven for each context. */
  private readonly output: Uint8Array;

  constructor(private readonly harts: readonly HartIrq[]) {
    this.contexts = 2 * harts.length;
    this.enable = new Uint32Array(WORDS * this.contexts);
    this.threshold = new Uint8Array(this.contexts);
    this.output = new Uint8Array(this.contexts);
  }

  /** Power-on state. Source line levels are kept: they belong to the devices. */
  reset(): void {
    this.priority.fill(0);
    this.claimed.fill(0);
    this.enable.fill(0);
    this.threshold.fill(0);
    this.pending.set(this.level);
    this.update();
  }

  setIrq(irq: number, level: boolean): void {
    if (!(irq > 0 && irq < PLIC_SOURCES)) return;
    const w = irq >> 5;
    const bit = 1 << (irq & 31);
    if (level) {
      this.level[w] |= bit;
      if ((this.claimed[w] & bit) === 0) this.pending[w] |= bit;
    } else {
      this.level[w] &= ~bit;
      this.pending[w] &= ~bit;
    }
    this.update();
  }

  read(offset: number, size: AccessSize): number {
    const wordOffset = offset & ~3;
    if (wordOffset >= CONTEXT && (wordOffset & (CONTEXT_STRIDE - 1)) === 4) {
      const ctx = (wordOffset - CONTEXT) >> CONTEXT_SHIFT;
      if (ctx < this.contexts) return narrowRead(this.claim(ctx), offset, size);
      return 0;
    }
    return narrowRead(this.readWord(wordOffset), offset, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const wordOffset = offset & ~3;
    const word = mergeWrite(this.readWord(wordOffset), offset, size, value);
    if (wordOffset < PENDING) {
      const irq = wordOffset >> 2;
      if (irq > 0 && irq < PLIC_SOURCES) this.priority[irq] = word & PRIORITY_MASK;
    } else if (wordOffset >= ENABLE && wordOffset < CONTEXT) {
      const ctx = (wordOffset - ENABLE) >> ENABLE_SHIFT;
      const w = (wordOffset & (ENABLE_STRIDE - 1)) >> 2;
      if (ctx >= this.contexts || w >= WORDS) return;
      this.enable[ctx * WORDS + w] = w === 0 ? word & ~1 : word;
    } else if (wordOffset >= CONTEXT) {
      const ctx = (wordOffset - CONTEXT) >> CONTEXT_SHIFT;
      if (ctx >= this.contexts) return;
      const reg = wordOffset & (CONTEXT_STRIDE - 1);
      if (reg === 0) this.threshold[ctx] = word & PRIORITY_MASK;
      else if (reg === 4) this.complete(word);
      else return;
    } else {
      return; // pending bits are read-only
    }
    this.update();
  }

  save(): PlicState {
    const enable: number[][] = [];
    for (let c = 0; c < this.contexts; c++) {
      enable.push(Array.from(this.enable.subarray(c * WORDS, (c + 1) * WORDS)));
    }
    return {
      v: 1,
      priority: Array.from(this.priority),
      level: Array.from(this.level),
      pending: Array.from(this.pending),
      claimed: Array.from(this.claimed),
      enable,
      threshold: Array.from(this.threshold),
    };
  }

  restore(state: PlicState): void {
    const ok =
      state?.v === 1 &&
      state.priority?.length === PLIC_SOURCES &&
      state.level?.length === WORDS &&
      state.pending?.length === WORDS &&
      state.claimed?.length === WORDS &&
      state.threshold?.length === this.contexts &&
      state.enable?.length === this.contexts &&
      state.enable.every((e) => e?.length === WORDS);
    if (!ok) throw badState(this.name, state);
    for (let i = 0; i < PLIC_SOURCES; i++) this.priority[i] = state.priority[i] & PRIORITY_MASK;
    this.level.set(state.level);
    this.pending.set(state.pending);
    this.claimed.set(state.claimed);
    for (let c = 0; c < this.contexts; c++) {
      this.enable.set(state.enable[c], c * WORDS);
      this.threshold[c] = state.threshold[c] & PRIORITY_MASK;
    }
    // Drive every output afresh: the harts' mip may not match our cache.
    for (let c = 0; c < this.contexts; c++) {
      this.output[c] = 0;
      this.harts[c >> 1].setPending(c & 1 ? IRQ_SEIP : IRQ_MEIP, false);
    }
    this.update();
  }

  private readWord(wordOffset: number): number {
    if (wordOffset < PENDING) {
      const irq = wordOffset >> 2;
      return irq < PLIC_SOURCES ? this.priority[irq] : 0;
    }
    if (wordOffset < ENABLE) {
      const w = (wordOffset - PENDING) >> 2;
      return w < WORDS ? this.pending[w] : 0;
    }
    if (wordOffset < CONTEXT) {
      const ctx = (wordOffset - ENABLE) >> ENABLE_SHIFT;
      const w = (wordOffset & (ENABLE_STRIDE - 1)) >> 2;
      return ctx < this.contexts && w < WORDS ? this.enable[ctx * WORDS + w] : 0;
    }
    const ctx = (wordOffset - CONTEXT) >> CONTEXT_SHIFT;
    if (ctx < this.contexts && (wordOffset & (CONTEXT_STRIDE - 1)) === 0) return this.threshold[ctx];
    return 0;
  }

  /**
   * The enabled, pending, unclaimed source of context `ctx` with the highest
   * priority above `floor` (lowest id on ties), or 0.
   */
  private best(ctx: number, floor: number): number {
    let bestIrq = 0;
    let bestPriority = floor;
    for (let w = 0; w < WORDS; w++) {
      let bits = this.pending[w] & ~this.claimed[w] & this.enable[ctx * WORDS + w];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const irq = (w << 5) | b;
        if (this.priority[irq] > bestPriority) {
          bestPriority = this.priority[irq];
          bestIrq = irq;
        }
      }
    }
    return bestIrq;
  }

  private claim(ctx: number): number {
    const irq = this.best(ctx, 0);
    if (irq !== 0) {
      const w = irq >> 5;
      const bit = 1 << (irq & 31);
      this.pending[w] &= ~bit;
      this.claimed[w] |= bit;
      this.update();
    }
    return irq;
  }

  private complete(irq: number): void {
    if (!(irq > 0 && irq < PLIC_SOURCES)) return;
    const w = irq >> 5;
    const bit = 1 << (irq & 31);
    this.claimed[w] &= ~bit;
    if (this.level[w] & bit) this.pending[w] |= bit;
  }

  private update(): void {
    for (let c = 0; c < this.contexts; c++) {
      const level = this.best(c, this.threshold[c]) !== 0 ? 1 : 0;
      if (level !== this.output[c]) {
        this.output[c] = level;
        this.harts[c >> 1].setPending(c & 1 ? IRQ_SEIP : IRQ_MEIP, level !== 0);
      }
    }
  }
}
