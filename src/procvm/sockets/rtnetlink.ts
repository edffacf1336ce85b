/**
 * The kernel's side of NETLINK_ROUTE: what a guest sends to port 0 is
 * taken apart as netlink_rcv_skb does (message by message; a length that
 * does not fit ends the batch silently) and answered as rtnetlink would,
 * from the host's interfaces:
 *
 * - RTM_GETLINK: a dump of every link (rtnl_dump_ifinfo) or one link by
 *   index or name (rtnl_getlink);
 * - RTM_GETADDR: a dump of the IPv4 and/or IPv6 addresses (rtnl_dump_all,
 *   inet_dump_ifaddr, inet6_dump_ifaddr), or one IPv6 address
 *   (inet6_rtm_getaddr);
 * - other requests for information: EOPNOTSUPP; requests that would change
 *   the host's network (new/del/set): EPERM, whoever the guest claims to be.
 *
 * Errors and NLM_F_ACK get an NLMSG_ERROR (netlink_ack), dumps end with an
 * NLMSG_DONE that carries a failed dump's errno. NETLINK_GET_STRICT_CHK,
 * NETLINK_CAP_ACK and NETLINK_EXT_ACK (the kernel's messages) are honoured.
 */
import { ERRNO } from "../abi.ts";
import { AF_INET, AF_INET6 } from "./constants.ts";
import { hostAddresses, hostLinkByIndex, hostLinkByName, hostLinks, type HostAddress, type HostLink } from "./host-interfaces.ts";
import {
  MessageBuilder, NLMSGERR_ATTR_MSG, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_MIN_TYPE, NLM_F_ACK, NLM_F_ACK_TLVS,
  NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_FILTERED, NLM_F_MULTI, NLM_F_REQUEST, align4, attrString, parseAttributes, readHeader,
  type MessageHeader,
} from "./netlink-message.ts";
import {
  IFADDRMSG_SIZE, IFA_ADDRESS, IFA_LOCAL, IFA_TARGET_NETNSID, IFINFOMSG_SIZE, IFLA_ALT_IFNAME, IFLA_EXT_MASK, IFLA_IFNAME,
  IFLA_LINKINFO, IFLA_MASTER, IFLA_TARGET_NETNSID, RTM_GETADDR, RTM_GETLINK, addressMessage, linkMessage,
} from "./route-dump.ts";
import { concat } from "./socket.ts";

const RTM_BASE = 16;
/** The highest rtnetlink message type (RTM_MAX); above it: EOPNOTSUPP. */
const RTM_MAX = 123;
const RTNL_KIND_GET = 2;
/** IFNAMSIZ - 1 and ALTIFNAMSIZ - 1: the longest names the policy takes (ERANGE beyond). */
const IFNAME_MAX = 15;
const ALTIFNAME_MAX = 127;

/** The socket a request came from, as the kernel side needs it. */
export interface RouteClient {
  readonly portid: number;
  readonly strictCheck: boolean;
  readonly capAck: boolean;
  readonly extAck: boolean;
  /** Queues a message from the kernel (netlink_unicast: dropped, with ENOBUFS, when the receive buffer is full). */
  reply(datagram: Uint8Array): void;
  /** Starts a dump, queueing its first batch: 0, -EBUSY while another runs, or -ENOBUFS. */
  startDump(dump: Dump): number;
}

/** A dump in progress: its messages, handed out a batch per skb, then its NLMSG_DONE alone. */
export class Dump {
  private next = 0;
  finished = false;
  /** min_dump_alloc: a batch holds at least the largest message. */
  readonly largest: number;

  constructor(
    private readonly messages: Uint8Array[],
    private readonly done: Uint8Array,
  ) {
    this.largest = Math.max(0, ...messages.map((m) => m.length));
  }

  /** The next messages that fit in `size` bytes; once none are left, the NLMSG_DONE. */
  batch(size: number): Uint8Array {
    if (this.next >= this.messages.length) {
      this.finished = true;
      return this.done;
    }
    let end = this.next;
    let total = 0;
    while (end < this.messages.length && (end === this.next || total + this.messages[end].length <= size)) {
      total += this.messages[end++].length;
    }
    const out = concat(this.messages.slice(this.next, end), total);
    this.next = end;
    return out;
  }
}

interface Outcome {
  /** 0 or a negated errno. */
  err: number;
  /** The kernel's extended-ack message for it. */
  extack?: string;
}

const OK: Outcome = { err: 0 };
/** A dump was started: no NLMSG_ERROR, even with NLM_F_ACK (netlink_dump_start's -EINTR). */
const DUMPING = "dumping";

const fail = (errno: number, extack?: string): Outcome => ({ err: -errno, extack });

/** The host's interfaces, read once per datagram however many requests it holds. */
class HostView {
  private linkList: HostLink[] | null = null;
  private addressList: HostAddress[] | null = null;

  links(): HostLink[] {
    return (this.linkList ??= hostLinks());
  }

  addresses(): HostAddress[] {
    return (this.addressList ??= hostAddresses());
  }
}

/** Handles every request in one datagram a guest sent to the kernel. */
export function rtnetlinkReceive(data: Uint8Array, client: RouteClient): void {
  const host = new HostView();
  for (let at = 0; data.length - at >= NLMSG_HDRLEN; ) {
    const h = readHeader(data, at);
    if (h.len < NLMSG_HDRLEN || h.len > data.length - at) return;
    const msg = data.subarray(at, at + h.len);
    const r = (h.flags & NLM_F_REQUEST) !== 0 && h.type >= NLMSG_MIN_TYPE ? request(msg, h, client, host) : OK;
    if (r !== DUMPING && ((h.flags & NLM_F_ACK) !== 0 || r.err !== 0)) client.reply(ack(msg, h, r, client));
    at += Math.min(align4(h.len), data.length - at);
  }
}

/** rtnetlink_rcv_msg */
function request(msg: Uint8Array, h: MessageHeader, client: RouteClient, host: HostView): Outcome | typeof DUMPING {
  if (h.type > RTM_MAX) return fail(ERRNO.EOPNOTSUPP);
  const body = msg.subarray(NLMSG_HDRLEN);
  if (body.length < 1) return OK;
  if (((h.type - RTM_BASE) & 3) !== RTNL_KIND_GET) return fail(ERRNO.EPERM);
  const dump = (h.flags & NLM_F_DUMP) !== 0;
  switch (h.type) {
    case RTM_GETLINK:
      return dump ? started(client, linkDump(body, h, client, host)) : getLink(body, h, client);
    case RTM_GETADDR:
      if (dump) return started(client, addressDump(body, h, client, host));
      return body[0] === AF_INET6 ? getAddress6(body, h, client, host) : fail(ERRNO.EOPNOTSUPP);
    default:
      return fail(ERRNO.EOPNOTSUPP);
  }
}

function started(client: RouteClient, dump: Dump): Outcome | typeof DUMPING {
  const r = client.startDump(dump);
  return r === 0 ? DUMPING : { err: r };
}

/** netlink_ack: the error (0 for an ack), the request's header, and unless capped its body. */
function ack(msg: Uint8Array, h: MessageHeader, r: Outcome, client: RouteClient): Uint8Array {
  const capped = r.err === 0 || client.capAck;
  const m = new MessageBuilder(NLMSG_ERROR, capped ? NLM_F_CAPPED : 0, h.seq, client.portid);
  const head = new Uint8Array(4 + NLMSG_HDRLEN);
  new DataView(head.buffer).setInt32(0, r.err, true);
  head.set(msg.subarray(0, NLMSG_HDRLEN), 4);
  m.raw(head);
  if (!capped && msg.length > NLMSG_HDRLEN) m.raw(msg.subarray(NLMSG_HDRLEN));
  if (r.extack !== undefined && client.extAck) m.addFlags(NLM_F_ACK_TLVS).string(NLMSGERR_ATTR_MSG, r.extack);
  return m.finish();
}

/** netlink_dump_done: the NLMSG_DONE ending a dump, carrying its errno. */
function doneMessage(client: RouteClient, seq: number, flags: number, r: Outcome): Uint8Array {
  const errno = new Uint8Array(4);
  new DataView(errno.buffer).setInt32(0, r.err, true);
  const m = new MessageBuilder(NLMSG_DONE, NLM_F_MULTI | flags, seq, client.portid).raw(errno);
  if (r.extack !== undefined && client.extAck) m.addFlags(NLM_F_ACK_TLVS).string(NLMSGERR_ATTR_MSG, r.extack);
  return m.finish();
}

/** A dump that fails at once: nothing but its NLMSG_DONE. */
function failedDump(client: RouteClient, h: MessageHeader, flags: number, r: Outcome): Dump {
  return new Dump([], doneMessage(client, h.seq, flags, r));
}

function u32At(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

/** Whether any of the bytes from..to of a fixed header is set (strict checking wants them zero). */
function anySet(b: Uint8Array, ...ranges: Array<[number, number]>): boolean {
  return ranges.some(([from, to]) => b.subarray(from, to).some((x) => x !== 0));
}

/** NLA_STRING with a maximum length: ERANGE when longer (the trailing NUL not counted). */
function tooLong(payload: Uint8Array | undefined, max: number): boolean {
  if (payload === undefined) return false;
  const len = payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  return len > max;
}

const POLICY = "Attribute failed policy validation";

/** rtnl_dump_ifinfo (with rtnl_valid_dump_ifinfo_req) */
function linkDump(body: Uint8Array, h: MessageHeader, client: RouteClient, host: HostView): Dump {
  let attrs: Map<number, Uint8Array>;
  if (client.strictCheck) {
    if (body.length < IFINFOMSG_SIZE) return failedDump(client, h, 0, fail(ERRNO.EINVAL, "Invalid header for link dump"));
    if (anySet(body, [1, 4], [8, 16])) {
      return failedDump(client, h, 0, fail(ERRNO.EINVAL, "Invalid values in header for link dump request"));
    }
    if (anySet(body, [4, 8])) {
      return failedDump(client, h, 0, fail(ERRNO.EINVAL, "Filter by device index not supported for link dumps"));
    }
    attrs = parseAttributes(body.subarray(IFINFOMSG_SIZE)).byType;
    for (const type of attrs.keys()) {
      if (type !== IFLA_TARGET_NETNSID && type !== IFLA_EXT_MASK && type !== IFLA_MASTER && type !== IFLA_LINKINFO) {
        return failedDump(client, h, 0, fail(ERRNO.EINVAL, "Unsupported attribute in link dump request"));
      }
    }
  } else {
    // before Linux 3.9 the header was a one-byte rtgenmsg: attributes follow whichever it is
    attrs = parseAttributes(body.subarray(align4(body.length < IFINFOMSG_SIZE ? 1 : IFINFOMSG_SIZE))).byType;
  }
  // no other network namespace has an id here
  if (attrs.has(IFLA_TARGET_NETNSID)) return failedDump(client, h, 0, fail(ERRNO.EINVAL, "Invalid target network namespace id"));
  const masterAttr = attrs.get(IFLA_MASTER);
  const master = masterAttr !== undefined && masterAttr.length >= 4 ? u32At(masterAttr, 0) : 0;
  const flags = NLM_F_MULTI | (master !== 0 ? NLM_F_DUMP_FILTERED : 0);
  const links = host.links().filter((l) => master === 0 || l.master === master);
  const messages = links.map((l) => linkMessage(l, { portid: client.portid, seq: h.seq, flags }));
  return new Dump(messages, doneMessage(client, h.seq, 0, OK));
}

/** rtnl_getlink (with rtnl_valid_getlink_req) */
function getLink(body: Uint8Array, h: MessageHeader, client: RouteClient): Outcome {
  if (body.length < IFINFOMSG_SIZE) return fail(ERRNO.EINVAL, "Invalid header for get link");
  const attrs = parseAttributes(body.subarray(IFINFOMSG_SIZE)).byType;
  if (client.strictCheck) {
    if (anySet(body, [1, 4], [8, 16])) return fail(ERRNO.EINVAL, "Invalid values in header for get link request");
    for (const type of attrs.keys()) {
      if (type !== IFLA_IFNAME && type !== IFLA_ALT_IFNAME && type !== IFLA_EXT_MASK && type !== IFLA_TARGET_NETNSID) {
        return fail(ERRNO.EINVAL, "Unsupported attribute in get link request");
      }
    }
  }
  const name = attrs.get(IFLA_IFNAME);
  const altName = attrs.get(IFLA_ALT_IFNAME);
  if (tooLong(name, IFNAME_MAX) || tooLong(altName, ALTIFNAME_MAX)) return fail(ERRNO.ERANGE, POLICY);
  if (attrs.has(IFLA_TARGET_NETNSID)) return fail(ERRNO.EINVAL);
  const index = new DataView(body.buffer, body.byteOffset).getInt32(4, true);
  let link: HostLink | null;
  if (index > 0) link = hostLinkByIndex(index);
  else if (name !== undefined || altName !== undefined) link = hostLinkByName(attrString((name ?? altName)!));
  else return fail(ERRNO.EINVAL);
  if (link === null) return fail(ERRNO.ENODEV);
  client.reply(linkMessage(link, { portid: client.portid, seq: h.seq, flags: 0 }));
  return OK;
}

/** rtnl_dump_all / inet_dump_ifaddr / inet6_dump_ifaddr (with their *_valid_dump_ifaddr_req) */
function addressDump(body: Uint8Array, h: MessageHeader, client: RouteClient, host: HostView): Dump {
  const family = body[0];
  const families = family === AF_INET || family === AF_INET6 ? [family] : [AF_INET, AF_INET6];
  let index = 0;
  if (client.strictCheck) {
    // the first family's check speaks for all: they look at the same header
    const module = families[0] === AF_INET ? "ipv4: " : "ipv6: ";
    if (body.length < IFADDRMSG_SIZE) {
      return failedDump(client, h, 0, fail(ERRNO.EINVAL, `${module}Invalid header for address dump request`));
    }
    if (anySet(body, [1, 4])) {
      return failedDump(client, h, 0, fail(ERRNO.EINVAL, `${module}Invalid values in header for address dump request`));
    }
    index = u32At(body, 4);
    const flags = index !== 0 ? NLM_F_DUMP_FILTERED : 0;
    const types = [...parseAttributes(body.subarray(IFADDRMSG_SIZE)).byType.keys()].sort((a, b) => a - b);
    if (types.length > 0) {
      // the only attribute allowed names a network namespace, and no other one has an id here
      const why = types[0] === IFA_TARGET_NETNSID ? "Invalid target network namespace id" : "Unsupported attribute in dump request";
      return failedDump(client, h, flags, fail(ERRNO.EINVAL, `${module}${why}`));
    }
    if (index !== 0 && !host.links().some((l) => l.index === index)) return failedDump(client, h, flags, fail(ERRNO.ENODEV));
  }
  const flags = index !== 0 ? NLM_F_DUMP_FILTERED : 0;
  const messages = host.addresses()
    .filter((a) => families.includes(a.family) && (index === 0 || a.index === index))
    .sort((a, b) => families.indexOf(a.family) - families.indexOf(b.family))
    .map((a) => addressMessage(a, { portid: client.portid, seq: h.seq, flags: NLM_F_MULTI | flags }));
  return new Dump(messages, doneMessage(client, h.seq, flags, OK));
}

/** inet6_rtm_getaddr: one IPv6 address, named by IFA_ADDRESS or IFA_LOCAL (and optionally its device). */
function getAddress6(body: Uint8Array, h: MessageHeader, client: RouteClient, host: HostView): Outcome {
  if (body.length < IFADDRMSG_SIZE) return fail(ERRNO.EINVAL, "ipv6: Invalid header for get address request");
  const attrs = parseAttributes(body.subarray(IFADDRMSG_SIZE)).byType;
  if (client.strictCheck) {
    if (anySet(body, [1, 4])) return fail(ERRNO.EINVAL, "ipv6: Invalid values in header for get address request");
    for (const type of attrs.keys()) {
      if (type !== IFA_TARGET_NETNSID && type !== IFA_ADDRESS && type !== IFA_LOCAL) {
        return fail(ERRNO.EINVAL, "ipv6: Unsupported attribute in get address request");
      }
    }
  }
  const wanted = attrs.get(IFA_ADDRESS) ?? attrs.get(IFA_LOCAL);
  if ([attrs.get(IFA_ADDRESS), attrs.get(IFA_LOCAL)].some((a) => a !== undefined && a.length < 16)) return fail(ERRNO.ERANGE, POLICY);
  if (attrs.has(IFA_TARGET_NETNSID)) return fail(ERRNO.EINVAL);
  if (wanted === undefined) return fail(ERRNO.EINVAL);
  const index = u32At(body, 4);
  const onDevice = index !== 0 && host.links().some((l) => l.index === index);
  const found = host.addresses().find((a) =>
    a.family === AF_INET6 && (!onDevice || a.index === index) && a.address.every((b, i) => b === wanted[i]));
  if (found === undefined) return fail(ERRNO.EADDRNOTAVAIL);
  client.reply(addressMessage(found, { portid: client.portid, seq: h.seq, flags: 0 }));
  return OK;
}
