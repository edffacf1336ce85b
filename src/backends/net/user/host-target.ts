/**
 * Where a guest's TCP connection or UDP datagram to `dst` goes on the host,
 * for both IP versions: the gateway address stands for the host's loopback
 * (10.0.2.2 → 127.0.0.1 and fec0::2 → ::1, as slirp), other addresses on
 * the virtual net lead nowhere, and outside unicast addresses are reached
 * as they are unless restrict=on.
 */
import { formatIpv4, prefixMask, type IpAddress } from "./addresses.ts";
import { inIpv6Prefix, ipv6Bytes, LOOPBACK6 } from "./ipv6-address.ts";
import type { UserNetConfig } from "./options.ts";

/** The host address to connect or send to, or null when the guest may not reach `dst`. */
export function hostTarget(dst: IpAddress, c: UserNetConfig): string | null {
  if (typeof dst === "number") {
    if (dst === c.host) return "127.0.0.1";
    if (c.restrict || ((dst & prefixMask(c.prefix)) >>> 0) === c.network) return null; // nothing else lives on the virtual net
    const first = dst >>> 24;
    if (first === 0 || first === 127 || first >= 224) return null; // not a unicast address outside
    return formatIpv4(dst);
  }
  if (!c.ipv6) return null;
  if (dst === c.ipv6Host) return LOOPBACK6;
  if (c.restrict || inIpv6Prefix(dst, c.ipv6Prefix, c.ipv6PrefixLength)) return null;
  // Global unicast (2000::/3) only: no loopback, link-local, multicast, or
  // IPv4-mapped forms that would reach the host's 127.0.0.1 by the back door.
  return (ipv6Bytes(dst)[0] & 0xe0) === 0x20 ? dst : null;
}
