/**
 * Host time for the board's clocks, in Node and in a browser worker alike:
 * Node's hrtime (nanoseconds) where it exists, else performance.now()
 * (microseconds or coarser in a browser, still monotonic).
 */
const hrtime = (globalThis as { process?: { hrtime?: { bigint(): bigint } } }).process?.hrtime;

/** Monotonic host nanoseconds from an arbitrary origin. */
export const monotonicNs: () => bigint =
  hrtime !== undefined ? () => hrtime.bigint() : () => BigInt(Math.round(performance.now() * 1e6));
