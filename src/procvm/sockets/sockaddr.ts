/**
 * Socket addresses: the guest's struct sockaddr_in / sockaddr_in6 /
 * sockaddr_un / sockaddr_nl bytes (riscv64 LP64: 16, 28, up to 110 and 12
 * bytes) to and from the values the sockets work with, and IP addresses as
 * node writes them.
 */
import { ERRNO } from "../abi.ts";
import { AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, AF_UNSPEC } from "./constants.ts";

export interface InetAddress {
  family: typeof AF_INET | typeof AF_INET6;
  /** 4 or 16 bytes, network order. */
  ip: Uint8Array;
  port: number;
  flowinfo: number;
  scopeId: number;
}

/**
 * A unix-domain name as Linux keeps it: a path (without its NUL), an
 * abstract name (its first byte 0, the whole given length), or empty for
 * an unnamed socket.
 */
export interface UnixAddress {
  family: typeof AF_UNIX;
  name: Uint8Array;
  /** For a path name: the host path it resolves to (the system call layer knows the process's cwd and sysroot). */
  hostPath?: string;
}

/** AF_UNSPEC: "disconnect" for connect; some calls read it as AF_INET (`asInet`). */
export interface UnspecAddress {
  family: typeof AF_UNSPEC;
  asInet: InetAddress | null;
}

/** struct sockaddr_nl: a port id (0 is the kernel) and a mask of multicast groups 1..32. */
export interface NetlinkAddress {
  family: typeof AF_NETLINK;
  pid: number;
  groups: number;
}

export type SockAddr = InetAddress | UnixAddress | UnspecAddress | NetlinkAddress;
/** What getsockname / getpeername / a received message's msg_name report. */
export type SocketName = InetAddress | UnixAddress | NetlinkAddress;

export const SOCKADDR_IN_SIZE = 16;
export const SOCKADDR_IN6_SIZE = 28;
/** A sockaddr_in6 without sin6_scope_id (RFC 2133) is still accepted. */
const SOCKADDR_IN6_MIN = 24;
/** sizeof(struct sockaddr_un): sun_family + 108 bytes of sun_path. */
export const SOCKADDR_UN_SIZE = 110;
/** offsetof(struct sockaddr_un, sun_path) == sizeof(sa_family_t). */
export const SUN_PATH_OFFSET = 2;
export const SOCKADDR_NL_SIZE = 12;
/** sizeof(struct sockaddr_storage): the most bytes an address argument may have. */
export const SOCKADDR_MAX = 128;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * An AF_INET / AF_INET6 address argument for a socket of `domain`: EINVAL
 * when too short, EAFNOSUPPORT for another family (AF_UNSPEC is returned
 * as such, for the callers that accept it).
 */
export function decodeInet(raw: Uint8Array, domain: number): InetAddress | UnspecAddress | number {
  if (raw.length < 2) return -ERRNO.EINVAL;
  const dv = view(raw);
  const family = dv.getUint16(0, true);
  const v6 = domain === AF_INET6;
  if (raw.length < (v6 ? SOCKADDR_IN6_MIN : SOCKADDR_IN_SIZE)) {
    return family === AF_UNSPEC ? { family: AF_UNSPEC, asInet: null } : -ERRNO.EINVAL;
  }
  const addr: InetAddress = v6
    ? {
        family: AF_INET6, port: dv.getUint16(2, false), flowinfo: dv.getUint32(4, false), ip: raw.slice(8, 24),
        scopeId: raw.length >= SOCKADDR_IN6_SIZE ? dv.getUint32(24, true) : 0,
      }
    : { family: AF_INET, port: dv.getUint16(2, false), flowinfo: 0, ip: raw.slice(4, 8), scopeId: 0 };
  if (family === AF_UNSPEC) return { family: AF_UNSPEC, asInet: addr };
  if (family !== domain) return -ERRNO.EAFNOSUPPORT;
  return addr;
}

/**
 * An AF_UNIX address argument (unix_validate_addr): EINVAL unless it is
 * AF_UNIX with 1..108 bytes of sun_path. Exactly sa_family_t long is an
 * unnamed address (`name` empty): bind's request to autobind.
 */
export function decodeUnix(raw: Uint8Array): UnixAddress | UnspecAddress | number {
  if (raw.length < 2) return -ERRNO.EINVAL;
  const family = view(raw).getUint16(0, true);
  if (family === AF_UNSPEC) return { family: AF_UNSPEC, asInet: null };
  if (family !== AF_UNIX || raw.length > SOCKADDR_UN_SIZE) return -ERRNO.EINVAL;
  const path = raw.subarray(SUN_PATH_OFFSET);
  if (path.length > 0 && path[0] === 0) return { family: AF_UNIX, name: path.slice() };
  const nul = path.indexOf(0);
  return { family: AF_UNIX, name: path.slice(0, nul < 0 ? path.length : nul) };
}

/**
 * An AF_NETLINK address argument: EINVAL unless it is a whole sockaddr_nl;
 * AF_UNSPEC (any length from sa_family_t on) is returned as such, for
 * connect's "disconnect".
 */
export function decodeNetlink(raw: Uint8Array): NetlinkAddress | UnspecAddress | number {
  if (raw.length < 2) return -ERRNO.EINVAL;
  const dv = view(raw);
  const family = dv.getUint16(0, true);
  if (family === AF_UNSPEC) return { family: AF_UNSPEC, asInet: null };
  if (family !== AF_NETLINK || raw.length < SOCKADDR_NL_SIZE) return -ERRNO.EINVAL;
  return { family: AF_NETLINK, pid: dv.getUint32(4, true), groups: dv.getUint32(8, true) };
}

export function encodeSockaddr(addr: SocketName): Uint8Array {
  if (addr.family === AF_NETLINK) {
    const out = new Uint8Array(SOCKADDR_NL_SIZE);
    const dv = view(out);
    dv.setUint16(0, AF_NETLINK, true);
    dv.setUint32(4, addr.pid, true);
    dv.setUint32(8, addr.groups, true);
    return out;
  }
  if (addr.family === AF_UNIX) {
    const abstract = addr.name.length > 0 && addr.name[0] === 0;
    const size = SUN_PATH_OFFSET + addr.name.length + (addr.name.length > 0 && !abstract ? 1 : 0);
    const out = new Uint8Array(size);
    view(out).setUint16(0, AF_UNIX, true);
    out.set(addr.name, SUN_PATH_OFFSET);
    return out;
  }
  if (addr.family === AF_INET) {
    const out = new Uint8Array(SOCKADDR_IN_SIZE);
    const dv = view(out);
    dv.setUint16(0, AF_INET, true);
    dv.setUint16(2, addr.port, false);
    out.set(addr.ip.subarray(0, 4), 4);
    return out;
  }
  const out = new Uint8Array(SOCKADDR_IN6_SIZE);
  const dv = view(out);
  dv.setUint16(0, AF_INET6, true);
  dv.setUint16(2, addr.port, false);
  dv.setUint32(4, addr.flowinfo, false);
  out.set(addr.ip.subarray(0, 16), 8);
  dv.setUint32(24, addr.scopeId, true);
  return out;
}

/** The unspecified ("any") address of a family, port 0: what an unbound socket reports. */
export function anyAddress(domain: typeof AF_INET | typeof AF_INET6, port = 0): InetAddress {
  return { family: domain, ip: new Uint8Array(domain === AF_INET ? 4 : 16), port, flowinfo: 0, scopeId: 0 };
}

export function isAny(ip: Uint8Array): boolean {
  return ip.every((b) => b === 0);
}

// ---- IP addresses as text, for node:net and node:dgram ---------------------------

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function isV4Mapped(ip: Uint8Array): boolean {
  return ip.length === 16 && V4_MAPPED_PREFIX.every((b, i) => ip[i] === b);
}

/** What node is given: "a.b.c.d", or eight hex groups ("::ffff:a.b.c.d" for a v4-mapped address). */
export function ipText(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join(".");
  if (isV4Mapped(ip)) return `::ffff:${ip.subarray(12).join(".")}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return groups.join(":");
}

function parseV4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return new Uint8Array(parts.map(Number));
}

function parseV6(text: string): Uint8Array | null {
  const bare = text.replace(/%.*$/, "");
  const halves = bare.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 0 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * An address node reported, as a socket of `domain` shows it: IPv4 on an
 * AF_INET6 socket becomes v4-mapped, a v4-mapped address on an AF_INET
 * socket its IPv4 part. Unparsable text reads as the any address.
 */
export function textToInet(text: string | undefined, port: number | undefined, domain: typeof AF_INET | typeof AF_INET6): InetAddress {
  const addr = anyAddress(domain, port ?? 0);
  if (text === undefined) return addr;
  const v4 = parseV4(text);
  const ip = v4 ?? parseV6(text);
  if (ip === null) return addr;
  if (domain === AF_INET) {
    if (ip.length === 4) addr.ip = ip;
    else if (isV4Mapped(ip)) addr.ip = ip.slice(12);
  } else addr.ip = ip.length === 16 ? ip : new Uint8Array([...V4_MAPPED_PREFIX, ...ip]);
  return addr;
}
