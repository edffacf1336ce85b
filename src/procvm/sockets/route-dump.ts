/**
 * RTM_NEWLINK and RTM_NEWADDR messages made from the host's interfaces
 * (host-interfaces.ts), with the attributes in the order rtnl_fill_ifinfo,
 * inet_fill_ifaddr and inet6_fill_ifaddr put them. Attributes the host
 * does not tell us (qdisc, min/max MTU, link kind, AF_SPEC...) are left
 * out rather than made up.
 */
import { AF_INET, AF_UNSPEC } from "./constants.ts";
import type { HostAddress, HostLink } from "./host-interfaces.ts";
import { MessageBuilder } from "./netlink-message.ts";

const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;

/** sizeof(struct ifinfomsg), sizeof(struct ifaddrmsg) */
export const IFINFOMSG_SIZE = 16;
export const IFADDRMSG_SIZE = 8;

// linux/if_link.h
const IFLA_ADDRESS = 1;
const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_STATS = 7;
export const IFLA_MASTER = 10;
const IFLA_TXQLEN = 13;
const IFLA_OPERSTATE = 16;
const IFLA_LINKMODE = 17;
export const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_STATS64 = 23;
const IFLA_GROUP = 27;
export const IFLA_EXT_MASK = 29;
const IFLA_NUM_TX_QUEUES = 31;
const IFLA_NUM_RX_QUEUES = 32;
const IFLA_CARRIER = 33;
const IFLA_CARRIER_CHANGES = 35;
const IFLA_PROTO_DOWN = 39;
export const IFLA_TARGET_NETNSID = 46;
const IFLA_CARRIER_UP_COUNT = 47;
const IFLA_CARRIER_DOWN_COUNT = 48;
export const IFLA_ALT_IFNAME = 53;
const IFLA_PARENT_DEV_NAME = 56;
const IFLA_PARENT_DEV_BUS_NAME = 57;

// linux/if_addr.h
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_CACHEINFO = 6;
const IFA_FLAGS = 8;
export const IFA_TARGET_NETNSID = 10;

/** INFINITY_LIFE_TIME */
const FOREVER = 0xffffffff;

/** Who a reply goes to and what it answers. */
export interface ReplyTo {
  portid: number;
  seq: number;
  flags: number;
}

function u64s(values: bigint[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, v), true));
  return out;
}

/** struct rtnl_link_stats: the first 24 counters, truncated to 32 bits. */
function u32s(values: bigint[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, Number(BigInt.asUintN(32, v)), true));
  return out;
}

/** rtnl_fill_ifinfo */
export function linkMessage(link: HostLink, to: ReplyTo): Uint8Array {
  const ifi = new Uint8Array(IFINFOMSG_SIZE);
  const dv = new DataView(ifi.buffer);
  dv.setUint8(0, AF_UNSPEC);
  dv.setUint16(2, link.type, true);
  dv.setInt32(4, link.index, true);
  dv.setUint32(8, link.flags, true);
  const m = new MessageBuilder(RTM_NEWLINK, to.flags, to.seq, to.portid).raw(ifi)
    .string(IFLA_IFNAME, link.name)
    .u32(IFLA_TXQLEN, link.txqlen)
    .u8(IFLA_OPERSTATE, link.operstate)
    .u8(IFLA_LINKMODE, link.linkMode)
    .u32(IFLA_MTU, link.mtu)
    .u32(IFLA_GROUP, link.group)
    .u32(IFLA_NUM_TX_QUEUES, link.txQueues)
    .u32(IFLA_NUM_RX_QUEUES, link.rxQueues);
  if (link.master !== 0) m.u32(IFLA_MASTER, link.master);
  if (link.carrier !== null) m.u8(IFLA_CARRIER, link.carrier);
  if (link.alias !== null) m.string(IFLA_IFALIAS, link.alias);
  if (link.carrierUp !== null && link.carrierDown !== null) {
    m.u32(IFLA_CARRIER_CHANGES, link.carrierUp + link.carrierDown)
      .u32(IFLA_CARRIER_UP_COUNT, link.carrierUp)
      .u32(IFLA_CARRIER_DOWN_COUNT, link.carrierDown);
  }
  if (link.protoDown !== null) m.u8(IFLA_PROTO_DOWN, link.protoDown);
  if (link.address !== null) m.attr(IFLA_ADDRESS, link.address);
  if (link.broadcast !== null) m.attr(IFLA_BROADCAST, link.broadcast);
  m.attr(IFLA_STATS64, u64s(link.stats)).attr(IFLA_STATS, u32s(link.stats.slice(0, 24)));
  if (link.iflink !== link.index) m.u32(IFLA_LINK, link.iflink);
  if (link.parent !== null) m.string(IFLA_PARENT_DEV_NAME, link.parent);
  if (link.parent !== null && link.parentBus !== null) m.string(IFLA_PARENT_DEV_BUS_NAME, link.parentBus);
  return m.finish();
}

/** struct ifa_cacheinfo: preferred and valid lifetimes, creation and update stamps. */
function cacheInfo(preferred: number, valid: number): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, preferred, true);
  dv.setUint32(4, valid, true);
  return out;
}

/**
 * inet_fill_ifaddr / inet6_fill_ifaddr. The host does not tell us the
 * lifetimes of addresses that are not permanent: they read as forever.
 */
export function addressMessage(a: HostAddress, to: ReplyTo): Uint8Array {
  const ifa = Uint8Array.of(a.family, a.prefixlen, a.flags & 0xff, a.scope, 0, 0, 0, 0);
  new DataView(ifa.buffer).setUint32(4, a.index, true);
  const m = new MessageBuilder(RTM_NEWADDR, to.flags, to.seq, to.portid).raw(ifa);
  const lifetimes = cacheInfo(FOREVER, FOREVER);
  if (a.family === AF_INET) {
    m.attr(IFA_ADDRESS, a.address).attr(IFA_LOCAL, a.address);
    if (a.broadcast !== null) m.attr(IFA_BROADCAST, a.broadcast);
    if (a.label !== null) m.string(IFA_LABEL, a.label);
    return m.u32(IFA_FLAGS, a.flags).attr(IFA_CACHEINFO, lifetimes).finish();
  }
  return m.attr(IFA_ADDRESS, a.address).attr(IFA_CACHEINFO, lifetimes).u32(IFA_FLAGS, a.flags).finish();
}
