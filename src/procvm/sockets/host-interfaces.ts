/**
 * The host's network interfaces, as NETLINK_ROUTE and the SIOCGIF* ioctls
 * report them to the guest. Read afresh for each request (the kernel
 * answers from live state):
 *
 * - links from /sys/class/net/<name>/ (ifindex, flags, mtu, type, address,
 *   operstate, carrier, statistics/...), so interfaces without addresses
 *   are there too;
 * - IPv4 addresses from node's os.networkInterfaces() (getifaddrs: the
 *   address, its netmask and its label, e.g. "eth0:1"); their flags, scope
 *   and broadcast address are what the kernel gives an address added the
 *   usual way (permanent, secondary when another address of the device
 *   holds the same subnet, host scope for 127/8, the subnet's broadcast on
 *   a broadcast link);
 * - IPv6 addresses from /proc/net/if_inet6, which carries the kernel's own
 *   prefix length, scope and flags.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AF_INET, AF_INET6 } from "./constants.ts";

const SYS_NET = "/sys/class/net";

// linux/if.h interface flags
const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_RUNNING = 0x40;
const IFF_LOWER_UP = 0x10000;
const IFF_DORMANT = 0x20000;

/** IF_OPER_* in order: the index is the value IFLA_OPERSTATE carries. */
const OPERSTATES = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"];
const IF_OPER_UNKNOWN = 0;
const IF_OPER_DOWN = 2;
const IF_OPER_UP = 6;

// linux/if_addr.h address flags, and the rtnetlink scopes
const IFA_F_SECONDARY = 0x01;
const IFA_F_PERMANENT = 0x80;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_SITE = 200;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;

/** The statistics/ files in the order of struct rtnl_link_stats64 (rx_otherhost_dropped, last, has none). */
const STATS_FIELDS = [
  "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped", "multicast",
  "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors", "rx_fifo_errors",
  "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors",
  "tx_window_errors", "rx_compressed", "tx_compressed", "rx_nohandler", "rx_otherhost_dropped",
];

export interface HostLink {
  index: number;
  name: string;
  /** ARPHRD_* */
  type: number;
  /** What dev_get_flags() reports: the device's flags with RUNNING / LOWER_UP / DORMANT from its state. */
  flags: number;
  mtu: number;
  txqlen: number;
  /** IF_OPER_*; DOWN while the device is not up. */
  operstate: number;
  linkMode: number;
  group: number;
  txQueues: number;
  rxQueues: number;
  /** The ifindex of the device's master (bridge, bond), or 0. */
  master: number;
  /** The ifindex of the device it sits on (iflink). */
  iflink: number;
  /** 0 or 1; null when the host does not say (a device that is down). */
  carrier: number | null;
  carrierUp: number | null;
  carrierDown: number | null;
  protoDown: number | null;
  alias: string | null;
  /** addr_len bytes; null when the device has no hardware address. */
  address: Uint8Array | null;
  broadcast: Uint8Array | null;
  /** struct rtnl_link_stats64's fields. */
  stats: bigint[];
  /** The parent device's name and bus (e.g. "virtio2", "virtio"), or null. */
  parent: string | null;
  parentBus: string | null;
}

export interface HostAddress {
  family: typeof AF_INET | typeof AF_INET6;
  index: number;
  prefixlen: number;
  flags: number;
  scope: number;
  address: Uint8Array;
  broadcast: Uint8Array | null;
  /** IPv4 only: the label (the device's name, or an alias such as "eth0:1"). */
  label: string | null;
}

function sys(name: string, attr: string): string | null {
  try {
    return fs.readFileSync(path.join(SYS_NET, name, attr), "latin1").trim();
  } catch {
    return null;
  }
}

function sysNumber(name: string, attr: string): number | null {
  const s = sys(name, attr);
  if (s === null || s === "") return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

function linkTarget(p: string): string | null {
  try {
    return path.basename(fs.readlinkSync(p));
  } catch {
    return null;
  }
}

/** The host's interface names (entries of /sys/class/net). */
export function hostLinkNames(): string[] {
  try {
    return fs.readdirSync(SYS_NET);
  } catch {
    return [];
  }
}

function hardwareAddress(text: string | null, len: number): Uint8Array | null {
  if (text === null || len <= 0) return null;
  const bytes = text.split(":").map((h) => parseInt(h, 16));
  if (bytes.length !== len || bytes.some((b) => !(b >= 0 && b <= 255))) return null;
  return new Uint8Array(bytes);
}

/** dev_get_flags(): RUNNING, LOWER_UP and DORMANT come from the device's state, not its flags. */
function deviceFlags(name: string, raw: number, operstate: number, carrier: number | null): number {
  let flags = raw & ~(IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT);
  if (raw & IFF_UP) {
    if (operstate === IF_OPER_UP || operstate === IF_OPER_UNKNOWN) flags |= IFF_RUNNING;
    if (carrier === 1) flags |= IFF_LOWER_UP;
    if (sysNumber(name, "dormant") === 1) flags |= IFF_DORMANT;
  }
  return flags >>> 0;
}

function queueCounts(name: string): [number, number] {
  let tx = 0;
  let rx = 0;
  try {
    for (const q of fs.readdirSync(path.join(SYS_NET, name, "queues"))) {
      if (q.startsWith("tx-")) tx++;
      else if (q.startsWith("rx-")) rx++;
    }
  } catch {
    // no queues directory
  }
  return [tx, rx];
}

/** One link, or null when `name` is not (or no longer) an interface of the host. */
export function hostLinkByName(name: string): HostLink | null {
  return hostLinkNames().includes(name) ? readLink(name) : null;
}

/** The link with ifindex `index`, or null. */
export function hostLinkByIndex(index: number): HostLink | null {
  const name = hostLinkNames().find((n) => sysNumber(n, "ifindex") === index);
  return name === undefined ? null : readLink(name);
}

function readLink(name: string): HostLink | null {
  const index = sysNumber(name, "ifindex");
  if (index === null) return null;
  const raw = sysNumber(name, "flags") ?? 0;
  const up = (raw & IFF_UP) !== 0;
  const oper = Math.max(0, OPERSTATES.indexOf(sys(name, "operstate") ?? ""));
  const carrier = up ? sysNumber(name, "carrier") : null;
  const addrLen = sysNumber(name, "addr_len") ?? 0;
  const masterName = linkTarget(path.join(SYS_NET, name, "master"));
  const alias = sys(name, "ifalias");
  const [txQueues, rxQueues] = queueCounts(name);
  const stats = STATS_FIELDS.map((f) => {
    const s = sys(name, `statistics/${f}`);
    return s !== null && /^\d+$/.test(s) ? BigInt(s) : 0n;
  });
  return {
    index, name, type: sysNumber(name, "type") ?? 0, flags: deviceFlags(name, raw, oper, carrier),
    mtu: sysNumber(name, "mtu") ?? 0, txqlen: sysNumber(name, "tx_queue_len") ?? 0,
    operstate: up ? oper : IF_OPER_DOWN, linkMode: sysNumber(name, "link_mode") ?? 0,
    group: sysNumber(name, "netdev_group") ?? 0, txQueues, rxQueues,
    master: masterName !== null ? (sysNumber(masterName, "ifindex") ?? 0) : 0,
    iflink: sysNumber(name, "iflink") ?? index, carrier,
    carrierUp: sysNumber(name, "carrier_up_count"), carrierDown: sysNumber(name, "carrier_down_count"),
    protoDown: sysNumber(name, "proto_down"), alias: alias !== null && alias !== "" ? alias : null,
    address: hardwareAddress(sys(name, "address"), addrLen), broadcast: hardwareAddress(sys(name, "broadcast"), addrLen),
    stats, parent: linkTarget(path.join(SYS_NET, name, "device")),
    parentBus: linkTarget(path.join(SYS_NET, name, "device/subsystem")),
  };
}

/** Every link, by ifindex (the order of a link dump). */
export function hostLinks(): HostLink[] {
  const out: HostLink[] = [];
  for (const name of hostLinkNames()) {
    const link = readLink(name);
    if (link !== null) out.push(link);
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Name → ifindex and flags, all an address list needs to know of the links. */
function linkIndexes(): Map<string, { index: number; flags: number }> {
  const out = new Map<string, { index: number; flags: number }>();
  for (const name of hostLinkNames()) {
    const index = sysNumber(name, "ifindex");
    if (index !== null) out.set(name, { index, flags: sysNumber(name, "flags") ?? 0 });
  }
  return out;
}

function parseV4(text: string): Uint8Array | null {
  const parts = text.split(".").map(Number);
  return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255) ? new Uint8Array(parts) : null;
}

function prefixLength(mask: Uint8Array): number {
  let n = 0;
  for (const byte of mask) for (let bit = 0x80; bit > 0 && byte & bit; bit >>= 1) n++;
  return n;
}

/** Byte `i` of a netmask of `prefixlen` bits. */
function maskByte(prefixlen: number, i: number): number {
  return (0xff00 >> Math.min(8, Math.max(0, prefixlen - 8 * i))) & 0xff;
}

function subnet(ip: Uint8Array, prefixlen: number): string {
  return Array.from(ip, (b, i) => b & maskByte(prefixlen, i)).join(".");
}

/** IPv4 addresses by device (ifindex order), each device's in the host's order. */
function ipv4Addresses(links: Map<string, { index: number; flags: number }>): HostAddress[] {
  const byDevice = new Map<number, HostAddress[]>();
  for (const [label, entries] of Object.entries(os.networkInterfaces())) {
    const link = links.get(label.split(":")[0]);
    if (link === undefined) continue;
    for (const e of entries ?? []) {
      if (e.family !== "IPv4" && (e.family as unknown) !== 4) continue;
      const address = parseV4(e.address);
      const mask = parseV4(e.netmask);
      if (address === null || mask === null) continue;
      const prefixlen = prefixLength(mask);
      const list = byDevice.get(link.index) ?? [];
      // __inet_insert_ifa: an address in the subnet of one already there (same mask) is secondary
      const secondary = list.some((p) => p.prefixlen === prefixlen && subnet(p.address, prefixlen) === subnet(address, prefixlen));
      const broadcast = (link.flags & IFF_BROADCAST) !== 0 && prefixlen < 31
        ? address.map((b, i) => b | (~maskByte(prefixlen, i) & 0xff))
        : null;
      list.push({
        family: AF_INET, index: link.index, prefixlen, flags: IFA_F_PERMANENT | (secondary ? IFA_F_SECONDARY : 0),
        scope: address[0] === 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE, address, broadcast, label: label.slice(0, 15),
      });
      byDevice.set(link.index, list);
    }
  }
  return [...byDevice.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, list]) => list);
}

// IPV6_ADDR_* scope bits in /proc/net/if_inet6's fourth column
const IPV6_ADDR_LOOPBACK = 0x10;
const IPV6_ADDR_LINKLOCAL = 0x20;
const IPV6_ADDR_SITELOCAL = 0x40;

/** rt_scope(), and the rank a device's address list is sorted by (wider scopes first). */
function ipv6Scope(bits: number): [number, number] {
  if (bits & IPV6_ADDR_LOOPBACK) return [RT_SCOPE_HOST, 0];
  if (bits & IPV6_ADDR_LINKLOCAL) return [RT_SCOPE_LINK, 1];
  if (bits & IPV6_ADDR_SITELOCAL) return [RT_SCOPE_SITE, 2];
  return [RT_SCOPE_UNIVERSE, 3];
}

/** IPv6 addresses by device (ifindex order), each device's widest scope first, as the kernel keeps them. */
function ipv6Addresses(): HostAddress[] {
  let text: string;
  try {
    text = fs.readFileSync("/proc/net/if_inet6", "latin1");
  } catch {
    return [];
  }
  const out: Array<HostAddress & { rank: number }> = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/.test(f[0])) continue;
    const address = new Uint8Array(16);
    for (let i = 0; i < 16; i++) address[i] = parseInt(f[0].slice(2 * i, 2 * i + 2), 16);
    const [scope, rank] = ipv6Scope(parseInt(f[3], 16));
    out.push({
      family: AF_INET6, index: parseInt(f[1], 16), prefixlen: parseInt(f[2], 16), flags: parseInt(f[4], 16) & 0xff,
      scope, address, broadcast: null, label: null, rank,
    });
  }
  return out.sort((a, b) => a.index - b.index || b.rank - a.rank).map(({ rank: _, ...a }) => a);
}

/** The host's addresses: IPv4 then IPv6, each family by device, the order of an AF_UNSPEC address dump. */
export function hostAddresses(): HostAddress[] {
  return [...ipv4Addresses(linkIndexes()), ...ipv6Addresses()];
}
