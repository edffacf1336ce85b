/**
 * The interface ioctls every socket answers (sock_ioctl → dev_ioctl, and
 * devinet_ioctl for AF_INET sockets), from the host's interfaces: an
 * interface's index, name, flags, MTU, hardware address and queue length
 * (SIOCGIFINDEX... — glibc's if_nametoindex, busybox ip's "qlen"), its IPv4
 * address, netmask and broadcast address, and SIOCGIFCONF's list. Requests
 * that would change an interface get EPERM: the guest may not change the
 * host's network.
 */
import { ERRNO } from "../abi.ts";
import { AF_INET } from "./constants.ts";
import { hostAddresses, hostLinkByIndex, hostLinkByName, hostLinkNames, type HostAddress } from "./host-interfaces.ts";

// linux/sockios.h
export const SIOCGIFCONF = 0x8912;
const SIOCGIFNAME = 0x8910;
const SIOCGIFFLAGS = 0x8913;
const SIOCGIFADDR = 0x8915;
const SIOCGIFDSTADDR = 0x8917;
const SIOCGIFBRDADDR = 0x8919;
const SIOCGIFNETMASK = 0x891b;
const SIOCGIFMETRIC = 0x891d;
const SIOCGIFMTU = 0x8921;
const SIOCGIFHWADDR = 0x8927;
const SIOCGIFSLAVE = 0x8929;
const SIOCGIFINDEX = 0x8933;
const SIOCGIFTXQLEN = 0x8942;
/** dev_ioctl's getters, which name a device. */
const DEVICE_GETTERS = new Set([
  SIOCGIFFLAGS, SIOCGIFMETRIC, SIOCGIFMTU, SIOCGIFSLAVE, SIOCGIFINDEX, SIOCGIFTXQLEN, SIOCGIFHWADDR,
]);
/** The requests that change an interface or the routing/ARP tables. */
const SETTERS = new Set([
  0x890b, 0x890c, 0x890d, 0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x891e, 0x8920, 0x8922, 0x8923, 0x8924, 0x8926, 0x8930,
  0x8931, 0x8932, 0x8934, 0x8936, 0x8937, 0x8943, 0x8953, 0x8955, 0x8971,
]);

/** sizeof(struct ifreq) on a 64-bit kernel: a 16-byte name, then a 24-byte union. */
export const IFREQ_SIZE = 40;
/** sizeof(struct ifconf): int ifc_len, then (8-byte aligned) the buffer pointer. */
export const IFCONF_SIZE = 16;
const IFNAMSIZ = 16;

/** Whether `req` is a socket ioctl (SOCK_IOC_TYPE 0x89): those not known here are ENOTTY. */
export function isSocketRequest(req: number): boolean {
  return req >>> 8 === 0x89;
}

function ifreqName(ifr: Uint8Array): string {
  const name = ifr.subarray(0, IFNAMSIZ - 1);
  const nul = name.indexOf(0);
  return new TextDecoder("latin1").decode(nul < 0 ? name : name.subarray(0, nul));
}

/** `ifr` with its address a sockaddr_in holding `ip`. */
function withAddress(ifr: Uint8Array, ip: Uint8Array): Uint8Array {
  const out = ifr.slice();
  out.fill(0, IFNAMSIZ, IFNAMSIZ + 16);
  new DataView(out.buffer).setUint16(IFNAMSIZ, AF_INET, true);
  out.set(ip.subarray(0, 4), IFNAMSIZ + 4);
  return out;
}

/**
 * One ifreq request (not SIOCGIFCONF): the ifreq to copy back, or a
 * negated errno. `domain` is the socket's family: only AF_INET sockets
 * answer for IPv4 addresses.
 */
export function interfaceRequest(domain: number, req: number, ifr: Uint8Array): Uint8Array | number {
  if (SETTERS.has(req)) return -ERRNO.EPERM;
  const out = ifr.slice();
  const dv = new DataView(out.buffer);
  out[IFNAMSIZ - 1] = 0;
  if (req === SIOCGIFNAME) {
    const link = hostLinkByIndex(dv.getInt32(IFNAMSIZ, true));
    if (link === null) return -ERRNO.ENODEV;
    out.fill(0, 0, IFNAMSIZ);
    out.set(new TextEncoder().encode(link.name).subarray(0, IFNAMSIZ - 1));
    return out;
  }
  if (req === SIOCGIFADDR || req === SIOCGIFDSTADDR || req === SIOCGIFBRDADDR || req === SIOCGIFNETMASK) {
    return domain === AF_INET ? ipv4Request(req, out) : -ERRNO.ENOTTY;
  }
  if (!DEVICE_GETTERS.has(req)) return -ERRNO.ENOTTY;
  // an alias ("eth0:1") names its device
  const link = hostLinkByName(ifreqName(out).split(":")[0]);
  if (link === null) return -ERRNO.ENODEV;
  switch (req) {
    case SIOCGIFFLAGS:
      dv.setUint16(IFNAMSIZ, link.flags & 0xffff, true);
      return out;
    case SIOCGIFMETRIC:
      dv.setInt32(IFNAMSIZ, 0, true);
      return out;
    case SIOCGIFMTU:
      dv.setInt32(IFNAMSIZ, link.mtu, true);
      return out;
    case SIOCGIFINDEX:
      dv.setInt32(IFNAMSIZ, link.index, true);
      return out;
    case SIOCGIFTXQLEN:
      dv.setInt32(IFNAMSIZ, link.txqlen, true);
      return out;
    case SIOCGIFHWADDR: {
      // sa_family is the hardware type; sa_data the first 14 bytes of the address
      dv.setUint16(IFNAMSIZ, link.type, true);
      if (link.address === null) out.fill(0, IFNAMSIZ + 2, IFNAMSIZ + 16);
      else out.set(link.address.subarray(0, 14), IFNAMSIZ + 2);
      return out;
    }
    default: // SIOCGIFSLAVE
      return -ERRNO.EINVAL;
  }
}

/** devinet_ioctl's getters: the address whose label is the name (and, given one, whose address matches). */
function ipv4Request(req: number, ifr: Uint8Array): Uint8Array | number {
  const label = ifreqName(ifr);
  const dv = new DataView(ifr.buffer);
  const matchAddress = dv.getUint16(IFNAMSIZ, true) === AF_INET ? ifr.slice(IFNAMSIZ + 4, IFNAMSIZ + 8) : null;
  if (!hostLinkNames().includes(label.split(":")[0])) return -ERRNO.ENODEV;
  const mine = hostAddresses().filter((a) => a.family === AF_INET && a.label === label);
  const same = (a: HostAddress) => matchAddress !== null && a.address.every((b, i) => b === matchAddress[i]);
  const a = mine.find(same) ?? mine[0];
  if (a === undefined) return -ERRNO.EADDRNOTAVAIL;
  let ip: Uint8Array;
  switch (req) {
    case SIOCGIFBRDADDR:
      ip = a.broadcast ?? new Uint8Array(4);
      break;
    case SIOCGIFNETMASK:
      ip = new Uint8Array(4);
      new DataView(ip.buffer).setUint32(0, a.prefixlen === 0 ? 0 : (0xffffffff << (32 - a.prefixlen)) >>> 0, false);
      break;
    default: // SIOCGIFADDR, SIOCGIFDSTADDR (the peer, which is the address itself off point-to-point links)
      ip = a.address;
  }
  return withAddress(ifr, ip);
}

/** SIOCGIFCONF: one ifreq (label, sockaddr_in) per IPv4 address, by device. */
export function interfaceList(): Uint8Array[] {
  return hostAddresses().filter((a) => a.family === AF_INET).map((a) => {
    const ifr = new Uint8Array(IFREQ_SIZE);
    ifr.set(new TextEncoder().encode(a.label ?? "").subarray(0, IFNAMSIZ - 1));
    return withAddress(ifr, a.address);
  });
}
