/**
 * Virtual time: `mtime` at 10 MHz (the virt board's timebase).
 *
 * `HostClock` follows the host's monotonic clock; `InstructionClock` is
 * deterministic, advancing with retired instructions only, so a test run
 * gives the same interrupts at the same instructions every time. Both stop
 * while nobody calls them, never go backwards, and can be set by the guest
 * (CLINT mtime writes) or by a snapshot restore.
 */
import type { Clock, Saveable } from "./device.ts";
import { monotonicNs } from "./host-time.ts";
import { badState } from "./timer.ts";

export const TIMEBASE_HZ = 10_000_000;

export interface ClockState {
  v: 1;
  mtime: number;
  /** Deterministic time: instructions retired since the last whole tick (exact continuation). */
  residue?: number;
}

export interface MachineClock extends Clock, Saveable<ClockState> {
  /** True when time depends on instructions only (no host time). */
  readonly deterministic: boolean;
  /** Makes `now()` return `ticks` from here on. */
  set(ticks: number): void;
  /** The harts retired `count` more instructions. */
  retired(count: number): void;
  /**
   * The machine is idle until `deadline` (ticks, maybe Infinity). Returns how
   * many host milliseconds to sleep; a deterministic clock jumps there and
   * returns 0 (or Infinity when there is no deadline).
   */
  idleUntil(deadline: number): number;
  /** Stops time (VM paused) / restarts it where it stopped. */
  pause(): void;
  resume(): void;
}

const NS_PER_TICK = 1e9 / TIMEBASE_HZ;


export class HostClock implements MachineClock {
  readonly deterministic = false;
  /** mtime = offset + host ns / 100 while running. */
  private originNs: bigint;
  private originTicks = 0;
  private pausedAt = -1;

  constructor(private readonly nowNs: () => bigint = monotonicNs) {
    this.originNs = nowNs();
  }

  now(): number {
    if (this.pausedAt >= 0) return this.pausedAt;
    return this.originTicks + Number((this.nowNs() - this.originNs) / 100n);
  }

  set(ticks: number): void {
    this.originTicks = ticks;
    this.originNs = this.nowNs();
    if (this.pausedAt >= 0) this.pausedAt = ticks;
  }

  retired(_count: number): void {}

  idleUntil(deadline: number): number {
    const ahead = deadline - this.now();
    return ahead <= 0 ? 0 : (ahead * NS_PER_TICK) / 1e6;
  }

  pause(): void {
    if (this.pausedAt < 0) this.pausedAt = this.now();
  }

  resume(): void {
    if (this.pausedAt < 0) return;
    const ticks = this.pausedAt;
    this.pausedAt = -1;
    this.set(ticks);
  }

  save(): ClockState {
    return { v: 1, mtime: this.now() };
  }

  restore(state: ClockState): void {
    if (state?.v !== 1 || !Number.isSafeInteger(state.mtime)) throw badState("clock", state);
    this.set(state.mtime);
  }
}

/** Deterministic time: one tick per `instructionsPerTick` retired instructions. */
export class InstructionClock implements MachineClock {
  readonly deterministic = true;
  private ticks = 0;
  /** Instructions retired since the last whole tick. */
  private residue = 0;

  constructor(readonly instructionsPerTick = 10) {
    if (!(Number.isInteger(instructionsPerTick) && instructionsPerTick > 0)) {
      throw new Error("instructionsPerTick must be a positive integer");
    }
  }

  now(): number {
    return this.ticks;
  }

  set(ticks: number): void {
    this.ticks = ticks;
    this.residue = 0;
  }

  retired(count: number): void {
    const total = this.residue + count;
    const whole = Math.floor(total / this.instructionsPerTick);
    this.ticks += whole;
    this.residue = total - whole * this.instructionsPerTick;
  }

  idleUntil(deadline: number): number {
    if (deadline === Infinity) return Infinity;
    if (deadline > this.ticks) this.set(deadline);
    return 0;
  }

  pause(): void {}

  resume(): void {}

  save(): ClockState {
    return { v: 1, mtime: this.ticks, residue: this.residue };
  }

  restore(state: ClockState): void {
    if (state?.v !== 1 || !Number.isSafeInteger(state.mtime)) throw badState("clock", state);
    this.set(state.mtime);
    const residue = state.residue ?? 0;
    if (Number.isInteger(residue) && residue >= 0 && residue < this.instructionsPerTick) this.residue = residue;
  }
}
