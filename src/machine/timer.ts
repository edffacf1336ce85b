/**
 * Board-internal contracts between devices, harts and the run loop.
 */

/** What a device drives interrupt bits on. `Hart` satisfies it. */
export interface HartIrq {
  setPending(mask: number, level: boolean): void;
}

/**
 * A device with a deadline in virtual time (CLINT mtimecmp, RTC alarm). The
 * run loop polls it between instruction batches, and an idle machine sleeps
 * until the earliest deadline instead of spinning.
 */
export interface TimerSource {
  /**
   * Raises every interrupt whose deadline is at or before `now` (mtime
   * ticks) and returns the next deadline still ahead, or Infinity.
   */
  pollTimers(now: number): number;
}

/** A saved device state that is not the version this code writes. */
export function badState(device: string, state: unknown): Error {
  const v = typeof state === "object" && state !== null ? (state as { v?: unknown }).v : undefined;
  return new Error(`${device}: cannot restore state version ${String(v)}`);
}
