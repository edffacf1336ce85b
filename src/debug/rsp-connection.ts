/**
 * The GDB Remote Serial Protocol's framing: `$payload#cs` packets with a
 * two-hex-digit checksum, `+`/`-` acknowledgements (until QStartNoAckMode),
 * and the bare interrupt byte 0x03 (Ctrl-C in gdb).
 *
 * `RspParser` is pure (bytes in, events out) so hostile input can be tested
 * without a socket; `RspConnection` puts it on a node socket. Nothing a peer
 * sends can throw: a bad checksum is answered `-`, an oversized packet is
 * dropped, stray bytes between packets are ignored.
 */
import type { Socket } from "node:net";

/** Largest payload we accept (and advertise as PacketSize, in hex, in qSupported). */
export const MAX_PACKET = 0x4000;

export interface RspEvents {
  /** A packet with a good checksum: its payload, raw (escapes are the command's business). */
  packet(payload: Buffer): void;
  /** A packet with a bad checksum (or too long): ask for it again. */
  corrupt(): void;
  /** The interrupt byte (0x03) outside a packet. */
  interrupt(): void;
  /** `-` from the peer: send the last packet again. */
  nack(): void;
}

const enum State {
  Idle,
  Payload,
  Check1,
  Check2,
}

export class RspParser {
  private state = State.Idle;
  private readonly buf = Buffer.alloc(MAX_PACKET);
  private len = 0;
  private sum = 0;
  private overflow = false;
  private check = 0;

  constructor(private readonly events: RspEvents) {}

  feed(data: Uint8Array): void {
    for (const b of data) this.byte(b);
  }

  private byte(b: number): void {
    switch (this.state) {
      case State.Idle:
        if (b === 0x24 /* $ */) this.start();
        else if (b === 0x03) this.events.interrupt();
        else if (b === 0x2d /* - */) this.events.nack();
        // '+' and noise between packets are ignored
        return;
      case State.Payload:
        if (b === 0x23 /* # */) {
          this.state = State.Check1;
        } else if (b === 0x24) {
          this.start(); // a new packet restarts framing (the old one was cut off)
        } else {
          this.sum = (this.sum + b) & 0xff;
          if (this.len < MAX_PACKET) this.buf[this.len++] = b;
          else this.overflow = true;
        }
        return;
      case State.Check1: {
        const v = hexDigit(b);
        if (v < 0) return this.bad(b);
        this.check = v << 4;
        this.state = State.Check2;
        return;
      }
      case State.Check2: {
        const v = hexDigit(b);
        if (v < 0) return this.bad(b);
        this.state = State.Idle;
        if ((this.check | v) !== this.sum || this.overflow) this.events.corrupt();
        else this.events.packet(Buffer.from(this.buf.subarray(0, this.len)));
        return;
      }
    }
  }

  private start(): void {
    this.state = State.Payload;
    this.len = 0;
    this.sum = 0;
    this.overflow = false;
  }

  private bad(b: number): void {
    this.state = State.Idle;
    this.events.corrupt();
    if (b === 0x24) this.start();
  }
}

export function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** `$payload#cs`, escaping the bytes the framing reserves (`$ # } *`). */
export function framePacket(payload: Buffer): Buffer {
  const out: number[] = [0x24];
  let sum = 0;
  for (const b of payload) {
    if (b === 0x24 || b === 0x23 || b === 0x7d || b === 0x2a) {
      out.push(0x7d, b ^ 0x20);
      sum += 0x7d + (b ^ 0x20);
    } else {
      out.push(b);
      sum += b;
    }
  }
  const cs = (sum & 0xff).toString(16).padStart(2, "0");
  out.push(0x23, cs.charCodeAt(0), cs.charCodeAt(1));
  return Buffer.from(out);
}

/** Undoes `}` escapes (binary data of X packets). */
export function unescapeBinary(data: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x7d && i + 1 < data.length) out.push(data[++i] ^ 0x20);
    else out.push(data[i]);
  }
  return Buffer.from(out);
}

/** The protocol on one socket: acks (until no-ack mode), retransmission on `-`. */
export class RspConnection {
  private readonly parser: RspParser;
  private noAck = false;
  private last: Buffer | null = null;
  private retries = 0;
  closed = false;

  constructor(
    private readonly socket: Socket,
    handlers: { packet(payload: Buffer): void; interrupt(): void; close(): void },
  ) {
    this.parser = new RspParser({
      packet: (p) => {
        if (!this.noAck) this.write(Buffer.from("+"));
        handlers.packet(p);
      },
      corrupt: () => {
        if (!this.noAck) this.write(Buffer.from("-"));
      },
      interrupt: () => handlers.interrupt(),
      nack: () => {
        if (this.noAck || this.last === null || ++this.retries > 10) return;
        this.write(this.last);
      },
    });
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.parser.feed(d));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      this.closed = true;
      handlers.close();
    });
  }

  /** After our OK to QStartNoAckMode: no more `+`/`-` either way. */
  startNoAck(): void {
    this.noAck = true;
  }

  send(payload: string | Buffer): void {
    const framed = framePacket(typeof payload === "string" ? Buffer.from(payload, "latin1") : payload);
    this.last = framed;
    this.retries = 0;
    this.write(framed);
  }

  close(): void {
    if (!this.closed) this.socket.end();
  }

  private write(data: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(data);
  }
}
