/**
 * virtio-blk (virtio 1.2 section 5.2): one request queue; read, write,
 * flush, get-id, and discard / write-zeroes when the backend can do them. Requests complete synchronously against the backend,
 * inside the driver's QueueNotify write.
 *
 * A request is a 16-byte header (type, reserved, sector) in the readable
 * part, data in the readable part (writes) or writable part (reads), and a
 * status byte as the last writable byte.
 */
import { resolve } from "node:path";
import type { AccessSize } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import type { BlockBackend } from "../../backends/block/block-backend.ts";
import { VIRTIO_ID_BLOCK, feature } from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";
import type { DescriptorChain } from "./virtqueue.ts";

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const SECTOR_SIZE = 512;
const HEADER_SIZE = 16;
const ID_BYTES = 20;
const CONFIG_SIZE = 0x40;
/** Largest DISCARD / WRITE_ZEROES range in sectors (QEMU's BDRV_REQUEST_MAX_SECTORS), one segment per request. */
const MAX_ZERO_SECTORS = 0x3f_ffff;
const SEGMENT_SIZE = 16;

export interface VirtioBlkOptions {
  backend: BlockBackend;
  /** Serial number reported by GET_ID (at most 20 bytes; default empty). */
  serial?: string;
  /** Queue size (power of two; default 256, as QEMU 7.2). seg_max is this minus 2. */
  queueSize?: number;
  /** Largest single segment the driver may use, in bytes (default 1 MiB). */
  sizeMax?: number;
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
  /** Guest data moved, for the host's accounting (hypervisor metrics). */
  readonly stats = { readBytes: 0, writeBytes: 0 };
  /** Disk size in 512-byte sectors. */
  readonly capacity: number;
  private ctx: VirtioContext | null = null;
  private readonly id = new Uint8Array(ID_BYTES);
  private readonly header = new Uint8Array(HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly statusByte = new Uint8Array(1);

  constructor(opts: VirtioBlkOptions) {
    const queueSize = opts.queueSize ?? 256;
    const sizeMax = opts.sizeMax ?? 1 << 20;
    this.backend = opts.backend;
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
    let pushed = false;
    for (let c = q.pop(); c !== null; c = q.pop()) {
      if (c.readableBytes < HEADER_SIZE || c.writableBytes < 1) {
        ctx.needsReset("virtio-blk: request without a header or a status byte");
        break;
      }
      const status = this.execute(c);
      this.statusByte[0] = status;
      c.writeBytes(c.writableBytes - 1, this.statusByte, 0, 1);
      // Like QEMU, report the whole writable part as written.
      q.push(c.head, Math.min(c.writableBytes, 0xffffffff));
      pushed = true;
    }
    if (pushed) ctx.notifyUsed(0);
  }

  reset(): void {}

  save(): VirtioBlkState {
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
    const path = this.backend.path;
    return { path: path === undefined ? null : resolve(path), size: this.backend.size, readOnly: this.backend.readOnly };
  }

  private execute(c: DescriptorChain): number {
    c.readBytes(0, this.header, 0, HEADER_SIZE);
    const h = this.headerView;
    const type = h.getUint32(0, true);
    const sectorLo = h.getUint32(8, true);
    const sectorHi = h.getUint32(12, true);
    switch (type) {
      case VIRTIO_BLK_T_IN:
        return this.transfer(c, false, sectorLo, sectorHi, c.writableBytes - 1);
      case VIRTIO_BLK_T_OUT:
        if (this.backend.readOnly) return VIRTIO_BLK_S_IOERR;
        return this.transfer(c, true, sectorLo, sectorHi, c.readableBytes - HEADER_SIZE);
      case VIRTIO_BLK_T_FLUSH:
        return this.backend.flush() ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        return this.zeroRange(c, type === VIRTIO_BLK_T_DISCARD);
      case VIRTIO_BLK_T_GET_ID:
        c.writeBytes(0, this.id, 0, Math.min(ID_BYTES, c.writableBytes - 1));
        return VIRTIO_BLK_S_OK;
      default:
        return VIRTIO_BLK_S_UNSUPP;
    }
  }

  /** DISCARD or WRITE_ZEROES: one segment {sector u64, num_sectors u32, flags u32} after the header. */
  private zeroRange(c: DescriptorChain, discard: boolean): number {
    const b = this.backend;
    if (b.readOnly || (discard ? b.discard === undefined : b.writeZeroes === undefined)) return VIRTIO_BLK_S_UNSUPP;
    if (c.readableBytes - HEADER_SIZE !== SEGMENT_SIZE) return VIRTIO_BLK_S_UNSUPP; // max_*_seg is 1
    c.readBytes(HEADER_SIZE, this.header, 0, SEGMENT_SIZE);
    const h = this.headerView;
    const sectorLo = h.getUint32(0, true);
    const sectorHi = h.getUint32(4, true);
    const count = h.getUint32(8, true);
    const flags = h.getUint32(12, true);
    // Discard takes no flags; write-zeroes only "unmap" (bit 0).
    if (flags & (discard ? ~0 : ~1)) return VIRTIO_BLK_S_UNSUPP;
    if (sectorHi >= 0x200000 || count > MAX_ZERO_SECTORS) return VIRTIO_BLK_S_IOERR;
    const sector = sectorHi * 0x1_0000_0000 + sectorLo;
    if (sector + count > this.capacity) return VIRTIO_BLK_S_IOERR;
    const ok = discard
      ? b.discard!(sector * SECTOR_SIZE, count * SECTOR_SIZE)
      : b.writeZeroes!(sector * SECTOR_SIZE, count * SECTOR_SIZE, (flags & 1) !== 0);
    return ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
  }

  /** Moves `dataLen` bytes between the chain's data segments and the disk at `sector`. */
  private transfer(c: DescriptorChain, write: boolean, sectorLo: number, sectorHi: number, dataLen: number): number {
    if (dataLen % SECTOR_SIZE !== 0 || sectorHi >= 0x200000) return VIRTIO_BLK_S_IOERR;
    const sector = sectorHi * 0x1_0000_0000 + sectorLo;
    if (sector > this.capacity - dataLen / SECTOR_SIZE) return VIRTIO_BLK_S_IOERR;
    // Writes take data after the header in the readable part; reads fill the
    // writable part up to the status byte.
    const first = write ? 0 : c.readable;
    const end = write ? c.readable : c.count;
    let skip = write ? HEADER_SIZE : 0;
    let remaining = dataLen;
    let position = sector * SECTOR_SIZE;
    // Adjacent segments (common: consecutive guest pages) become one host I/O.
    let runOff = 0;
    let runLen = 0;
    for (let i = first; i < end && remaining > 0; i++) {
      let off = c.offset[i];
      let len = c.length[i];
      if (skip >= len) {
        skip -= len;
        continue;
      }
      off += skip;
      len -= skip;
      skip = 0;
      const n = Math.min(len, remaining);
      remaining -= n;
      if (runLen > 0 && runOff + runLen === off) {
        runLen += n;
        continue;
      }
      if (runLen > 0 && !this.io(write, position, runOff, runLen)) return VIRTIO_BLK_S_IOERR;
      position += runLen;
      runOff = off;
      runLen = n;
    }
    if (runLen > 0 && !this.io(write, position, runOff, runLen)) return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
  }

  private io(write: boolean, position: number, ramOffset: number, length: number): boolean {
    const mem = (this.ctx as VirtioContext).mem;
    if (write) {
      this.stats.writeBytes += length;
      return this.backend.writeAt(position, mem.ram, ramOffset, length);
    }
    this.stats.readBytes += length;
    const ok = this.backend.readAt(position, mem.ram, ramOffset, length);
    mem.ramWritten(ramOffset, length);
    return ok;
  }
}
