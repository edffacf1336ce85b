/**
 * A switch's Unix socket: each process that connects — `typevisor run
 * --net switch=PATH`, or QEMU's `-netdev stream,server=off,addr.type=unix,
 * addr.path=PATH` — becomes a port, speaking QEMU's stream framing.
 *
 * A hostile peer cannot hurt the others: a length no peer may send ends
 * its connection, a peer that does not read has its frames dropped once
 * its queue is full (stream-link.ts), and the number of connections is
 * bounded. A Typevisor NIC that says hello (offload-hello.ts) exchanges
 * offloaded frames with the switch.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { lstatSync, rmSync } from "node:fs";
import { once } from "node:events";
import type { EthernetSwitch, SwitchPort } from "./switch.ts";
import { StreamLink } from "./stream-link.ts";
import { HELLO_REPLY, HELLO_REQUEST, offloadHello, parseOffloadHello } from "./offload-hello.ts";
import { OFFLOAD_ALL } from "./offload.ts";

export const MAX_SOCKET_PORTS = 64;

export class SwitchSocketError extends Error {
  override name = "SwitchSocketError";
}

export class SwitchSocketServer {
  /** Connections refused because MAX_SOCKET_PORTS were in use. */
  refused = 0;
  private readonly links = new Map<SwitchPort, StreamLink>();
  private serial = 0;

  private constructor(
    private readonly sw: EthernetSwitch,
    readonly path: string,
    private readonly server: Server,
  ) {
    server.on("connection", (socket) => this.accept(socket));
  }

  /**
   * Listens on `path`. A socket file left by a switch that died is replaced;
   * a live switch there, or a file that is not a socket, is a one-line
   * SwitchSocketError.
   */
  static async listen(sw: EthernetSwitch, path: string): Promise<SwitchSocketServer> {
    await clearStaleSocket(path);
    const server = createServer();
    server.listen(path);
    try {
      await once(server, "listening");
    } catch (e) {
      throw new SwitchSocketError(`switch ${path}: cannot listen: ${(e as Error).message}`);
    }
    return new SwitchSocketServer(sw, path, server);
  }

  /** The link behind a socket port (its byte counts and drops), or undefined for other ports. */
  linkOf(port: SwitchPort): StreamLink | undefined {
    return this.links.get(port);
  }

  /** Stops listening, disconnects every peer and removes the socket file. */
  async close(): Promise<void> {
    for (const link of [...this.links.values()]) link.end("switch closed");
    this.server.close();
    await once(this.server, "close");
    rmSync(this.path, { force: true });
  }

  private accept(socket: Socket): void {
    if (this.links.size >= MAX_SOCKET_PORTS) {
      this.refused++;
      socket.destroy();
      return;
    }
    const port = this.sw.addPort(`socket ${++this.serial}`);
    const link = new StreamLink(socket, (frame, offload) => {
      const hello = offload === undefined ? parseOffloadHello(frame) : null;
      if (hello === null) port.send(frame, offload);
      else if (hello.role === HELLO_REQUEST) {
        // A Typevisor NIC: it takes these offloads, and may send us any (the switch makes them plain where needed).
        link.peerOffloads = hello.offloads & OFFLOAD_ALL;
        port.acceptOffloads(link.peerOffloads);
        link.acceptOffloaded();
        link.send(offloadHello(HELLO_REPLY, OFFLOAD_ALL));
      }
    });
    port.onReceive((frame, offload) => link.send(frame, offload));
    this.links.set(port, link);
    link.onClose(() => {
      this.links.delete(port);
      port.close();
    });
  }
}

async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new SwitchSocketError(`switch ${path}: the path exists and is not a socket`);
  const probe = createConnection(path);
  try {
    await once(probe, "connect");
  } catch {
    rmSync(path, { force: true }); // nobody listens: left by a switch that died
    return;
  }
  probe.destroy();
  throw new SwitchSocketError(`switch ${path}: another switch is already listening there`);
}
