/**
 * One end of a stream-framed link (stream-framing.ts) over a connected
 * socket: frames in through a decoder, frames out through a bounded queue.
 *
 * The queue is the socket's own write buffer, capped at MAX_QUEUED_BYTES:
 * a frame that would go past it is dropped and counted, as a real switch
 * port drops when its egress queue is full. So a peer that stops reading
 * costs at most that much memory and never slows anyone else down.
 * Writes made in one turn of the event loop leave in one `writev`.
 *
 * Offloaded frames (offload.ts) go as they are once the peer said it takes
 * them (`peerOffloads`, offload-hello.ts), and are made plain here
 * otherwise.
 */
import type { Socket } from "node:net";
import { NetOffload, acceptsAsIs } from "./offload.ts";
import { PlainFrames } from "./plain-frames.ts";
import { TurnCork } from "./turn-cork.ts";
import { StreamFrameDecoder, StreamFramingError, encodeStreamFrame } from "./stream-framing.ts";

export const MAX_QUEUED_BYTES = 512 * 1024;

export interface LinkStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames not sent because the peer's queue was full (or the link closed). */
  dropped: number;
  /** Exceptions from handling a received frame: a bug if ever non-zero. */
  internalErrors: number;
}

export class StreamLink {
  readonly stats: LinkStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, internalErrors: 0 };
  /** Why the link ended, once it has: "closed by peer", or what went wrong. */
  endReason: string | null = null;
  private readonly decoder: StreamFrameDecoder;
  private readonly cork: TurnCork;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  /** What the peer takes in offloaded frames (OFFLOAD_* bits; 0 until it says). */
  peerOffloads = 0;
  private readonly plain = new PlainFrames();
  private readonly sendPlain = (frame: Uint8Array): void => {
    this.send(frame);
  };

  constructor(
    private readonly socket: Socket,
    onFrame: (frame: Uint8Array, offload?: NetOffload) => void,
  ) {
    this.decoder = new StreamFrameDecoder((frame, offload) => {
      this.stats.framesIn++;
      this.stats.bytesIn += frame.length;
      // Caught per frame: an exception must not cut the chunk short (the stream would lose its framing) nor crash the switch.
      try {
        onFrame(frame, offload);
      } catch {
        this.stats.internalErrors++;
      }
    });
    this.cork = new TurnCork(socket);
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => {
      if (this.endReason !== null) return;
      try {
        this.decoder.push(chunk);
      } catch (e) {
        this.end(`bad framing: ${(e as StreamFramingError).message}`);
      }
    });
    socket.on("error", (e) => this.end(e.message));
    socket.on("close", () => this.end("closed by peer"));
  }

  /** From now on the peer may send offloaded frames (this end told it so). */
  acceptOffloaded(): void {
    this.decoder.acceptsOffloaded = true;
  }

  /** Queues a frame for the peer (copied; made plain first unless the peer takes its offloads); false when dropped. */
  send(frame: Uint8Array, offload?: NetOffload): boolean {
    if (offload !== undefined && !offload.plain && !acceptsAsIs(offload, this.peerOffloads)) {
      if (this.plain.convert(frame, offload, this.sendPlain) === "ok") return true;
      this.stats.dropped++;
      return false;
    }
    if (this.endReason !== null || this.socket.writableLength + frame.length > MAX_QUEUED_BYTES) {
      this.stats.dropped++;
      return false;
    }
    this.cork.hold();
    this.socket.write(encodeStreamFrame(frame, offload !== undefined && !offload.plain ? offload : undefined));
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    return true;
  }

  /** Called once when the link ends, whichever side ends it. */
  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Ends the link (idempotent). */
  end(reason = "closed"): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    this.socket.destroy();
    for (const handler of this.closeHandlers) handler(reason);
  }
}
