/**
 * hostfwd=: host listeners whose connections and datagrams are carried to a
 * guest port. TCP connections become guest connections from the gateway
 * address (TcpNat.accept). Each UDP peer gets its own source port on the
 * gateway address, so the guest's replies find their way back to it.
 */
import { createServer, type Server } from "node:net";
import { createSocket, type Socket } from "node:dgram";
import type { Ipv4 } from "./addresses.ts";
import type { HostForward } from "./options.ts";
import type { TcpNat } from "./tcp-nat.ts";
import type { UdpNatLink } from "./udp-nat.ts";

/** A forward and the host port it actually listens on (differs when hostPort was 0). */
export interface BoundForward extends HostForward {
  boundPort: number;
}

interface UdpPeer {
  socket: Socket;
  address: string;
  port: number;
  idle: ReturnType<typeof setTimeout>;
}

const FIRST_UDP_PORT = 49152;
const UDP_PEER_IDLE_MS = 60_000;
const MAX_UDP_PEERS = 256;

export class PortForwards {
  readonly bound: BoundForward[] = [];
  private readonly servers: Server[] = [];
  private readonly udpSockets: Socket[] = [];
  /** Gateway source port → the host peer it stands for. */
  private readonly udpPeers = new Map<number, UdpPeer>();
  private readonly udpPortOf = new Map<string, number>();
  private nextUdpPort = FIRST_UDP_PORT;

  constructor(
    private readonly gateway: Ipv4,
    private readonly guestAddress: (fwd: HostForward) => Ipv4,
    private readonly tcp: TcpNat,
    private readonly udpLink: UdpNatLink,
  ) {}

  /** Opens every listener; rejects with a one-line reason if one cannot bind. */
  async listen(forwards: HostForward[]): Promise<void> {
    for (const fwd of forwards) {
      const port = fwd.protocol === "tcp" ? await this.listenTcp(fwd) : await this.listenUdp(fwd);
      this.bound.push({ ...fwd, boundPort: port });
    }
  }

  /** A guest datagram to gateway:port that answers a forwarded UDP peer; false if it is not one. */
  replyToPeer(dstPort: number, data: Uint8Array): boolean {
    const peer = this.udpPeers.get(dstPort);
    if (peer === undefined) return false;
    peer.idle.refresh();
    peer.socket.send(Buffer.from(data), peer.port, peer.address);
    return true;
  }

  close(): void {
    for (const s of this.servers) s.close();
    for (const s of this.udpSockets) s.close();
    for (const p of this.udpPeers.values()) clearTimeout(p.idle);
    this.udpPeers.clear();
  }

  private listenTcp(fwd: HostForward): Promise<number> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      this.tcp.accept(socket, this.guestAddress(fwd), fwd.guestPort);
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once("error", (e) => reject(bindError(fwd, e)));
      server.listen(fwd.hostPort, fwd.hostAddress, () => {
        server.unref(); // a listener alone never keeps the process up (the VM's run loop does)
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  private listenUdp(fwd: HostForward): Promise<number> {
    const socket = createSocket("udp4");
    this.udpSockets.push(socket);
    socket.on("message", (msg, rinfo) => {
      const port = this.peerPort(socket, rinfo.address, rinfo.port);
      this.udpLink.sendUdp(this.gateway, port, this.guestAddress(fwd), fwd.guestPort, msg);
    });
    return new Promise((resolve, reject) => {
      socket.once("error", (e) => reject(bindError(fwd, e)));
      socket.bind(fwd.hostPort, fwd.hostAddress, () => {
        socket.on("error", () => {});
        socket.unref();
        resolve(socket.address().port);
      });
    });
  }

  private peerPort(socket: Socket, address: string, port: number): number {
    const key = `${address}:${port}`;
    const known = this.udpPortOf.get(key);
    if (known !== undefined) {
      this.udpPeers.get(known)?.idle.refresh();
      return known;
    }
    if (this.udpPeers.size >= MAX_UDP_PEERS) {
      const [oldPort, old] = this.udpPeers.entries().next().value as [number, UdpPeer];
      this.forget(oldPort, old);
    }
    let gatewayPort = this.nextUdpPort;
    while (this.udpPeers.has(gatewayPort)) gatewayPort = gatewayPort === 65535 ? FIRST_UDP_PORT : gatewayPort + 1;
    this.nextUdpPort = gatewayPort === 65535 ? FIRST_UDP_PORT : gatewayPort + 1;
    const peer: UdpPeer = { socket, address, port, idle: setTimeout(() => this.forget(gatewayPort, peer), UDP_PEER_IDLE_MS) };
    this.udpPeers.set(gatewayPort, peer);
    this.udpPortOf.set(key, gatewayPort);
    return gatewayPort;
  }

  private forget(gatewayPort: number, peer: UdpPeer): void {
    clearTimeout(peer.idle);
    this.udpPeers.delete(gatewayPort);
    this.udpPortOf.delete(`${peer.address}:${peer.port}`);
  }
}

function bindError(fwd: HostForward, e: Error): Error {
  return new Error(`hostfwd=${fwd.protocol}:${fwd.hostAddress}:${fwd.hostPort}-:${fwd.guestPort}: cannot listen: ${e.message}`);
}
