/** A cable to nowhere: transmitted frames vanish and nothing is ever received. */
import type { EthernetBackend } from "./ethernet-backend.ts";

export class NullEthernetBackend implements EthernetBackend {
  /** Frames the guest sent (and that were dropped). */
  sent = 0;

  send(_frame: Uint8Array): void {
    this.sent++;
  }

  onReceive(_receiver: (frame: Uint8Array) => void): void {}
}
