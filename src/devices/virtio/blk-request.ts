/**
 * Parsing a virtio-blk request (virtio 1.2 section 5.2.6) out of a
 * validated descriptor chain into a `BlkRequest`: what to do, where, with
 * which guest RAM, and where the status byte goes. Pure apart from the
 * record it fills: it reads the chain, writes nothing to the guest and
 * touches no backend, so it can be fuzzed on its own
 * (tests/virtio/blk-request.test.ts) and the request outlives the chain
 * (the virtqueue reuses its one DescriptorChain on the next pop).
 *
 * A request is a 16-byte header (type, reserved, sector) in the readable
 * part, data in the readable part (writes) or writable part (reads), and a
 * status byte as the last writable byte.
 */
import type { DescriptorChain } from "./virtqueue.ts";

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
export const HEADER_SIZE = 16;
/** Largest DISCARD / WRITE_ZEROES range in sectors (QEMU's BDRV_REQUEST_MAX_SECTORS), one segment per request. */
export const MAX_ZERO_SECTORS = 0x3f_ffff;
const SEGMENT_SIZE = 16;

/** What the parser needs to know about the disk. */
export interface BlkDisk {
  /** Size in 512-byte sectors. */
  capacity: number;
  readOnly: boolean;
  canDiscard: boolean;
  canWriteZeroes: boolean;
}

/** One request, held from pop to completion. Reused: a device keeps a pool. */
export class BlkRequest {
  head = 0;
  /** VIRTIO_BLK_T_* */
  type = 0;
  /** VIRTIO_BLK_S_OK: the request needs the backend; anything else completes at once with it. */
  status = VIRTIO_BLK_S_OK;
  /** Byte range on the disk (IN, OUT, DISCARD, WRITE_ZEROES). */
  position = 0;
  length = 0;
  /** WRITE_ZEROES: the guest allows unmapping. */
  unmap = false;
  /** Guest RAM index of the status byte. */
  statusAt = 0;
  /** Used length to report: the whole writable part, as QEMU does. */
  usedLen = 0;
  /** Data as runs of adjacent guest RAM (IN, OUT; GET_ID's writable part without the status byte). */
  runs = 0;
  runOffset = new Uint32Array(8);
  runLength = new Uint32Array(8);
  /** Device bookkeeping: order of arrival and the device reset generation it belongs to. */
  seq = 0;
  generation = 0;

  get writes(): boolean {
    return this.type === VIRTIO_BLK_T_OUT || this.type === VIRTIO_BLK_T_DISCARD || this.type === VIRTIO_BLK_T_WRITE_ZEROES;
  }

  addRun(offset: number, length: number): void {
    const n = this.runs;
    if (n > 0 && this.runOffset[n - 1] + this.runLength[n - 1] === offset) {
      this.runLength[n - 1] += length;
      return;
    }
    if (n === this.runOffset.length) {
      const o = new Uint32Array(2 * n);
      const l = new Uint32Array(2 * n);
      o.set(this.runOffset);
      l.set(this.runLength);
      this.runOffset = o;
      this.runLength = l;
    }
    this.runOffset[n] = offset;
    this.runLength[n] = length;
    this.runs = n + 1;
  }
}

const scratch = new Uint8Array(HEADER_SIZE);
const view = new DataView(scratch.buffer);

/**
 * Fills `req` from `chain`. Returns false when the chain is not a request at
 * all (no 16-byte header or no status byte): the driver broke the protocol.
 * Otherwise `req.status` is OK when the backend must act, or the status to
 * complete with at once (UNSUPP, IOERR).
 */
export function parseBlkRequest(chain: DescriptorChain, disk: BlkDisk, req: BlkRequest): boolean {
  if (chain.readableBytes < HEADER_SIZE || chain.writableBytes < 1) return false;
  req.head = chain.head;
  req.runs = 0;
  req.position = 0;
  req.length = 0;
  req.unmap = false;
  req.usedLen = Math.min(chain.writableBytes, 0xffffffff);
  let last = chain.count - 1;
  while (chain.length[last] === 0) last--; // writableBytes >= 1: some writable segment is not empty
  req.statusAt = chain.offset[last] + chain.length[last] - 1;
  chain.readBytes(0, scratch, 0, HEADER_SIZE);
  req.type = view.getUint32(0, true);
  const sectorLo = view.getUint32(8, true);
  const sectorHi = view.getUint32(12, true);
  req.status = VIRTIO_BLK_S_OK;
  switch (req.type) {
    case VIRTIO_BLK_T_IN:
      req.status = dataRequest(chain, disk, req, sectorLo, sectorHi, false);
      break;
    case VIRTIO_BLK_T_OUT:
      req.status = disk.readOnly ? VIRTIO_BLK_S_IOERR : dataRequest(chain, disk, req, sectorLo, sectorHi, true);
      break;
    case VIRTIO_BLK_T_FLUSH:
      break;
    case VIRTIO_BLK_T_GET_ID:
      collectRuns(chain, req, chain.readable, chain.count, 0, chain.writableBytes - 1);
      break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      req.status = zeroRange(chain, disk, req, req.type === VIRTIO_BLK_T_DISCARD);
      break;
    default:
      req.status = VIRTIO_BLK_S_UNSUPP;
  }
  return true;
}

/** IN or OUT: `dataLen` bytes between the chain's data segments and the disk at the header's sector. */
function dataRequest(chain: DescriptorChain, disk: BlkDisk, req: BlkRequest, sectorLo: number, sectorHi: number, write: boolean): number {
  const dataLen = write ? chain.readableBytes - HEADER_SIZE : chain.writableBytes - 1;
  if (dataLen % SECTOR_SIZE !== 0 || sectorHi >= 0x200000) return VIRTIO_BLK_S_IOERR;
  const sector = sectorHi * 0x1_0000_0000 + sectorLo;
  if (sector > disk.capacity - dataLen / SECTOR_SIZE) return VIRTIO_BLK_S_IOERR;
  req.position = sector * SECTOR_SIZE;
  req.length = dataLen;
  // Writes take data after the header in the readable part; reads fill the writable part up to the status byte.
  if (write) collectRuns(chain, req, 0, chain.readable, HEADER_SIZE, dataLen);
  else collectRuns(chain, req, chain.readable, chain.count, 0, dataLen);
  return VIRTIO_BLK_S_OK;
}

/** Records `len` bytes of segments [first, end) after skipping `skip` bytes, merging adjacent ones. */
function collectRuns(chain: DescriptorChain, req: BlkRequest, first: number, end: number, skip: number, len: number): void {
  for (let i = first; i < end && len > 0; i++) {
    const segLen = chain.length[i];
    if (skip >= segLen) {
      skip -= segLen;
      continue;
    }
    const n = Math.min(segLen - skip, len);
    req.addRun(chain.offset[i] + skip, n);
    len -= n;
    skip = 0;
  }
}

/** DISCARD or WRITE_ZEROES: one segment {sector u64, num_sectors u32, flags u32} after the header. */
function zeroRange(chain: DescriptorChain, disk: BlkDisk, req: BlkRequest, discard: boolean): number {
  if (disk.readOnly || !(discard ? disk.canDiscard : disk.canWriteZeroes)) return VIRTIO_BLK_S_UNSUPP;
  if (chain.readableBytes - HEADER_SIZE !== SEGMENT_SIZE) return VIRTIO_BLK_S_UNSUPP; // max_*_seg is 1
  chain.readBytes(HEADER_SIZE, scratch, 0, SEGMENT_SIZE);
  const sectorLo = view.getUint32(0, true);
  const sectorHi = view.getUint32(4, true);
  const count = view.getUint32(8, true);
  const flags = view.getUint32(12, true);
  // Discard takes no flags; write-zeroes only "unmap" (bit 0).
  if (flags & (discard ? ~0 : ~1)) return VIRTIO_BLK_S_UNSUPP;
  if (sectorHi >= 0x200000 || count > MAX_ZERO_SECTORS) return VIRTIO_BLK_S_IOERR;
  const sector = sectorHi * 0x1_0000_0000 + sectorLo;
  if (sector + count > disk.capacity) return VIRTIO_BLK_S_IOERR;
  req.position = sector * SECTOR_SIZE;
  req.length = count * SECTOR_SIZE;
  req.unmap = (flags & 1) !== 0;
  return VIRTIO_BLK_S_OK;
}
