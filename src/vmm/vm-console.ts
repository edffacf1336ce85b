/**
 * A VM's serial console as a Node Duplex: reading yields what the guest
 * writes to its UART, writing types into it. Both directions go through a
 * ByteRing shared with the worker, and both honour back-pressure: bytes
 * leave the output ring only while the stream's reader keeps up (so a guest
 * flooding its console waits instead of filling host memory), and a write
 * calls back only once the input ring has taken all of it.
 */
import { Duplex } from "node:stream";
import type { ByteRing } from "./byte-ring.ts";

const READ_CHUNK = 16384;

export class VmConsole extends Duplex {
  private pumping = false;
  /** The worker has ended: no more output will come, and input has nowhere to go. */
  private detached = false;

  constructor(
    private readonly output: ByteRing,
    private readonly input: ByteRing,
  ) {
    super({ allowHalfOpen: true });
  }

  /** The worker ended: deliver the rest of its output, then end the readable side. */
  detach(): void {
    this.detached = true;
    this.output.wake();
    this.input.wake();
  }

  override _read(): void {
    if (!this.pumping) void this.pump();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    void this.feed(chunk).then(() => callback(), callback);
  }

  /** Moves output into the stream until the reader stops wanting more. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const chunk = this.output.read(READ_CHUNK);
        if (chunk !== null) {
          if (!this.push(chunk)) return;
        } else if (this.detached) {
          this.push(null);
          return;
        } else {
          await this.output.whenReadable();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async feed(chunk: Uint8Array): Promise<void> {
    let rest = chunk;
    for (;;) {
      rest = rest.subarray(this.input.write(rest));
      // Input for a VM that has ended is dropped, as a serial line to a switched-off machine.
      if (rest.length === 0 || this.detached) return;
      await this.input.whenWritable();
    }
  }
}
