/**
 * A disk in a browser tab: the image on a server, read by HTTP Range
 * requests as the guest asks, with the guest's writes kept in an IndexedDB
 * overlay (idb-overlay.ts) that reads see first. `sync` PUTs the blocks
 * written since the last sync back to the server (the contract's syncUrl).
 * Everything is asynchronous (`submit`); a failed fetch is an I/O error
 * for the guest, and the reason is kept in `lastError`.
 */
import type { BlockBackend } from "./block-backend.ts";
import type { BlockDone, BlockIo } from "./block-io.ts";
import { IdbOverlay, OVERLAY_BLOCK } from "./idb-overlay.ts";
import { fetchRange, putAt, type Headers } from "../web-http.ts";

/** Largest PUT body (the daemon takes at most 4 MiB). */
const MAX_PUT = 4 << 20;

export interface HttpRangeDiskOptions {
  url: string;
  size: number;
  readOnly: boolean;
  overlay: IdbOverlay;
  headers: Headers;
  syncUrl?: string;
}

export class HttpRangeBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  /** Bytes fetched from the server and sent to it, for stats. */
  readonly stats = { fetchedBytes: 0, syncedBytes: 0 };
  lastError: string | null = null;

  constructor(private readonly opts: HttpRangeDiskOptions) {
    this.size = opts.size;
    this.readOnly = opts.readOnly;
  }

  // The device uses submit; a fetch cannot be waited for synchronously here.
  readAt(): boolean {
    return false;
  }

  writeAt(): boolean {
    return false;
  }

  submit(io: BlockIo, done: BlockDone): void {
    const inside = io.position >= 0 && io.length >= 0 && io.position + io.length <= this.size;
    let work: Promise<boolean>;
    if (io.op === "flush") work = this.opts.overlay.flush();
    else if (!inside || (io.op === "write" && this.readOnly)) work = Promise.resolve(false);
    else if (io.op === "read") work = this.read(io).then(() => true);
    else if (io.op === "write") work = this.write(io).then(() => true);
    else work = Promise.resolve(false); // discard and write-zeroes are not offered
    work.then(done, (e: Error) => {
      this.lastError = e.message;
      done(false);
    });
  }

  flush(): boolean {
    return true; // the device flushes through submit
  }

  close(): void {
    this.opts.overlay.close();
  }

  /** PUTs every dirty block to syncUrl (adjacent ones together); returns the bytes sent. */
  async sync(): Promise<number> {
    const { overlay, syncUrl } = this.opts;
    if (syncUrl === undefined || overlay.dirty.size === 0) return 0;
    const blocks = [...overlay.dirty].sort((a, b) => a - b);
    let sent = 0;
    for (let i = 0; i < blocks.length; ) {
      const run: [number, Uint8Array][] = [];
      do run.push([blocks[i], overlay.blocks.get(blocks[i]) as Uint8Array]);
      while (++i < blocks.length && blocks[i] === blocks[i - 1] + 1 && (run.length + 1) * OVERLAY_BLOCK <= MAX_PUT);
      const start = run[0][0] * OVERLAY_BLOCK;
      const end = Math.min(start + run.length * OVERLAY_BLOCK, this.size);
      const body = new Uint8Array(end - start);
      run.forEach(([, data], k) => body.set(data.subarray(0, Math.min(OVERLAY_BLOCK, body.length - k * OVERLAY_BLOCK)), k * OVERLAY_BLOCK));
      await putAt(syncUrl, start, body, this.opts.headers);
      overlay.synced(run);
      sent += body.length;
    }
    this.stats.syncedBytes += sent;
    await overlay.flush();
    return sent;
  }

  /** Blocks first..last as bytes: overlay blocks as they are, the rest fetched in runs. */
  private async blocks(first: number, last: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const overlay = this.opts.overlay.blocks;
    for (let b = first; b <= last; ) {
      const mine = overlay.get(b);
      if (mine !== undefined) {
        out.push(mine);
        b++;
        continue;
      }
      let end = b;
      while (end < last && !overlay.has(end + 1)) end++;
      const start = b * OVERLAY_BLOCK;
      const stop = Math.min((end + 1) * OVERLAY_BLOCK, this.size);
      const bytes = await fetchRange(this.opts.url, start, stop, this.opts.headers);
      this.stats.fetchedBytes += bytes.length;
      for (let k = b; k <= end; k++) {
        const block = new Uint8Array(OVERLAY_BLOCK);
        block.set(bytes.subarray((k - b) * OVERLAY_BLOCK, Math.min((k - b + 1) * OVERLAY_BLOCK, bytes.length)));
        out.push(block);
      }
      b = end + 1;
    }
    return out;
  }

  private async read(io: BlockIo): Promise<void> {
    const first = Math.floor(io.position / OVERLAY_BLOCK);
    const blocks = await this.blocks(first, Math.floor((io.position + io.length - 1) / OVERLAY_BLOCK));
    let at = io.position - first * OVERLAY_BLOCK; // offset into the blocks' concatenation
    for (const buf of io.buffers) {
      for (let done = 0; done < buf.length; ) {
        const block = blocks[Math.floor(at / OVERLAY_BLOCK)];
        const from = at % OVERLAY_BLOCK;
        const n = Math.min(OVERLAY_BLOCK - from, buf.length - done);
        buf.set(block.subarray(from, from + n), done);
        done += n;
        at += n;
      }
    }
  }

  /** Whole blocks are taken as they are; the partly written first and last are read first. */
  private async write(io: BlockIo): Promise<void> {
    const first = Math.floor(io.position / OVERLAY_BLOCK);
    const last = Math.floor((io.position + io.length - 1) / OVERLAY_BLOCK);
    const partial = (b: number) => b * OVERLAY_BLOCK < io.position || Math.min((b + 1) * OVERLAY_BLOCK, this.size) > io.position + io.length;
    const edges = new Map<number, Uint8Array>();
    for (const b of new Set([first, last])) if (partial(b)) edges.set(b, (await this.blocks(b, b))[0]);
    const fresh: [number, Uint8Array][] = [];
    for (let b = first; b <= last; b++) {
      const block = new Uint8Array(OVERLAY_BLOCK);
      const old = edges.get(b);
      if (old !== undefined) block.set(old);
      fresh.push([b, block]);
    }
    let at = io.position - first * OVERLAY_BLOCK;
    for (const buf of io.buffers) {
      for (let done = 0; done < buf.length; ) {
        const block = fresh[Math.floor(at / OVERLAY_BLOCK)][1];
        const from = at % OVERLAY_BLOCK;
        const n = Math.min(OVERLAY_BLOCK - from, buf.length - done);
        block.set(buf.subarray(done, done + n), from);
        done += n;
        at += n;
      }
    }
    this.opts.overlay.put(fresh);
  }
}
