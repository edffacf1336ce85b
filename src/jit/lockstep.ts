/**
 * Lockstep: the same guest on two harts of two VMs, one with the JIT and
 * one interpreting, advanced chunk by chunk; after each chunk their
 * architectural state (every saved state word but the timer-check counter)
 * must be equal. Reports the first chunk whose state differs: where it
 * started and which registers disagree. A debugging tool
 * (tests/jit/lockstep.test.ts runs the ISA programs through it).
 */
import type { Hart } from "../cpu/hart.ts";
import { PC, SAVED_WORDS, TIMER_CHECK } from "../cpu/hart-state.ts";

/** One side: its hart, and how to run one chunk (returns false once the guest has finished). */
export interface LockstepSide {
  hart: Hart;
  chunk(): boolean;
}

export interface Divergence {
  /** Chunks run before the one that differed. */
  chunk: number;
  /** pc and instret at the start of that chunk. */
  pc: string;
  instret: number;
  /** "name: jit value, interpreter value" for each differing word pair. */
  differences: string[];
}

export interface LockstepResult {
  chunks: number;
  divergence: Divergence | null;
}

/** Runs both sides until either finishes or `maxChunks` chunks; stops at the first difference. */
export function lockstep(jit: LockstepSide, ref: LockstepSide, maxChunks: number): LockstepResult {
  for (let chunk = 0; chunk < maxChunks; chunk++) {
    const pc = ref.hart.state.getPc().toString(16);
    const instret = ref.hart.instretNow();
    const a = jit.chunk();
    const b = ref.chunk();
    const differences = compareStates(jit.hart, ref.hart);
    if (differences.length > 0) return { chunks: chunk, divergence: { chunk, pc, instret, differences } };
    if (a !== b) {
      return { chunks: chunk, divergence: { chunk, pc, instret, differences: [`finished: jit ${!a}, interpreter ${!b}`] } };
    }
    if (!a) return { chunks: chunk + 1, divergence: null };
  }
  return { chunks: maxChunks, divergence: null };
}

/** The state words that differ between two harts, named. */
export function compareStates(a: Hart, b: Hart): string[] {
  const out: string[] = [];
  if (a.instretNow() !== b.instretNow()) out.push(`instret: jit ${a.instretNow()}, interpreter ${b.instretNow()}`);
  for (let i = 0; i < SAVED_WORDS; i += 2) {
    if (i === TIMER_CHECK - 1) continue; // pairs TIMER_CHECK with the word below it: compared below
    if (a.w[i] !== b.w[i] || a.w[i + 1] !== b.w[i + 1]) {
      out.push(`${wordName(i)}: jit ${pair(a.w, i)}, interpreter ${pair(b.w, i)}`);
    }
  }
  if (a.w[TIMER_CHECK - 1] !== b.w[TIMER_CHECK - 1]) out.push(`word ${TIMER_CHECK - 1}: jit ${a.w[TIMER_CHECK - 1]}, interpreter ${b.w[TIMER_CHECK - 1]}`);
  return out;
}

function pair(w: Int32Array, i: number): string {
  return "0x" + (((BigInt(w[i + 1]) << 32n) | BigInt(w[i] >>> 0)) & 0xffffffffffffffffn).toString(16);
}

function wordName(i: number): string {
  if (i < 64) return `x${i / 2}`;
  if (i < 128) return `f${(i - 64) / 2}`;
  if (i === PC) return "pc";
  return `word ${i}`;
}
