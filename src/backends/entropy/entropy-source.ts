/** Where virtio-rng gets its bytes. Swappable so deterministic runs can seed it. */

export interface EntropySource {
  /** Fills `dst[offset .. offset+length)` with random bytes. */
  fill(dst: Uint8Array, offset: number, length: number): void;
}

/** The host's cryptographic random number generator (Web Crypto: Node and browsers). */
export const cryptoEntropy: EntropySource = {
  fill(dst, offset, length) {
    // getRandomValues fills at most 64 KiB per call.
    for (let at = offset; at < offset + length; at += 65536) {
      crypto.getRandomValues(dst.subarray(at, Math.min(at + 65536, offset + length)));
    }
  },
};
