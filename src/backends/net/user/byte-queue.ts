/**
 * A FIFO of bytes kept as the chunks they arrived in: TCP's send buffer,
 * where the head is the oldest unacknowledged byte and any range can be
 * copied out again for retransmission.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already consumed. */
  private headOffset = 0;
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Drops the first `n` bytes (n ≤ length). */
  consume(n: number): void {
    this.length -= n;
    while (n > 0) {
      const head = this.chunks[0];
      const left = head.length - this.headOffset;
      if (n < left) {
        this.headOffset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  /** Copies `n` bytes starting `offset` bytes into the queue to `out` at `at`. */
  copyOut(offset: number, n: number, out: Uint8Array, at: number): void {
    let i = 0;
    let skip = offset + this.headOffset;
    while (skip >= this.chunks[i].length) skip -= this.chunks[i++].length;
    while (n > 0) {
      const chunk = this.chunks[i++];
      const take = Math.min(n, chunk.length - skip);
      out.set(chunk.subarray(skip, skip + take), at);
      at += take;
      n -= take;
      skip = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.headOffset = 0;
    this.length = 0;
  }
}
