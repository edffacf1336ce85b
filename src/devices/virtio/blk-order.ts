/**
 * Which virtio-blk requests may run on the backend at the same time. Many
 * do, in any order, except:
 * - requests whose byte ranges overlap, when one of them writes, run in
 *   the order the driver made them available (a read after a write sees
 *   it; two writes land in order);
 * - a FLUSH starts only after every write made available before it has
 *   completed, so its fsync covers them (virtio 1.2 5.2.6.1: a flush
 *   covers the writes completed before it).
 * Later requests do not wait for a FLUSH.
 */
import { VIRTIO_BLK_T_FLUSH, type BlkRequest } from "./blk-request.ts";

export class RequestOrder {
  /** Submitted to the backend, not yet completed. */
  private readonly running: BlkRequest[] = [];
  /** Held back, in arrival order. */
  private readonly held: BlkRequest[] = [];

  get inFlight(): number {
    return this.running.length;
  }

  get waiting(): number {
    return this.held.length;
  }

  /** A new request (after every earlier one was admitted): true if it may start now, else it is held. */
  admit(r: BlkRequest): boolean {
    if (this.blocked(r, this.held.length)) {
      this.held.push(r);
      return false;
    }
    this.running.push(r);
    return true;
  }

  /** `r` completed: returns the held requests that may start now, in arrival order (now running). */
  finish(r: BlkRequest): BlkRequest[] {
    const i = this.running.indexOf(r);
    if (i >= 0) this.running.splice(i, 1);
    const started: BlkRequest[] = [];
    for (let k = 0; k < this.held.length; k++) {
      const h = this.held[k];
      if (this.blocked(h, k)) continue;
      this.held.splice(k--, 1);
      this.running.push(h);
      started.push(h);
    }
    return started;
  }

  /** Forgets everything (device reset); completions of what ran are ignored by the device. */
  clear(): void {
    this.running.length = 0;
    this.held.length = 0;
  }

  /** Whether `r` must wait for a running request or for one of the first `heldBefore` held ones. */
  private blocked(r: BlkRequest, heldBefore: number): boolean {
    for (const a of this.running) if (mustFollow(r, a)) return true;
    for (let k = 0; k < heldBefore; k++) if (mustFollow(r, this.held[k])) return true;
    return false;
  }
}

/** Whether `later` must not start before `earlier` completes. */
export function mustFollow(later: BlkRequest, earlier: BlkRequest): boolean {
  if (later.type === VIRTIO_BLK_T_FLUSH) return earlier.writes;
  if (earlier.type === VIRTIO_BLK_T_FLUSH) return false;
  if (!later.writes && !earlier.writes) return false;
  return later.position < earlier.position + earlier.length && earlier.position < later.position + later.length;
}
