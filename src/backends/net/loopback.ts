/**
 * A loopback plug: every frame the guest sends comes straight back to it,
 * synchronously, from inside the `send` call.
 */
import type { EthernetBackend } from "./ethernet-backend.ts";

export class LoopbackEthernetBackend implements EthernetBackend {
  private receiver: ((frame: Uint8Array) => void) | null = null;

  send(frame: Uint8Array): void {
    this.receiver?.(frame);
  }

  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }
}
