/**
 * QEMU's stream framing (`-netdev stream`, `-netdev socket`, `net/stream.c`):
 * each Ethernet frame on a byte stream is a 4-byte big-endian length and
 * then that many bytes. Speaking it lets a real QEMU join our switch.
 *
 * A length beyond MAX_STREAM_FRAME cannot be resynchronised (there is no
 * marker to look for), so the decoder reports it and the owner drops the
 * connection, as QEMU does.
 *
 * Our extension, used only between Typevisor ends that agreed to it
 * (offload-hello.ts): a length with its top bit set carries an offloaded
 * frame — its 10 offload bytes (offload.ts, packOffload) come first, then
 * the frame — so two guests with TSO exchange 64 KiB super-frames. QEMU
 * never sets that bit (its lengths are at most NET_BUFSIZE), and a decoder
 * that has not agreed treats it as the bad length it would be.
 */
import { NetOffload, PACKED_OFFLOAD_SIZE, packOffload, unpackOffload } from "./offload.ts";

/** QEMU's NET_BUFSIZE (4096 + 65536): the longest frame either side accepts. */
export const MAX_STREAM_FRAME = 4096 + 65536;
/** Shorter than an Ethernet header: skipped, not passed on. */
const MIN_FRAME = 14;
/** The length bit of an offloaded frame (our extension). */
const OFFLOADED = 0x80000000;

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
  private readonly partial = new Uint8Array(MAX_STREAM_FRAME + PACKED_OFFLOAD_SIZE);
  private partialHave = 0;
  /** Whether the frame being read is an offloaded one. */
  private offloaded = false;
  private readonly offload = new NetOffload();
  /** Set once this end announced it takes offloaded frames (offload-hello.ts). */
  acceptsOffloaded = false;

  constructor(private readonly onFrame: (frame: Uint8Array, offload?: NetOffload) => void) {}

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
        this.offloaded = this.acceptsOffloaded && (this.need & OFFLOADED) !== 0;
        if (this.offloaded) {
          this.need = (this.need & ~OFFLOADED) >>> 0;
          if (this.need < PACKED_OFFLOAD_SIZE || this.need > MAX_STREAM_FRAME + PACKED_OFFLOAD_SIZE) {
            throw new StreamFramingError(`offloaded frame length ${this.need} is out of range`);
          }
        } else if (this.need > MAX_STREAM_FRAME) {
          throw new StreamFramingError(`frame length ${this.need} exceeds ${MAX_STREAM_FRAME}`);
        }
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
    const offload = this.offloaded ? unpackOffload(frame, 0, this.offload) : undefined;
    if (offload !== undefined) frame = frame.subarray(PACKED_OFFLOAD_SIZE);
    if (frame.length < MIN_FRAME) this.runts++;
    else this.onFrame(frame, offload);
  }
}

/** The frame with its length prefix (and with `offload`, our offloaded form), in a new buffer (the caller's view may be guest RAM). */
export function encodeStreamFrame(frame: Uint8Array, offload?: NetOffload): Buffer {
  if (offload === undefined) {
    const out = Buffer.allocUnsafe(4 + frame.length);
    out.writeUInt32BE(frame.length, 0);
    out.set(frame, 4);
    return out;
  }
  const out = Buffer.allocUnsafe(4 + PACKED_OFFLOAD_SIZE + frame.length);
  out.writeUInt32BE((OFFLOADED | (PACKED_OFFLOAD_SIZE + frame.length)) >>> 0, 0);
  packOffload(out, 4, offload);
  out.set(frame, 4 + PACKED_OFFLOAD_SIZE);
  return out;
}
