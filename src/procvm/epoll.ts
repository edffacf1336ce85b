/**
 * epoll(7): an interest list of (file, fd) pairs and the readiness queries
 * over it. There are no wait-queue callbacks in the process VM: a waiting
 * epoll_wait re-checks its interest list each time the scheduler retries
 * it, so readiness is level-triggered by nature; edge-triggered items
 * (EPOLLET) report again only after the file's `readinessVersion` moves.
 * EPOLLONESHOT disables an item once it fired, until EPOLL_CTL_MOD.
 * An item goes away when its file description is closed for good, as in
 * Linux; nested epoll instances work (an epoll fd is readable when any of
 * its items is ready), and loops are refused with ELOOP.
 */
import { ERRNO } from "./abi.ts";
import { AnonFile } from "./anon-file.ts";
import { POLLERR, POLLHUP, POLLIN, POLLRDNORM, type OpenFile } from "./files.ts";

export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
/** struct epoll_event on riscv64: u32 events, 4 bytes padding, u64 data (x86-64 packs it to 12). */
export const EPOLL_EVENT_SIZE = 16;
/** Nesting depth Linux allows (EP_MAX_NESTS). */
const MAX_NESTS = 4;

interface Item {
  readonly fd: number;
  readonly file: OpenFile;
  events: number;
  /** The 64-bit user data, as two words. */
  dataLo: number;
  dataHi: number;
  /** Edge-triggered bookkeeping: what was last reported, at which readiness version. */
  reportedVersion: number;
  reportedMask: number;
  /** EPOLLONESHOT item that fired: silent until EPOLL_CTL_MOD. */
  disarmed: boolean;
}

export class EpollFile extends AnonFile {
  private items: Item[] = [];
  /** Where the next scan starts, so a small maxevents still serves every ready item in turn. */
  private cursor = 0;
  /** Guards readiness queries of nested instances against deep recursion. */
  private depth = 0;

  constructor() {
    super(0, "[eventpoll]");
  }

  read(_buf: Uint8Array): number {
    return -ERRNO.EINVAL;
  }

  private find(file: OpenFile, fd: number): number {
    return this.items.findIndex((i) => i.file === file && i.fd === fd);
  }

  /** EPOLL_CTL_ADD / MOD / DEL: 0 or a negated errno. */
  control(op: number, fd: number, file: OpenFile, events: number, dataLo: number, dataHi: number): number {
    if (file === this) return -ERRNO.EINVAL;
    if (!file.pollable) return -ERRNO.EPERM;
    const at = this.find(file, fd);
    switch (op) {
      case EPOLL_CTL_ADD:
        if (at >= 0) return -ERRNO.EEXIST;
        if (file instanceof EpollFile && (file.reaches(this, 0) || file.depthBelow() + 1 > MAX_NESTS)) {
          return -ERRNO.ELOOP;
        }
        this.items.push({ fd, file, events, dataLo, dataHi, reportedVersion: -1, reportedMask: 0, disarmed: false });
        return 0;
      case EPOLL_CTL_MOD: {
        if (at < 0) return -ERRNO.ENOENT;
        const item = this.items[at];
        if ((events & EPOLLEXCLUSIVE) !== 0 || (item.events & EPOLLEXCLUSIVE) !== 0) return -ERRNO.EINVAL;
        item.events = events;
        item.dataLo = dataLo;
        item.dataHi = dataHi;
        item.reportedVersion = -1;
        item.disarmed = false;
        return 0;
      }
      case EPOLL_CTL_DEL:
        if (at < 0) return -ERRNO.ENOENT;
        this.items.splice(at, 1);
        return 0;
      default:
        return -ERRNO.EINVAL;
    }
  }

  /** True when `target` is this instance or is watched, directly or through nested instances. */
  private reaches(target: EpollFile, level: number): boolean {
    if (this === target) return true;
    if (level > MAX_NESTS) return true;
    for (const i of this.items) if (i.file instanceof EpollFile && i.file.reaches(target, level + 1)) return true;
    return false;
  }

  /** Levels of epoll instances nested below this one. */
  private depthBelow(): number {
    let d = 0;
    for (const i of this.items) if (i.file instanceof EpollFile) d = Math.max(d, 1 + i.file.depthBelow());
    return d;
  }

  /** Drops items whose file description has been closed everywhere. */
  private prune(): void {
    if (this.items.some((i) => i.file.refs === 0)) this.items = this.items.filter((i) => i.file.refs > 0);
  }

  /** The events `item` reports now (0 if none), applying EPOLLET and EPOLLONESHOT. */
  private check(item: Item, consume: boolean): number {
    if (item.disarmed) return 0;
    const mask = item.file.pollMask() & (item.events | POLLERR | POLLHUP);
    if (mask === 0) return 0;
    if ((item.events & EPOLLET) !== 0) {
      const version = item.file.readinessVersion;
      if (version === item.reportedVersion && mask === item.reportedMask) return 0;
      if (consume) {
        item.reportedVersion = version;
        item.reportedMask = mask;
      }
    }
    if (consume && (item.events & EPOLLONESHOT) !== 0) item.disarmed = true;
    return mask;
  }

  /**
   * Collects up to `max` ready events into `out` (EPOLL_EVENT_SIZE bytes
   * each); returns how many.
   */
  collect(out: Uint8Array, max: number): number {
    this.prune();
    const n = this.items.length;
    if (n === 0) return 0;
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    let count = 0;
    let k = 0;
    for (; k < n && count < max; k++) {
      const item = this.items[(this.cursor + k) % n];
      const mask = this.check(item, true);
      if (mask === 0) continue;
      const at = count * EPOLL_EVENT_SIZE;
      dv.setUint32(at, mask, true);
      dv.setUint32(at + 4, 0, true);
      dv.setInt32(at + 8, item.dataLo, true);
      dv.setInt32(at + 12, item.dataHi, true);
      count++;
    }
    this.cursor = (this.cursor + k) % n;
    return count;
  }

  /** Earliest host time at which a watched file may become ready by itself (timerfd). */
  override nextTimedEvent(): number {
    let t = Infinity;
    for (const i of this.items) if (!i.disarmed) t = Math.min(t, i.file.nextTimedEvent());
    return t;
  }

  /** Whether any watched file is a host terminal (the scheduler then polls it). */
  watchesTerminal(): boolean {
    return this.items.some((i) => i.file.isTty || (i.file instanceof EpollFile && i.file.watchesTerminal()));
  }

  override pollMask(): number {
    if (this.depth > 0) return 0;
    this.depth++;
    this.prune();
    let mask = 0;
    for (const i of this.items) {
      if (this.check(i, false) !== 0) {
        mask = POLLIN | POLLRDNORM;
        break;
      }
    }
    this.depth--;
    return mask;
  }

  override get readinessVersion(): number {
    let v = 0;
    for (const i of this.items) v = (v + i.file.readinessVersion + 1) | 0;
    return v;
  }

  /** Number of items (for /proc/self/fdinfo and tests). */
  get size(): number {
    return this.items.length;
  }
}
