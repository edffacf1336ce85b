/**
 * virtio-blk (virtio 1.2 section 5.2): one request queue; read, write,
 * flush, get-id, and discard / write-zeroes when the backend can do them.
 *
 * Requests complete asynchronously: QueueNotify parses each chain
 * (blk-request.ts) and submits it to the backend (`submitIo`); the guest
 * runs on while the host does the I/O, with many requests in flight
 * (ordered by blk-order.ts). A backend's `done` only records the result and
 * tells the machine (`ctx.ioReady`); the machine's run loop calls
 * `completeIo` beside its timers, which writes the status bytes, fills the
 * used ring and interrupts once per batch. `drainIo` waits for everything
 * in flight: a snapshot never holds a half-done request.
 */
import type { AccessSize } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import type { BlockBackend } from "../../backends/block/block-backend.ts";
import { submitIo, type BlockIo } from "../../backends/block/block-io.ts";
import { RequestOrder } from "./blk-order.ts";
import {
  BlkRequest,
  MAX_ZERO_SECTORS,
  SECTOR_SIZE,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  parseBlkRequest,
  type BlkDisk,
} from "./blk-request.ts";
import { VIRTIO_ID_BLOCK, feature } from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";

/** The request constants are part of the device's interface (tests, tools). */
export * from "./blk-request.ts";

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

const ID_BYTES = 20;
const CONFIG_SIZE = 0x40;

export interface VirtioBlkOptions {
  backend: BlockBackend;
  /** Serial number reported by GET_ID (at most 20 bytes; default empty). */
  serial?: string;
  /** Queue size (power of two; default 256, as QEMU 7.2). seg_max is this minus 2. */
  queueSize?: number;
  /** Largest single segment the driver may use, in bytes (default 1 MiB). */
  sizeMax?: number;
  /**
   * Names the disk in snapshots (an absolute host path; build.ts resolves
   * it, this file has no file system). Default: the backend's path.
   */
  diskPath?: string;
}

/** Which disk the device was attached to: a snapshot must be restored onto the same one. */
export interface DiskIdentity {
  /** Absolute path of the image file, or null for a disk with no file (memory). */
  path: string | null;
  size: number;
  readOnly: boolean;
}

export interface VirtioBlkState {
  v: 1;
  disk: DiskIdentity;
  /** The backend's own state (BlockBackend.save), when it has one. */
  backend?: unknown;
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly name = "virtio-blk";
  readonly features: bigint;
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(CONFIG_SIZE);
  readonly backend: BlockBackend;
  private readonly diskPath: string | undefined;
  /** Guest data moved, for the host's accounting (hypervisor metrics). */
  readonly stats = { readBytes: 0, writeBytes: 0 };
  /** Disk size in 512-byte sectors. */
  readonly capacity: number;
  private ctx: VirtioContext | null = null;
  private readonly id = new Uint8Array(ID_BYTES);
  private readonly disk: BlkDisk;
  private readonly order = new RequestOrder();
  /** Requests not in use (each with its own `done`, made once). */
  private readonly free: InFlight[] = [];
  /** Finished on the backend, not yet on the used ring. */
  private completed: InFlight[] = [];
  /** Submitted to the backend and not finished there, including those of before a reset. */
  private submitted = 0;
  /** Bumped by reset: completions of requests from before it are dropped. */
  private generation = 0;
  private seq = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(opts: VirtioBlkOptions) {
    const queueSize = opts.queueSize ?? 256;
    const sizeMax = opts.sizeMax ?? 1 << 20;
    this.backend = opts.backend;
    this.diskPath = opts.diskPath;
    this.capacity = Math.floor(opts.backend.size / SECTOR_SIZE);
    this.queueSizes = [queueSize];
    let features =
      feature(VIRTIO_BLK_F_SIZE_MAX) |
      feature(VIRTIO_BLK_F_SEG_MAX) |
      feature(VIRTIO_BLK_F_BLK_SIZE) |
      feature(VIRTIO_BLK_F_FLUSH);
    if (opts.backend.readOnly) features |= feature(VIRTIO_BLK_F_RO);
    else {
      if (opts.backend.discard !== undefined) features |= feature(VIRTIO_BLK_F_DISCARD);
      if (opts.backend.writeZeroes !== undefined) features |= feature(VIRTIO_BLK_F_WRITE_ZEROES);
    }
    this.features = features;
    this.disk = {
      capacity: this.capacity,
      readOnly: opts.backend.readOnly,
      canDiscard: opts.backend.discard !== undefined,
      canWriteZeroes: opts.backend.writeZeroes !== undefined,
    };
    const serial = new TextEncoder().encode(opts.serial ?? "");
    if (serial.length > ID_BYTES) throw new Error(`virtio-blk serial "${opts.serial}" is longer than 20 bytes`);
    this.id.set(serial);
    const c = new DataView(this.config.buffer);
    c.setUint32(0, this.capacity % 0x1_0000_0000, true);
    c.setUint32(4, Math.floor(this.capacity / 0x1_0000_0000), true);
    c.setUint32(8, sizeMax, true);
    c.setUint32(12, Math.max(1, queueSize - 2), true);
    c.setUint32(20, SECTOR_SIZE, true);
    c.setUint32(36, MAX_ZERO_SECTORS, true); // max_discard_sectors
    c.setUint32(40, 1, true); // max_discard_seg
    c.setUint32(44, 8, true); // discard_sector_alignment: 4 KiB
    c.setUint32(48, MAX_ZERO_SECTORS, true); // max_write_zeroes_sectors
    c.setUint32(52, 1, true); // max_write_zeroes_seg
    c.setUint8(56, opts.backend.discard !== undefined ? 1 : 0); // write_zeroes_may_unmap
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  writeConfig(_offset: number, _size: AccessSize, _value: number): void {
    // Nothing is writable without VIRTIO_BLK_F_CONFIG_WCE.
  }

  queueNotify(index: number): void {
    const ctx = this.ctx;
    if (ctx === null || index !== 0) return;
    const q = ctx.queues[0];
    for (let c = q.pop(); c !== null; c = q.pop()) {
      const r = this.free.pop() ?? new InFlight(this);
      if (!parseBlkRequest(c, this.disk, r)) {
        this.free.push(r);
        ctx.needsReset("virtio-blk: request without a header or a status byte");
        break;
      }
      r.generation = this.generation;
      r.seq = this.seq++;
      if (r.type === VIRTIO_BLK_T_GET_ID && r.status === VIRTIO_BLK_S_OK) {
        c.writeBytes(0, this.id, 0, Math.min(ID_BYTES, c.writableBytes - 1));
      }
      if (r.status !== VIRTIO_BLK_S_OK || r.type === VIRTIO_BLK_T_GET_ID) {
        this.completed.push(r);
        continue;
      }
      if (this.order.admit(r)) this.start(r);
    }
    // What finished at once (in-memory backends, errors) goes out with this notification.
    this.completeIo();
  }

  /** Requests the backend has not finished (the machine drains before a snapshot). */
  get inFlight(): number {
    return this.submitted + this.order.waiting;
  }

  /**
   * Puts every finished request on the used ring (status byte, used length)
   * and interrupts the driver once if it asked. Called by the machine's run
   * loop after `ctx.ioReady`, and by QueueNotify.
   */
  completeIo(): void {
    const ctx = this.ctx;
    if (ctx === null || this.completed.length === 0) return;
    const done = this.completed;
    this.completed = [];
    const mem = ctx.mem;
    let pushed = false;
    for (const r of done) {
      if (r.generation === this.generation) {
        if (r.type === VIRTIO_BLK_T_IN || r.type === VIRTIO_BLK_T_GET_ID) {
          for (let i = 0; i < r.runs; i++) mem.ramWritten(r.runOffset[i], r.runLength[i]);
        }
        mem.ram[r.statusAt] = r.status;
        mem.ramWritten(r.statusAt, 1);
        ctx.queues[0].push(r.head, r.usedLen);
        pushed = true;
      }
      this.free.push(r);
    }
    if (pushed) ctx.notifyUsed(0);
  }

  /** Resolves once nothing is in flight and everything finished is on the used ring. */
  drainIo(): Promise<void> {
    if (this.submitted === 0) {
      this.completeIo();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  reset(): void {
    // Requests on the backend finish there (their buffers are guest RAM the driver gave up); their results are dropped.
    this.generation++;
    this.order.clear();
  }

  /** The backend finished `f` (called once per submit, at once or later). */
  finished(r: InFlight, ok: boolean): void {
    this.submitted--;
    r.status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
    if (ok && r.type === VIRTIO_BLK_T_IN) this.stats.readBytes += r.length;
    else if (ok && r.type === VIRTIO_BLK_T_OUT) this.stats.writeBytes += r.length;
    this.completed.push(r);
    if (r.generation === this.generation) {
      for (const next of this.order.finish(r)) this.start(next as InFlight);
    }
    if (this.submitted === 0 && this.drainWaiters.length > 0) {
      this.completeIo();
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
    this.ctx?.ioReady();
  }

  private start(r: InFlight): void {
    const io = r.io;
    io.position = r.position;
    io.length = r.length;
    io.unmap = r.unmap;
    io.buffers.length = 0;
    switch (r.type) {
      case VIRTIO_BLK_T_IN:
      case VIRTIO_BLK_T_OUT: {
        io.op = r.type === VIRTIO_BLK_T_IN ? "read" : "write";
        const ram = (this.ctx as VirtioContext).mem.ram;
        for (let i = 0; i < r.runs; i++) io.buffers.push(ram.subarray(r.runOffset[i], r.runOffset[i] + r.runLength[i]));
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        io.op = "flush";
        break;
      case VIRTIO_BLK_T_DISCARD:
        io.op = "discard";
        break;
      case VIRTIO_BLK_T_WRITE_ZEROES:
        io.op = "write-zeroes";
        break;
    }
    this.submitted++;
    submitIo(this.backend, io, r.done);
  }

  save(): VirtioBlkState {
    if (this.inFlight > 0) throw new Error("virtio-blk: requests are in flight; drain the machine's I/O before saving it");
    const state: VirtioBlkState = { v: 1, disk: this.identity() };
    if (this.backend.save !== undefined) state.backend = this.backend.save();
    return state;
  }

  restore(state: unknown): void {
    if ((state as VirtioBlkState | null)?.v !== 1) throw badState(this.name, state);
    const why = this.mismatch(state);
    if (why !== null) throw new Error(why);
    const saved = (state as VirtioBlkState).backend;
    if (saved !== undefined) this.backend.restore?.(saved);
  }

  mismatch(state: unknown): string | null {
    const saved = (state as VirtioBlkState | null)?.disk;
    if (saved === undefined || saved === null) return "the snapshot does not say which disk image it belongs to";
    const here = this.identity();
    const name = (d: DiskIdentity) => (d.path === null ? "an in-memory disk" : d.path);
    if (saved.path !== here.path) return `the snapshot belongs to disk ${name(saved)}, not ${name(here)}`;
    if (saved.size !== here.size) {
      return `disk ${name(here)} is ${here.size} bytes but was ${saved.size} bytes when the snapshot was taken`;
    }
    if (saved.readOnly !== here.readOnly) {
      return `disk ${name(here)} was ${saved.readOnly ? "read-only" : "writable"} when the snapshot was taken`;
    }
    // A disk with state of its own (an overlay of the guest's writes) must get it back, and only such a disk.
    const hasState = (state as VirtioBlkState).backend !== undefined;
    if (hasState !== (this.backend.restore !== undefined)) {
      return hasState
        ? `the snapshot holds writes to disk ${name(here)} that only a snapshot=on disk can take back`
        : `disk ${name(here)} is snapshot=on but the snapshot holds no overlay for it`;
    }
    return null;
  }

  private identity(): DiskIdentity {
    const path = this.diskPath ?? this.backend.path;
    return { path: path === undefined ? null : path, size: this.backend.size, readOnly: this.backend.readOnly };
  }
}

/** A pooled request with its BlockIo and its `done`, made once per slot. */
class InFlight extends BlkRequest {
  readonly io: BlockIo = { op: "read", position: 0, length: 0, buffers: [], unmap: false };
  readonly done: (ok: boolean) => void;

  constructor(device: VirtioBlk) {
    super();
    this.done = (ok) => device.finished(this, ok);
  }
}
