/**
 * virtio-console (virtio 1.2 section 5.3) with a single port and no
 * multiport: queue 0 carries host input to the guest, queue 1 guest output
 * to the host. Linux exposes it as /dev/hvc0.
 */
import type { AccessSize } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import { VIRTIO_ID_CONSOLE } from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";

/** A byte stream on the host side: a terminal, a socket, a log file. */
export interface CharStream {
  /** Guest output (valid only during the call). */
  write(data: Uint8Array): void;
  /** Registers the one receiver of host input for the guest. */
  onData(receiver: (data: Uint8Array) => void): void;
}

/** Input kept while the guest has no receive buffers; beyond this it is dropped. */
export const MAX_PENDING_INPUT = 64 * 1024;
/**
 * Most output bytes taken from one chain, so aliased giant buffers cannot
 * make the host write without end (Linux sends at most a page at a time).
 */
export const MAX_OUTPUT_PER_REQUEST = 1 << 20;
const RX_QUEUE = 0;
const TX_QUEUE = 1;
const CONFIG_SIZE = 12; // cols, rows, max_nr_ports, emerg_wr: unused without features

export interface VirtioConsoleOptions {
  stream: CharStream;
  /** Queue size (power of two; default 128). */
  queueSize?: number;
}

export interface VirtioConsoleState {
  v: 1;
  pending: Uint8Array;
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly name = "virtio-console";
  readonly features = 0n;
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(CONFIG_SIZE);
  /** Bytes dropped because the guest was not reading. */
  inputDropped = 0;
  private ctx: VirtioContext | null = null;
  private readonly stream: CharStream;
  /** Pending input: a ring would be tighter, but input is slow and small. */
  private pending = new Uint8Array(0);
  private readonly txScratch = new Uint8Array(4096);

  constructor(opts: VirtioConsoleOptions) {
    this.stream = opts.stream;
    const size = opts.queueSize ?? 128;
    this.queueSizes = [size, size];
    opts.stream.onData((data) => this.input(data));
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  writeConfig(_offset: number, _size: AccessSize, _value: number): void {}

  queueNotify(index: number): void {
    if (index === RX_QUEUE) this.drainInput();
    else if (index === TX_QUEUE) this.output();
  }

  reset(): void {
    this.pending = new Uint8Array(0);
  }

  save(): VirtioConsoleState {
    return { v: 1, pending: this.pending.slice() };
  }

  restore(state: unknown): void {
    const s = state as VirtioConsoleState | null;
    if (s?.v !== 1 || !(s.pending instanceof Uint8Array)) throw badState(this.name, state);
    this.pending = s.pending.slice(0, MAX_PENDING_INPUT);
  }

  /** Host input (valid only during this call). Kept until the guest has buffers for it. */
  input(data: Uint8Array): void {
    const room = MAX_PENDING_INPUT - this.pending.length;
    const take = Math.min(room, data.length);
    this.inputDropped += data.length - take;
    if (take > 0) {
      const joined = new Uint8Array(this.pending.length + take);
      joined.set(this.pending);
      joined.set(data.subarray(0, take), this.pending.length);
      this.pending = joined;
    }
    this.drainInput();
  }

  private drainInput(): void {
    const ctx = this.ctx;
    if (ctx === null || this.pending.length === 0) return;
    const q = ctx.queues[RX_QUEUE];
    let sent = 0;
    let pushed = false;
    while (sent < this.pending.length) {
      const c = q.pop();
      if (c === null) break;
      const n = c.writeBytes(0, this.pending, sent, this.pending.length - sent);
      q.push(c.head, n);
      pushed = true;
      sent += n;
      if (n === 0) break; // a chain with no writable room: don't spin on it
    }
    if (sent > 0) this.pending = this.pending.slice(sent);
    if (pushed) ctx.notifyUsed(RX_QUEUE);
  }

  private output(): void {
    const ctx = this.ctx;
    if (ctx === null) return;
    const q = ctx.queues[TX_QUEUE];
    let pushed = false;
    for (let c = q.pop(); c !== null; c = q.pop()) {
      const total = Math.min(c.readableBytes, MAX_OUTPUT_PER_REQUEST);
      for (let from = 0; from < total; ) {
        const n = c.readBytes(from, this.txScratch, 0, Math.min(this.txScratch.length, total - from));
        if (n === 0) break;
        this.stream.write(this.txScratch.subarray(0, n));
        from += n;
      }
      q.push(c.head, 0);
      pushed = true;
    }
    if (pushed) ctx.notifyUsed(TX_QUEUE);
  }
}
