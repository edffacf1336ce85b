/**
 * QEMU's stream framing (`-netdev stream`, `-netdev socket`, `net/stream.c`):
 * each Ethernet frame on a byte stream is a 4-byte big-endian length and
 * then that many bytes. Speaking it lets a real QEMU join our switch.
 *
 * A length beyond MAX_STREAM_FRAME cannot be resynchronised (there is no
 * marker to look for), so the decoder reports it and the owner drops the
 * connection, as QEMU does.
 */

/** QEMU's NET_BUFSIZE (4096 + 65536): the longest frame either side accepts. */
export const MAX_STREAM_FRAME = 4096 + 65536;
/** Shorter than an Ethernet header: skipped, not passed on. */
const MIN_FRAME = 14;

export class StreamFramingError extends Error {
  override name = "StreamFramingError";
}

/**
 * Splits a byte stream into frames. A frame that arrives whole inside one
 * chunk is handed out as a view of that chunk (no copy); one split across
 * chunks is gathered in a buffer of MAX_STREAM_FRAME, reused.
 */
export class StreamFrameDecoder {
  /** Frames shorter than an Ethernet header, skipped. */
  runts = 0;
  private readonly header = new Uint8Array(4);
  private headerHave = 0;
  /** Length of the frame being gathered, or -1 while reading a header. */
  private need = -1;
  private readonly partial = new Uint8Array(MAX_STREAM_FRAME);
  private partialHave = 0;

  constructor(private readonly onFrame: (frame: Uint8Array) => void) {}

  /** Feeds bytes; throws StreamFramingError on a length no peer may send (the stream is then unusable). */
  push(chunk: Uint8Array): void {
    let p = 0;
    while (p < chunk.length) {
      if (this.need < 0) {
        if (this.headerHave === 0 && chunk.length - p >= 4) {
          this.need = ((chunk[p] << 24) | (chunk[p + 1] << 16) | (chunk[p + 2] << 8) | chunk[p + 3]) >>> 0;
          p += 4;
        } else {
          this.header[this.headerHave++] = chunk[p++];
          if (this.headerHave < 4) continue;
          const h = this.header;
          this.need = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
          this.headerHave = 0;
        }
        if (this.need > MAX_STREAM_FRAME) throw new StreamFramingError(`frame length ${this.need} exceeds ${MAX_STREAM_FRAME}`);
        this.partialHave = 0;
        if (this.need === 0) this.finish(this.partial.subarray(0, 0));
        continue;
      }
      const want = this.need - this.partialHave;
      const take = Math.min(want, chunk.length - p);
      if (this.partialHave === 0 && take === want) {
        this.finish(chunk.subarray(p, p + take));
      } else {
        this.partial.set(chunk.subarray(p, p + take), this.partialHave);
        this.partialHave += take;
        if (this.partialHave === this.need) this.finish(this.partial.subarray(0, this.need));
      }
      p += take;
    }
  }

  private finish(frame: Uint8Array): void {
    this.need = -1;
    this.partialHave = 0;
    if (frame.length < MIN_FRAME) this.runts++;
    else this.onFrame(frame);
  }
}

/** The frame with its length prefix, in a new buffer (the caller's view may be guest RAM). */
export function encodeStreamFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}
