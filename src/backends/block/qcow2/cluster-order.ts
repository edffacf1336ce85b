/**
 * Which of a qcow2 image's asynchronous requests may run together, by
 * guest cluster. The device orders requests whose bytes overlap
 * (blk-order.ts), but two that only share a cluster (a 4 KiB read beside a
 * 4 KiB write in one 64 KiB cluster) reach the image together. A request
 * that may change a cluster's mapping — a write not yet known to go in
 * place, DISCARD, WRITE_ZEROES — is exclusive and runs alone on its
 * clusters, in arrival order with everything else on them; reads and
 * writes in place are shared and run together. So no cluster is released
 * (and perhaps reused) while a read of it is on the thread pool, and the
 * mapping a request looked up stays right until it finishes, whatever the
 * COPIED flags of an image written elsewhere say. Requests on other
 * clusters are not held up. Metadata changes are also serialized per
 * image (metadata-lane.ts).
 */
export interface ClusterRequest {
  /** First and last guest cluster touched (last < first: none). */
  readonly first: number;
  readonly last: number;
  exclusive: boolean;
  started: boolean;
  /** Called once, when the request may run. */
  readonly start: () => void;
}

export class ClusterOrder {
  /** Not yet finished, in arrival order. */
  private readonly pending: ClusterRequest[] = [];
  private pumping = false;
  private again = false;

  /** A new request: starts it now (before returning) if nothing earlier holds its clusters. */
  add(r: ClusterRequest): void {
    this.pending.push(r);
    this.pump();
  }

  /** `r` turned out to be shared (a write in place): later requests on its clusters may start. */
  relax(r: ClusterRequest): void {
    if (!r.exclusive) return;
    r.exclusive = false;
    this.pump();
  }

  /** `r` finished. */
  finish(r: ClusterRequest): void {
    const i = this.pending.indexOf(r);
    if (i >= 0) this.pending.splice(i, 1);
    this.pump();
  }

  get size(): number {
    return this.pending.length;
  }

  /** Starts every waiting request no earlier one holds back; a start that finishes at once is handled by looping. */
  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        for (let i = 0; i < this.pending.length; i++) {
          const r = this.pending[i];
          if (r.started || this.heldBack(r, i)) continue;
          r.started = true;
          r.start();
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  private heldBack(r: ClusterRequest, before: number): boolean {
    for (let j = 0; j < before; j++) {
      const e = this.pending[j];
      if ((e.exclusive || r.exclusive) && r.first <= e.last && e.first <= r.last) return true;
    }
    return false;
  }
}
