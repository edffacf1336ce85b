/**
 * Compressed clusters: the L2 descriptor packs an unaligned host offset and
 * a count of 512-byte sectors; the data is raw deflate (no zlib header).
 * Descriptors are decoded with BigInt: compressed clusters are read and
 * written once per cluster, never per guest instruction.
 */
import * as zlib from "node:zlib";
import { CorruptImageError, hex } from "./errors.ts";

export interface CompressedExtent {
  /** Host byte offset of the compressed data (not aligned). */
  offset: number;
  /** Bytes from `offset` to the end of the last sector the data uses. */
  length: number;
  /** First host byte of the sectors used: offset rounded down to 512. */
  sectorStart: number;
  /** Sectors used from sectorStart. */
  sectors: number;
}

export function decodeCompressed(hi: number, lo: number, clusterBits: number): CompressedExtent {
  const word = (BigInt(hi) << 32n) | BigInt(lo);
  const x = BigInt(62 - (clusterBits - 8));
  const offset = Number(word & ((1n << x) - 1n));
  const sectors = Number((word >> x) & ((1n << BigInt(clusterBits - 8)) - 1n)) + 1;
  const sectorStart = offset - (offset % 512);
  if (offset >= 2 ** 53) throw new CorruptImageError(`compressed cluster offset ${hex(offset)} is beyond 2^53`);
  return { offset, length: sectors * 512 - (offset % 512), sectorStart, sectors };
}

/** [hi, lo] of the L2 entry for compressed data of `length` bytes at `offset`. */
export function encodeCompressed(offset: number, length: number, clusterBits: number): [number, number] {
  const x = BigInt(62 - (clusterBits - 8));
  const extraSectors = BigInt(Math.floor((offset + length - 1) / 512) - Math.floor(offset / 512));
  const word = (1n << 62n) | (extraSectors << x) | BigInt(offset);
  return [Number(word >> 32n), Number(word & 0xffff_ffffn)];
}

/** Inflates one cluster; throws CorruptImageError if the data is not valid deflate. */
export function inflateCluster(data: Uint8Array, clusterSize: number, where: number): Uint8Array {
  let out: Buffer;
  try {
    out = zlib.inflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize });
  } catch (e) {
    throw new CorruptImageError(`compressed cluster at ${hex(where)} does not inflate: ${(e as Error).message}`);
  }
  if (out.length < clusterSize) {
    throw new CorruptImageError(`compressed cluster at ${hex(where)} inflates to ${out.length} bytes, not ${clusterSize}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, clusterSize);
}

/** Deflates a cluster, or returns null when compressing does not save a sector. */
export function deflateCluster(data: Uint8Array): Uint8Array | null {
  return worthIt(zlib.deflateRawSync(data, { level: 6 }), data.length);
}

/** deflateCluster on libuv's thread pool, so that several clusters compress at once. */
export function deflateClusterAsync(data: Uint8Array): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(data, { level: 6 }, (err, out) => (err ? reject(err) : resolve(worthIt(out, data.length))));
  });
}

function worthIt(out: Buffer, length: number): Uint8Array | null {
  return out.length <= length - 512 ? new Uint8Array(out.buffer, out.byteOffset, out.length) : null;
}
