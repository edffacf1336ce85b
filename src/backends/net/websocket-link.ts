/**
 * A NIC's host side in a browser tab: a WebSocket to the daemon, one
 * Ethernet frame per binary message each way (the daemon joins the VM's
 * switch or NAT with it). Frames the guest sends before the socket is open
 * or after it closed are dropped, as on an unplugged cable.
 */
import type { EthernetBackend } from "./ethernet-backend.ts";

export class WebSocketLink implements EthernetBackend {
  readonly stats = { txFrames: 0, rxFrames: 0, dropped: 0 };
  private readonly socket: WebSocket;
  private receiver: ((frame: Uint8Array) => void) | null = null;
  private readonly opened: Promise<void>;

  constructor(readonly url: string) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener("close", (e) => reject(new Error(`the NIC's WebSocket ${url} closed before it opened (code ${e.code})`)), { once: true });
    });
    this.opened.catch(() => {}); // reported through ready()
    this.socket.addEventListener("message", (e: MessageEvent) => {
      if (!(e.data instanceof ArrayBuffer)) return;
      this.stats.rxFrames++;
      this.receiver?.(new Uint8Array(e.data));
    });
  }

  ready(): Promise<void> {
    return this.opened;
  }

  send(frame: Uint8Array): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      this.stats.dropped++;
      return;
    }
    this.stats.txFrames++;
    this.socket.send(frame.slice());
  }

  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  close(): void {
    this.socket.close();
  }
}
