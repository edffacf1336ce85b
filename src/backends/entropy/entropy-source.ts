/** Where virtio-rng gets its bytes. Swappable so deterministic runs can seed it. */
import { randomFillSync } from "node:crypto";

export interface EntropySource {
  /** Fills `dst[offset .. offset+length)` with random bytes. */
  fill(dst: Uint8Array, offset: number, length: number): void;
}

/** The host's cryptographic random number generator. */
export const cryptoEntropy: EntropySource = {
  fill(dst, offset, length) {
    randomFillSync(dst, offset, length);
  },
};
