/**
 * A single-producer, single-consumer byte ring in a SharedArrayBuffer: how
 * console bytes cross between the host thread and a VM's worker without a
 * message per chunk. A full ring is back-pressure: the writer waits for
 * space, so neither side can make the other buffer without bound.
 *
 * The header holds two Int32 counters that only grow (wrapping at 2^32):
 * `head` (bytes ever written, stored by the writer) and `tail` (bytes ever
 * read, stored by the reader). Atomics.store publishes a counter after the
 * bytes it covers are copied, Atomics.load reads it before copying (release /
 * acquire), and Atomics.notify on a counter wakes a waitAsync on the other
 * side.
 */
const HEAD = 0;
const TAIL = 1;
const HEADER_BYTES = 8;

export class ByteRing {
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly data: Uint8Array;

  /** A new ring of `capacity` bytes (a power of two). */
  static allocate(capacity: number): SharedArrayBuffer {
    if (capacity <= 0 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity ${capacity} is not a power of two`);
    return new SharedArrayBuffer(HEADER_BYTES + capacity);
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.header = new Int32Array(buffer, 0, 2);
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
  }

  /** Bytes waiting to be read. */
  get used(): number {
    return (Atomics.load(this.header, HEAD) - Atomics.load(this.header, TAIL)) >>> 0;
  }

  /** Copies as much of `src` as fits; returns how many bytes were taken. */
  write(src: Uint8Array): number {
    const head = this.header[HEAD];
    const free = this.capacity - ((head - Atomics.load(this.header, TAIL)) >>> 0);
    const n = Math.min(free, src.length);
    if (n === 0) return 0;
    const at = head & (this.capacity - 1);
    const first = Math.min(n, this.capacity - at);
    this.data.set(src.subarray(0, first), at);
    if (n > first) this.data.set(src.subarray(first, n), 0);
    Atomics.store(this.header, HEAD, (head + n) | 0);
    Atomics.notify(this.header, HEAD);
    return n;
  }

  /** Takes up to `max` bytes (a fresh Buffer), or null when the ring is empty. */
  read(max: number): Buffer | null {
    const tail = this.header[TAIL];
    const n = Math.min(max, (Atomics.load(this.header, HEAD) - tail) >>> 0);
    if (n === 0) return null;
    const out = Buffer.allocUnsafe(n);
    const at = tail & (this.capacity - 1);
    const first = Math.min(n, this.capacity - at);
    out.set(this.data.subarray(at, at + first), 0);
    if (n > first) out.set(this.data.subarray(0, n - first), first);
    Atomics.store(this.header, TAIL, (tail + n) | 0);
    Atomics.notify(this.header, TAIL);
    return out;
  }

  /** Resolves when there are bytes to read (or `wake` was called). */
  whenReadable(): Promise<void> {
    return this.waitWhile(HEAD, () => this.used === 0);
  }

  /** Resolves when there is room to write (or `wake` was called). */
  whenWritable(): Promise<void> {
    return this.waitWhile(TAIL, () => this.used === this.capacity);
  }

  /** Ends every wait on this ring, e.g. because the other side is gone. */
  wake(): void {
    Atomics.notify(this.header, HEAD);
    Atomics.notify(this.header, TAIL);
  }

  private waitWhile(counter: number, blocked: () => boolean): Promise<void> {
    const seen = Atomics.load(this.header, counter);
    if (!blocked()) return Promise.resolve();
    const wait = Atomics.waitAsync(this.header, counter, seen);
    return wait.async ? wait.value.then(() => undefined) : Promise.resolve();
  }
}
