/**
 * socket(2) and socketpair(2) by family, type and protocol, with Linux's
 * errors for what is not there: EAFNOSUPPORT for other families
 * (packet...), EINVAL for a type out of range, ESOCKTNOSUPPORT /
 * EPROTONOSUPPORT for combinations the family lacks (netlink protocols
 * other than NETLINK_ROUTE), and EPERM for raw IP sockets (the host's raw
 * sockets are not available to us).
 */
import { ERRNO } from "../abi.ts";
import {
  AF_INET, AF_INET6, AF_MAX, AF_NETLINK, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_MAX, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM,
} from "./constants.ts";
import { InetDgram } from "./inet-dgram.ts";
import { InetStream } from "./inet-stream.ts";
import { NETLINK_ROUTE, NetlinkRoute } from "./netlink-route.ts";
import type { Credentials, Socket, SocketContext } from "./socket.ts";
import { UnixDgram } from "./unix-dgram.ts";
import { UnixStream } from "./unix-stream.ts";

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

/** Checks done before any family looks at the arguments (__sock_create). */
function checkRange(domain: number, type: number): number {
  if (domain < 0 || domain >= AF_MAX) return -ERRNO.EAFNOSUPPORT;
  if (type < 0 || type >= SOCK_MAX) return -ERRNO.EINVAL;
  return 0;
}

export function createSocket(ctx: SocketContext, domain: number, type: number, protocol: number, who: Credentials): Socket | number {
  const bad = checkRange(domain, type);
  if (bad < 0) return bad;
  switch (domain) {
    case AF_UNIX:
      if (protocol !== 0 && protocol !== AF_UNIX) return -ERRNO.EPROTONOSUPPORT;
      switch (type) {
        case SOCK_STREAM:
        case SOCK_SEQPACKET:
          return new UnixStream(ctx, type, who);
        case SOCK_DGRAM:
        case SOCK_RAW: // Linux makes SOCK_RAW a datagram socket here
          return new UnixDgram(ctx, who);
        default:
          return -ERRNO.ESOCKTNOSUPPORT;
      }
    case AF_INET:
    case AF_INET6:
      switch (type) {
        case SOCK_STREAM:
          if (protocol !== 0 && protocol !== IPPROTO_TCP) return -ERRNO.EPROTONOSUPPORT;
          return new InetStream(ctx, domain, IPPROTO_TCP, who);
        case SOCK_DGRAM:
          if (protocol === 0 || protocol === IPPROTO_UDP) return new InetDgram(ctx, domain, IPPROTO_UDP, who);
          // ping sockets need net.ipv4.ping_group_range, which by default admits nobody
          if (protocol === (domain === AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6)) return -ERRNO.EACCES;
          return -ERRNO.EPROTONOSUPPORT;
        case SOCK_RAW:
          return -ERRNO.EPERM;
        default:
          return -ERRNO.ESOCKTNOSUPPORT;
      }
    case AF_NETLINK:
      if (type !== SOCK_RAW && type !== SOCK_DGRAM) return -ERRNO.ESOCKTNOSUPPORT;
      if (protocol !== NETLINK_ROUTE) return -ERRNO.EPROTONOSUPPORT;
      return new NetlinkRoute(ctx, type, who);
    default:
      return -ERRNO.EAFNOSUPPORT;
  }
}

/** Two connected sockets (AF_UNIX only: EOPNOTSUPP for the others, after socket()'s own checks). */
export function createPair(ctx: SocketContext, domain: number, type: number, protocol: number, who: Credentials): [Socket, Socket] | number {
  const probe = createSocket(ctx, domain, type, protocol, who);
  if (typeof probe === "number") return probe;
  probe.release();
  if (domain !== AF_UNIX) return -ERRNO.EOPNOTSUPP;
  if (type === SOCK_STREAM || type === SOCK_SEQPACKET) return UnixStream.pair(ctx, type, who);
  return UnixDgram.pair(ctx, who);
}
