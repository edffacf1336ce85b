/**
 * What TCP (inet-stream.ts) and UDP (inet-dgram.ts) sockets share: an
 * AF_INET or AF_INET6 family, addresses of that family, and host events
 * that mark the socket changed and wake the scheduler.
 */
import type { AF_INET, AF_INET6 } from "./constants.ts";
import type { OptionSet } from "./options.ts";
import { decodeInet, type SockAddr } from "./sockaddr.ts";
import { Socket, type Credentials, type SocketContext } from "./socket.ts";

export abstract class InetSocket extends Socket {
  constructor(
    protected readonly ctx: SocketContext,
    domain: typeof AF_INET | typeof AF_INET6,
    type: number,
    protocol: number,
    options: OptionSet,
    owner: Credentials,
  ) {
    super(domain, type, protocol, options, owner);
  }

  protected get family(): typeof AF_INET | typeof AF_INET6 {
    return this.domain as typeof AF_INET | typeof AF_INET6;
  }

  /** Something happened on the host side: readiness may have changed; parked threads retry. */
  protected hostEvent(): void {
    this.changed();
    this.ctx.wake();
  }

  decodeAddress(raw: Uint8Array): SockAddr | number {
    return decodeInet(raw, this.domain);
  }
}
