/**
 * CLINT ("sifive,clint0" at 0x2000000): per-hart software interrupt (msip)
 * and timer compare (mtimecmp) registers, plus the shared mtime counter.
 *
 *   0x0000 + 4h   msip[h]      bit 0 drives the hart's MSIP
 *   0x4000 + 8h   mtimecmp[h]  MTIP is raised while mtime >= mtimecmp
 *   0xbff8        mtime        the machine clock (writable)
 */
import { IRQ_MSIP, IRQ_MTIP } from "../cpu/hart.ts";
import type { MachineClock } from "../machine/clock.ts";
import type { AccessSize, MmioDevice, Saveable } from "../machine/device.ts";
import { badState, type HartIrq, type TimerSource } from "../machine/timer.ts";
import { mergeWrite, narrowRead } from "./regs.ts";

export const CLINT_BASE = 0x2000000;
export const CLINT_SIZE = 0x10000;
const MSIP = 0x0;
const MTIMECMP = 0x4000;
const MTIME = 0xbff8;
const TWO32 = 0x100000000;

export interface ClintState {
  v: 1;
  msip: number[];
  /** mtimecmp per hart as [low word, high word], unsigned. */
  mtimecmp: [number, number][];
}

export class Clint implements MmioDevice, TimerSource, Saveable<ClintState> {
  readonly name = "clint";
  readonly base = CLINT_BASE;
  readonly size = CLINT_SIZE;
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  /** The MTIP level last driven onto each hart. */
  private readonly mtip: Uint8Array;

  constructor(
    private readonly harts: readonly HartIrq[],
    private readonly clock: MachineClock,
  ) {
    const n = harts.length;
    this.msip = new Uint8Array(n);
    this.cmpLo = new Uint32Array(n);
    this.cmpHi = new Uint32Array(n);
    this.mtip = new Uint8Array(n);
    this.reset();
  }

  /** Power-on state: no software interrupts, every timer disarmed. */
  reset(): void {
    this.msip.fill(0);
    this.cmpLo.fill(0xffffffff);
    this.cmpHi.fill(0xffffffff);
    this.mtip.fill(0);
  }

  mtimecmp(hart: number): number {
    return this.cmpHi[hart] * TWO32 + this.cmpLo[hart];
  }

  read(offset: number, size: AccessSize): number {
    return narrowRead(this.readWord(offset & ~3), offset, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const wordOffset = offset & ~3;
    const word = mergeWrite(this.readWord(wordOffset), offset, size, value);
    const n = this.harts.length;
    if (wordOffset < MSIP + 4 * n) {
      const h = wordOffset >> 2;
      this.msip[h] = word & 1;
      this.harts[h].setPending(IRQ_MSIP, (word & 1) !== 0);
    } else if (wordOffset >= MTIMECMP && wordOffset < MTIMECMP + 8 * n) {
      const h = (wordOffset - MTIMECMP) >> 3;
      if (wordOffset & 4) this.cmpHi[h] = word;
      else this.cmpLo[h] = word;
      this.updateTimer(h, this.clock.now());
    } else if (wordOffset === MTIME || wordOffset === MTIME + 4) {
      const now = this.clock.now();
      const lo = wordOffset === MTIME ? word : now % TWO32;
      const hi = wordOffset === MTIME ? Math.floor(now / TWO32) : word;
      // Clocks count in doubles: keep mtime below 2^53.
      this.clock.set((hi & 0x1fffff) * TWO32 + lo);
      this.pollTimers(this.clock.now());
    }
  }

  pollTimers(now: number): number {
    let next = Infinity;
    for (let h = 0; h < this.harts.length; h++) {
      const cmp = this.updateTimer(h, now);
      // Past 2^53 the clock never gets there: no deadline.
      if (cmp > now && cmp < next && cmp <= Number.MAX_SAFE_INTEGER) next = cmp;
    }
    return next;
  }

  save(): ClintState {
    const mtimecmp: [number, number][] = [];
    for (let h = 0; h < this.harts.length; h++) mtimecmp.push([this.cmpLo[h], this.cmpHi[h]]);
    return { v: 1, msip: Array.from(this.msip), mtimecmp };
  }

  restore(state: ClintState): void {
    const n = this.harts.length;
    if (state?.v !== 1 || state.msip?.length !== n || state.mtimecmp?.length !== n) {
      throw badState(this.name, state);
    }
    const now = this.clock.now();
    for (let h = 0; h < n; h++) {
      this.msip[h] = state.msip[h] & 1;
      this.harts[h].setPending(IRQ_MSIP, this.msip[h] !== 0);
      this.cmpLo[h] = state.mtimecmp[h][0];
      this.cmpHi[h] = state.mtimecmp[h][1];
      this.mtip[h] = 0;
      this.harts[h].setPending(IRQ_MTIP, false);
      this.updateTimer(h, now);
    }
  }

  private readWord(wordOffset: number): number {
    const n = this.harts.length;
    if (wordOffset < MSIP + 4 * n) return this.msip[wordOffset >> 2];
    if (wordOffset >= MTIMECMP && wordOffset < MTIMECMP + 8 * n) {
      const h = (wordOffset - MTIMECMP) >> 3;
      return wordOffset & 4 ? this.cmpHi[h] : this.cmpLo[h];
    }
    if (wordOffset === MTIME) return this.clock.now() % TWO32;
    if (wordOffset === MTIME + 4) return Math.floor(this.clock.now() / TWO32);
    return 0;
  }

  /** Drives hart `h`'s MTIP from `now` vs its mtimecmp; returns mtimecmp. */
  private updateTimer(h: number, now: number): number {
    const cmp = this.mtimecmp(h);
    const level = now >= cmp ? 1 : 0;
    if (level !== this.mtip[h]) {
      this.mtip[h] = level;
      this.harts[h].setPending(IRQ_MTIP, level !== 0);
    }
    return cmp;
  }
}
