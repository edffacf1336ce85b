/**
 * `dump=FILE.pcap`: every frame a NIC sends and receives, in the classic
 * pcap format (what `tcpdump -r` and Wireshark read): a 24-byte file
 * header (microsecond timestamps, LINKTYPE_ETHERNET), then per frame a
 * 16-byte record header and the frame.
 *
 * Records are gathered in a 64 KiB buffer and written when it fills, a
 * second after the first unwritten one, and at close, so capturing costs
 * one copy per frame and a write now and then, not a system call per frame.
 *
 * A frame with a partial checksum (offload.ts) is recorded with the
 * checksum finished, so the capture shows what the wire would carry; a TCP
 * super-frame is recorded whole (its IP length is right; Wireshark and
 * tcpdump read it as one large segment, as in a capture taken on a Linux
 * host with TSO).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { EthernetBackend, FrameReceiver } from "./ethernet-backend.ts";
import { NET_HDR_F_NEEDS_CSUM, NetOffload } from "./offload.ts";
import { MAX_OFFLOAD_FRAME, finishPartialChecksum } from "./plain-frames.ts";

const PCAP_MAGIC_US = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
/** Largest frame recorded whole (tcpdump's default snap length). */
export const PCAP_SNAPLEN = 262144;
const BUFFER_SIZE = 65536;
const RECORD_HEADER = 16;
const FLUSH_AFTER_MS = 1000;

export class PcapWriter {
  /** Frames recorded. */
  frames = 0;
  private fd: number | null;
  private readonly buffer = Buffer.alloc(BUFFER_SIZE);
  private used = 0;
  private timer: NodeJS.Timeout | null = null;

  /** Creates (or truncates) `path`; throws a one-line Error if it cannot. */
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, "w");
    } catch (e) {
      throw new Error(`dump=${path}: cannot write the capture: ${(e as Error).message}`);
    }
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC_US, 0);
    h.writeUInt16LE(2, 4); // version 2.4
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    writeSync(this.fd, h);
  }

  /** Records one frame, stamped now. */
  record(frame: Uint8Array): void {
    if (this.fd === null) return;
    const kept = Math.min(frame.length, PCAP_SNAPLEN);
    const size = RECORD_HEADER + kept;
    if (this.used + size > BUFFER_SIZE) this.flush();
    this.frames++;
    if (size > BUFFER_SIZE) {
      // A frame larger than the buffer (up to 64 KiB of payload): straight to the file.
      const header = Buffer.alloc(RECORD_HEADER);
      writeRecordHeader(header, 0, kept, frame.length);
      writeSync(this.fd, header);
      writeSync(this.fd, frame, 0, kept);
      return;
    }
    writeRecordHeader(this.buffer, this.used, kept, frame.length);
    this.buffer.set(frame.subarray(0, kept), this.used + RECORD_HEADER);
    this.used += size;
    this.timer ??= setTimeout(() => this.flush(), FLUSH_AFTER_MS).unref();
  }

  /** Writes what is buffered. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.fd === null || this.used === 0) return;
    writeSync(this.fd, this.buffer, 0, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function writeRecordHeader(out: Buffer, at: number, kept: number, length: number): void {
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  out.writeUInt32LE(Math.floor(us / 1e6), at);
  out.writeUInt32LE(us % 1e6, at + 4);
  out.writeUInt32LE(kept, at + 8);
  out.writeUInt32LE(length, at + 12);
}

/** `inner` with every frame both ways recorded into `dump`; closing it closes both. */
export class CapturingBackend implements EthernetBackend {
  private readonly finished = new Uint8Array(MAX_OFFLOAD_FRAME);

  constructor(
    readonly inner: EthernetBackend,
    readonly dump: PcapWriter,
  ) {}

  /** The inner backend's, asked each time (a switch NIC's changes once the switch answers its hello). */
  get sendOffloads(): number {
    return this.inner.sendOffloads ?? 0;
  }

  send(frame: Uint8Array, offload?: NetOffload): void {
    this.record(frame, offload);
    this.inner.send(frame, offload);
  }

  onReceive(receiver: FrameReceiver): void {
    this.inner.onReceive((frame, offload) => {
      this.record(frame, offload);
      receiver(frame, offload);
    });
  }

  acceptOffloads(mask: number): void {
    this.inner.acceptOffloads?.(mask);
  }

  /** Records the frame with any partial checksum finished (in a copy: the frame itself goes on untouched). */
  private record(frame: Uint8Array, offload: NetOffload | undefined): void {
    if (offload !== undefined && (offload.flags & NET_HDR_F_NEEDS_CSUM) !== 0 && frame.length <= this.finished.length) {
      const copy = this.finished.subarray(0, frame.length);
      copy.set(frame);
      if (finishPartialChecksum(copy, offload)) {
        this.dump.record(copy);
        return;
      }
    }
    this.dump.record(frame);
  }

  ready(): Promise<void> {
    return this.inner.ready?.() ?? Promise.resolve();
  }

  forgetStation(mac: Uint8Array): void {
    this.inner.forgetStation?.(mac);
  }

  close(): void {
    this.inner.close?.();
    this.dump.close();
  }
}
