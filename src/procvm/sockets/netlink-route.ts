/**
 * AF_NETLINK sockets of protocol NETLINK_ROUTE (SOCK_RAW or SOCK_DGRAM),
 * as af_netlink.c keeps them: a port id (bind, or autobind on first use:
 * the process's pid for its first socket, a negative number after), a
 * datagram receive queue charged against SO_RCVBUF, and multicast group
 * memberships. What is sent to port 0 goes to the kernel side
 * (rtnetlink.ts), answered from the host's interfaces; a root guest may
 * also send to another netlink socket of the VM, by port or group.
 *
 * Replies are queued at once, as the kernel queues them during sendmsg; a
 * dump queues one batch (one skb: NLMSG_GOODSIZE at first, then as large
 * as the reader's buffer, up to 32 KiB) and the next whenever the reader
 * takes one and the queue is at most half full, then a last datagram with
 * its NLMSG_DONE. Port ids are the VM's own: it has a network namespace of
 * its own as far as netlink sockets go.
 */
import { ERRNO } from "../abi.ts";
import { POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from "../files.ts";
import {
  AF_NETLINK, AF_UNSPEC, MSG_OOB, MSG_PEEK, MSG_TRUNC, SOL_NETLINK, SOL_SOCKET, SO_PASSCRED, SO_RCVBUF, SO_SNDBUF,
} from "./constants.ts";
import { NETLINK_OPTIONS } from "./options.ts";
import { Dump, rtnetlinkReceive, type RouteClient } from "./rtnetlink.ts";
import { decodeNetlink, type NetlinkAddress, type SockAddr } from "./sockaddr.ts";
import {
  Socket, int32, type Caller, type Credentials, type Incoming, type OptionValue, type Outgoing, type SocketContext,
} from "./socket.ts";

export const NETLINK_ROUTE = 0;

/** RTNLGRP_MAX (Linux 6.18): the groups a NETLINK_ROUTE socket may join. */
const RTNL_GROUPS = 39;
/** RTNLGRP_IPV4_MROUTE_R and RTNLGRP_IPV6_MROUTE_R need CAP_NET_ADMIN (rtnetlink_bind). */
const PRIVILEGED_GROUPS = [30, 31];

// SOL_NETLINK options
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_DROP_MEMBERSHIP = 2;
const NETLINK_PKTINFO = 3;
const NETLINK_BROADCAST_ERROR = 4;
const NETLINK_NO_ENOBUFS = 5;
const NETLINK_LISTEN_ALL_NSID = 8;
const NETLINK_LIST_MEMBERSHIPS = 9;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;
/** The options that are one bit each (0/1 when read back). */
const FLAG_OPTIONS = [
  NETLINK_PKTINFO, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS, NETLINK_LISTEN_ALL_NSID, NETLINK_CAP_ACK, NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
];

/** NLMSG_GOODSIZE, SKB_WITH_OVERHEAD(PAGE_SIZE): the size of a dump's skb until the reader shows a larger buffer. */
const NLMSG_GOODSIZE = 3776;
/** SKB_WITH_OVERHEAD(32768): the most a dump's skb grows to. */
const DUMP_SKB_MAX = 32448;
/** sizeof(struct skb_shared_info), and about that of struct sk_buff: what an skb costs beyond its data. */
const SKB_SHARED_INFO = 320;
/** POLLWRBAND: datagram_poll reports it with POLLOUT. */
const POLLWRBAND = 0x200;

/**
 * An skb's truesize, charged to the receive queue: its data and shared
 * info in a power-of-two allocation, plus the sk_buff (832 bytes for a
 * short NLMSG_ERROR, about what Linux charges: it queues 256 of those in
 * the default 212992 bytes, we 257).
 */
function truesize(len: number): number {
  return 2 ** Math.ceil(Math.log2(((len + 63) & ~63) + SKB_SHARED_INFO)) + SKB_SHARED_INFO;
}

/** The kernel sends as port 0, with the credentials of pid 0. */
const KERNEL: Credentials = { pid: 0, uid: 0, gid: 0 };

interface Datagram {
  data: Uint8Array;
  /** The sender's port id (0: the kernel) and the group it was sent to (0: none). */
  from: number;
  group: number;
  creds: Credentials;
  cost: number;
}

/** Each VM's netlink ports: bound port id → socket. */
const portTables = new WeakMap<SocketContext, Map<number, NetlinkRoute>>();

function portsOf(ctx: SocketContext): Map<number, NetlinkRoute> {
  let ports = portTables.get(ctx);
  if (ports === undefined) {
    ports = new Map();
    portTables.set(ctx, ports);
  }
  return ports;
}

/** ffs(): a group mask's lowest group (1..32), or 0. */
function lowestGroup(mask: number): number {
  return mask === 0 ? 0 : 32 - Math.clz32(mask & -mask);
}

/** netlink_group_mask() */
function groupMask(group: number): number {
  return group >= 1 && group <= 32 ? (1 << (group - 1)) >>> 0 : 0;
}

export class NetlinkRoute extends Socket implements RouteClient {
  portid = 0;
  private bound = false;
  /** Multicast groups joined, 1..RTNL_GROUPS. */
  private readonly memberships = new Set<number>();
  /** Whether the group bitmap exists (netlink_realloc_groups ran): LIST_MEMBERSHIPS reports nothing before. */
  private groupsAllocated = false;
  private connected = false;
  private dstPortid = 0;
  private dstGroup = 0;
  private readonly rx: Datagram[] = [];
  /** sk_rmem_alloc: the queued datagrams' cost. */
  private rmem = 0;
  /** NETLINK_S_CONGESTED: kernel messages were dropped; more are until the queue has been emptied. */
  private congested = false;
  /** The largest buffer a recvmsg offered (up to DUMP_SKB_MAX): how big a dump's next batch may be. */
  private maxRecvmsgLen = 0;
  private dump: Dump | null = null;
  private readonly flagOptions = new Set<number>();
  private readonly ports: Map<number, NetlinkRoute>;

  constructor(ctx: SocketContext, type: number, owner: Credentials) {
    super(AF_NETLINK, type, NETLINK_ROUTE, NETLINK_OPTIONS, owner);
    this.ports = portsOf(ctx);
  }

  get strictCheck(): boolean {
    return this.flagOptions.has(NETLINK_GET_STRICT_CHK);
  }

  get capAck(): boolean {
    return this.flagOptions.has(NETLINK_CAP_ACK);
  }

  get extAck(): boolean {
    return this.flagOptions.has(NETLINK_EXT_ACK);
  }

  protected get acceptsConnections(): boolean {
    return false;
  }

  decodeAddress(raw: Uint8Array): SockAddr | number {
    return decodeNetlink(raw);
  }

  private insert(portid: number): void {
    this.portid = portid >>> 0;
    this.bound = true;
    this.ports.set(this.portid, this);
  }

  /** netlink_autobind: the process's pid if free, else a random negative id below -4096. */
  private autobind(pid: number): void {
    let portid = pid;
    let rover = -4096;
    while (this.ports.has(portid >>> 0)) {
      if (rover === -4096) rover = -0x80000000 + Math.floor(Math.random() * (0x80000000 - 4096));
      else if (rover >= -4096 || rover < -0x80000000) rover = -4097;
      portid = rover--;
    }
    this.insert(portid);
  }

  bind(addr: SockAddr, who: Caller): number {
    if (addr.family !== AF_NETLINK) return -ERRNO.EINVAL;
    const groups = addr.groups >>> 0;
    if (groups !== 0) this.groupsAllocated = true;
    if (this.bound && addr.pid >>> 0 !== this.portid) return -ERRNO.EINVAL;
    if (who.uid !== 0 && PRIVILEGED_GROUPS.some((g) => groups & groupMask(g))) return -ERRNO.EPERM;
    if (!this.bound) {
      if (addr.pid === 0) this.autobind(who.pid);
      else if (this.ports.has(addr.pid >>> 0)) return -ERRNO.EADDRINUSE;
      else this.insert(addr.pid);
    }
    // nl_groups replaces the first 32 groups
    for (let g = 1; g <= 32; g++) {
      if (groups & groupMask(g)) this.memberships.add(g);
      else this.memberships.delete(g);
    }
    return 0;
  }

  listen(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  accept(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  connect(addr: SockAddr, _nonblock: boolean, who: Caller): number {
    if (addr.family === AF_UNSPEC) {
      this.connected = false;
      this.dstPortid = 0;
      this.dstGroup = 0;
      return 0;
    }
    if (addr.family !== AF_NETLINK) return -ERRNO.EINVAL;
    if ((addr.groups !== 0 || addr.pid !== 0) && who.uid !== 0) return -ERRNO.EPERM;
    if (!this.bound) this.autobind(who.pid);
    this.connected = true;
    this.dstPortid = addr.pid >>> 0;
    this.dstGroup = lowestGroup(addr.groups);
    return 0;
  }

  shutdown(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  localAddress(): NetlinkAddress {
    let groups = 0;
    for (const g of this.memberships) groups |= groupMask(g);
    return { family: AF_NETLINK, pid: this.portid, groups: groups >>> 0 };
  }

  peerAddress(): NetlinkAddress {
    return { family: AF_NETLINK, pid: this.dstPortid, groups: groupMask(this.dstGroup) };
  }

  private get rcvbuf(): number {
    return this.options.int(SOL_SOCKET, SO_RCVBUF);
  }

  /** Whether a message for this socket would be dropped (netlink_attachskb's test). */
  private get full(): boolean {
    return this.rmem > this.rcvbuf || this.congested;
  }

  private enqueue(data: Uint8Array, from: number, group: number, creds: Credentials, cost = truesize(data.length)): void {
    this.rx.push({ data, from, group, creds, cost });
    this.rmem += cost;
    this.changed();
  }

  /** netlink_overrun: a message from the kernel (or a multicast) found the queue full. */
  private overrun(): void {
    if (this.flagOptions.has(NETLINK_NO_ENOBUFS) || this.congested) return;
    this.congested = true;
    this.error = ERRNO.ENOBUFS;
    this.changed();
  }

  /** From the kernel side: one message, unless the queue is full. */
  reply(datagram: Uint8Array): void {
    if (this.full) this.overrun();
    else this.enqueue(datagram, 0, 0, KERNEL);
  }

  startDump(dump: Dump): number {
    if (this.dump !== null) return -ERRNO.EBUSY;
    this.dump = dump;
    return this.continueDump();
  }

  /** netlink_dump: queues the dump's next batch, or -ENOBUFS when the queue cannot take it now. */
  private continueDump(): number {
    const dump = this.dump!;
    const size = Math.max(NLMSG_GOODSIZE, dump.largest, this.maxRecvmsgLen);
    const cost = truesize(size);
    if (this.rmem !== 0 && this.rmem + cost >= this.rcvbuf) return -ERRNO.ENOBUFS;
    const batch = dump.batch(size);
    if (dump.finished) this.dump = null;
    this.enqueue(batch, 0, 0, KERNEL, cost);
    return 0;
  }

  send(msg: Outgoing, nonblock: boolean): number {
    if (msg.flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (msg.data.length === 0) return -ERRNO.ENODATA;
    let dstPortid = this.dstPortid;
    let dstGroup = this.dstGroup;
    if (msg.to !== null) {
      if (msg.to.family !== AF_NETLINK) return -ERRNO.EINVAL;
      dstPortid = msg.to.pid >>> 0;
      dstGroup = lowestGroup(msg.to.groups);
      if ((dstGroup !== 0 || dstPortid !== 0) && msg.sender.uid !== 0) return -ERRNO.EPERM;
    }
    if (!this.bound) this.autobind(msg.sender.pid);
    if (msg.data.length > this.options.int(SOL_SOCKET, SO_SNDBUF) - 32) return -ERRNO.EMSGSIZE;
    let peer: NetlinkRoute | null = null;
    if (dstPortid !== 0) {
      peer = this.ports.get(dstPortid) ?? null;
      if (peer === null || (peer.connected && peer.dstPortid !== this.portid)) return -ERRNO.ECONNREFUSED;
      if (peer.full) return this.wait(nonblock);
    }
    const data = msg.data.slice();
    if (dstGroup !== 0) this.multicast(data, dstGroup, msg.sender);
    if (peer === null) rtnetlinkReceive(data, this);
    else peer.enqueue(data, this.portid, 0, msg.sender);
    return msg.data.length;
  }

  /** netlink_broadcast: to every other socket of the VM in `group`. */
  private multicast(data: Uint8Array, group: number, sender: Credentials): void {
    for (const s of this.ports.values()) {
      if (s === this || !s.memberships.has(group)) continue;
      if (s.full) s.overrun();
      else s.enqueue(data, this.portid, group, sender);
    }
  }

  recv(max: number, flags: number, nonblock: boolean): Incoming | number {
    if (flags & MSG_OOB) return -ERRNO.EOPNOTSUPP;
    if (this.error !== 0) return -this.takeError();
    const d = this.rx[0];
    if (d === undefined) return this.wait(nonblock);
    this.maxRecvmsgLen = Math.min(Math.max(this.maxRecvmsgLen, max), DUMP_SKB_MAX);
    const n = Math.min(d.data.length, max);
    const out: Incoming = {
      data: d.data.subarray(0, n), length: d.data.length, fds: [], flags: n < d.data.length ? MSG_TRUNC : 0,
      from: { family: AF_NETLINK, pid: d.from, groups: groupMask(d.group) },
      creds: this.options.int(SOL_SOCKET, SO_PASSCRED) !== 0 ? d.creds : null,
    };
    if ((flags & MSG_PEEK) === 0) {
      this.rx.shift();
      this.rmem -= d.cost;
    }
    if (this.dump !== null && this.rmem <= this.rcvbuf / 2) {
      const r = this.continueDump();
      if (r < 0) this.error = -r;
    }
    if (this.rx.length === 0) this.congested = false;
    this.changed();
    return out;
  }

  /** datagram_poll */
  override pollMask(): number {
    let mask = POLLOUT | POLLWRNORM | POLLWRBAND;
    if (this.error !== 0) mask |= POLLERR;
    if (this.rx.length > 0) mask |= POLLIN | POLLRDNORM;
    return mask;
  }

  override setOption(level: number, name: number, raw: Uint8Array): number {
    // the base class keeps SO_PASSCRED to unix sockets; netlink has it too
    if (level === SOL_SOCKET && name === SO_PASSCRED) return this.options.set(level, name, raw);
    if (level !== SOL_NETLINK) return super.setOption(level, name, raw);
    // shorter than an int reads as 0
    const val = raw.length >= 4 ? new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true) : 0;
    const privileged = this.owner.uid === 0;
    switch (name) {
      case NETLINK_ADD_MEMBERSHIP:
      case NETLINK_DROP_MEMBERSHIP:
        this.groupsAllocated = true;
        if (val === 0 || val > RTNL_GROUPS) return -ERRNO.EINVAL;
        if (name === NETLINK_DROP_MEMBERSHIP) this.memberships.delete(val);
        else if (!privileged && PRIVILEGED_GROUPS.includes(val)) return -ERRNO.EPERM;
        else this.memberships.add(val);
        return 0;
      case NETLINK_LISTEN_ALL_NSID:
        if (!privileged) return -ERRNO.EPERM;
        break;
      case NETLINK_NO_ENOBUFS:
        if (val !== 0) this.congested = false;
        break;
      default:
        if (!FLAG_OPTIONS.includes(name)) return -ERRNO.ENOPROTOOPT;
    }
    if (val !== 0) this.flagOptions.add(name);
    else this.flagOptions.delete(name);
    return 0;
  }

  override getOption(level: number, name: number, maxLen: number): Uint8Array | OptionValue | number {
    if (level !== SOL_NETLINK) return super.getOption(level, name, maxLen);
    if (name === NETLINK_LIST_MEMBERSHIPS) return this.membershipWords(maxLen);
    if (!FLAG_OPTIONS.includes(name)) return -ERRNO.ENOPROTOOPT;
    if (maxLen < 4) return -ERRNO.EINVAL;
    return int32(this.flagOptions.has(name) ? 1 : 0);
  }

  /** NETLINK_LIST_MEMBERSHIPS: the group bitmap's 32-bit words that fit; optlen says how many bytes all take. */
  private membershipWords(maxLen: number): OptionValue {
    const words = new Array<number>(this.groupsAllocated ? Math.ceil(RTNL_GROUPS / 32) : 0).fill(0);
    for (const g of this.memberships) words[(g - 1) >> 5] |= 1 << ((g - 1) & 31);
    const bytes = new Uint8Array(words.length * 4);
    const dv = new DataView(bytes.buffer);
    words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
    return { bytes: bytes.subarray(0, Math.min(bytes.length, maxLen & ~3)), optlen: bytes.length };
  }

  override release(): void {
    if (this.bound && this.ports.get(this.portid) === this) this.ports.delete(this.portid);
    this.rx.length = 0;
    this.rmem = 0;
    this.dump = null;
  }
}
