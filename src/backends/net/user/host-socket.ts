/** A node:net socket as the host end of a guest TCP connection. */
import type { Socket } from "node:net";
import type { TcpConnection, TcpHostSide } from "./tcp-connection.ts";
import { TurnCork } from "../turn-cork.ts";

export class SocketHostSide implements TcpHostSide {
  private readonly cork: TurnCork;

  constructor(readonly socket: Socket) {
    this.cork = new TurnCork(socket);
  }

  /**
   * Segments the guest sends in one turn of the run loop leave in one
   * writev: the socket is corked until the turn ends.
   */
  write(data: Uint8Array): void {
    this.cork.hold();
    this.socket.write(Buffer.from(data)); // a copy: `data` is a view of guest RAM
  }

  end(): void {
    this.socket.end();
  }

  /**
   * Closes with a RST, so the host peer sees the reset the guest sent. A
   * socket whose end() is already under way is destroyed plainly: Node 20's
   * resetAndDestroy then spins the event loop (seen in tests/net/tcp.test.ts).
   */
  destroy(): void {
    if (this.socket.writableEnded) this.socket.destroy();
    else this.socket.resetAndDestroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }
}

/** Routes a connected socket's events to its connection. */
export function bridgeSocket(socket: Socket, conn: TcpConnection): void {
  socket.setNoDelay(true);
  socket.on("data", (chunk: Buffer) => conn.hostData(chunk));
  socket.on("end", () => conn.hostEnd());
  socket.on("drain", () => conn.hostDrained());
  socket.on("error", () => {}); // 'close' follows with hadError set
  socket.on("close", (hadError: boolean) => conn.hostClosed(hadError));
}
