/**
 * `--net switch=PATH`: a NIC plugged into the switch listening on a Unix
 * socket (switch-socket.ts; `typevisor switch PATH` runs one), in QEMU's
 * stream framing — so it can as well be QEMU's `-netdev stream,server=on`.
 * Frames go out through a bounded queue; if the switch goes away the
 * cable is unplugged and frames are dropped.
 */
import { createConnection } from "node:net";
import { once } from "node:events";
import type { EthernetBackend } from "./ethernet-backend.ts";
import { StreamLink } from "./stream-link.ts";

export class SwitchClientBackend implements EthernetBackend {
  readonly link: StreamLink;
  private receiver: ((frame: Uint8Array) => void) | null = null;
  private readonly connected: Promise<void>;

  constructor(readonly path: string) {
    const socket = createConnection(path);
    this.link = new StreamLink(socket, (frame) => this.receiver?.(frame));
    this.connected = once(socket, "connect").then(
      () => undefined,
      (e: NodeJS.ErrnoException) => {
        const why = e.code === "ENOENT" || e.code === "ECONNREFUSED" ? "no switch is listening there (start one: typevisor switch PATH)" : e.message;
        throw new Error(`--net switch=${path}: ${why}`);
      },
    );
    this.connected.catch(() => {}); // reported through ready()
  }

  /** Resolves once connected to the switch; rejects with a one-line reason. */
  ready(): Promise<void> {
    return this.connected;
  }

  send(frame: Uint8Array): void {
    this.link.send(frame);
  }

  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  close(): void {
    this.link.end();
  }
}
