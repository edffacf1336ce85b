/** The write sequence crash-writer.ts performs, so the test can replay it. */
import { pattern, rng } from "./helpers.ts";

export const GROUP = 8;
export const WRITES = 4000;

export interface PlannedWrite {
  position: number;
  data: Uint8Array;
}

export function* crashWrites(seed: number, size: number): Generator<PlannedWrite> {
  const r = rng(seed);
  for (let i = 0; i < WRITES; i++) {
    const length = 512 * (1 + r(64));
    const position = 512 * r((size - length) / 512);
    yield { position, data: pattern(length, seed * 100000 + i) };
  }
}
