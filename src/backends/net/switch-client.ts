/**
 * `--net switch=PATH`: a NIC plugged into the switch listening on a Unix
 * socket (switch-socket.ts; `typevisor switch PATH` runs one), in QEMU's
 * stream framing — so it can as well be QEMU's `-netdev stream,server=on`.
 * Frames go out through a bounded queue; if the switch goes away the
 * cable is unplugged and frames are dropped.
 *
 * Connected to our switch, the NIC says hello (offload-hello.ts): it tells
 * the switch which offloads its guest takes, the switch answers that it
 * takes all, and from then on super-frames with partial checksums cross
 * the socket as they are. Connected to QEMU, nobody answers and frames
 * stay plain.
 */
import { createConnection } from "node:net";
import { once } from "node:events";
import type { EthernetBackend, FrameReceiver } from "./ethernet-backend.ts";
import { StreamLink } from "./stream-link.ts";
import { HELLO_REPLY, HELLO_REQUEST, offloadHello, parseOffloadHello } from "./offload-hello.ts";
import { OFFLOAD_ALL, type NetOffload } from "./offload.ts";

export class SwitchClientBackend implements EthernetBackend {
  readonly link: StreamLink;
  private receiver: FrameReceiver | null = null;
  private readonly connected: Promise<void>;
  private isConnected = false;
  /** What the guest takes (acceptOffloads), told to the switch. */
  private guestOffloads = 0;

  constructor(readonly path: string) {
    const socket = createConnection(path);
    this.link = new StreamLink(socket, (frame, offload) => {
      const hello = offload === undefined ? parseOffloadHello(frame) : null;
      if (hello === null) this.receiver?.(frame, offload);
      else if (hello.role === HELLO_REPLY) this.link.peerOffloads = hello.offloads & OFFLOAD_ALL;
    });
    this.connected = once(socket, "connect").then(
      () => {
        this.isConnected = true;
        this.sayHello();
      },
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

  /** What the switch takes: nothing until it answered our hello. */
  get sendOffloads(): number {
    return this.link.peerOffloads;
  }

  send(frame: Uint8Array, offload?: NetOffload): void {
    this.link.send(frame, offload);
  }

  onReceive(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  acceptOffloads(mask: number): void {
    if (mask === this.guestOffloads) return;
    this.guestOffloads = mask;
    if (this.isConnected) this.sayHello();
  }

  private sayHello(): void {
    this.link.acceptOffloaded();
    this.link.send(offloadHello(HELLO_REQUEST, this.guestOffloads));
  }

  close(): void {
    this.link.end();
  }
}
