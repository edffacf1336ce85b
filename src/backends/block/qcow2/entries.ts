/**
 * qcow2 table entries are big-endian 64-bit words holding a host offset in
 * bits 9..55 plus flags. We keep them as two uint32 halves (no BigInt on the
 * I/O path) and refuse offsets at or above 2^53, which no real image has.
 */
import { CorruptImageError, hex } from "./errors.ts";

/** Bit 63 (in the high word): the cluster's refcount is exactly 1, so it may be written in place. */
export const COPIED = 0x8000_0000;
/** Bit 62 (in the high word): an L2 entry describing a compressed cluster. */
export const COMPRESSED = 0x4000_0000;
/** Bit 0 (in the low word) of a standard L2 entry: the cluster reads as zeros. */
export const ZERO = 1;

const OFFSET_HI_MASK = 0x00ff_ffff;
const OFFSET_LO_MASK = 0xffff_fe00;
/** Offset bits 53..55 in the high word: beyond what a double holds exactly. */
const HUGE_OFFSET_HI = 0x00e0_0000;

export function hiWord(table: DataView, index: number): number {
  return table.getUint32(index * 8);
}

export function loWord(table: DataView, index: number): number {
  return table.getUint32(index * 8 + 4);
}

/** The host offset field (bits 9..55) of an L1 or standard L2 entry. */
export function entryOffset(hi: number, lo: number, what: string): number {
  if (hi & HUGE_OFFSET_HI) throw new CorruptImageError(`${what} points beyond 2^53 bytes`);
  return (hi & OFFSET_HI_MASK) * 0x1_0000_0000 + ((lo & OFFSET_LO_MASK) >>> 0);
}

export function setEntry(table: DataView, index: number, offset: number, flagsHi: number, flagsLo: number): void {
  table.setUint32(index * 8, (Math.floor(offset / 0x1_0000_0000) | flagsHi) >>> 0);
  table.setUint32(index * 8 + 4, ((offset >>> 0) | flagsLo) >>> 0);
}

/** Reads a big-endian uint64 that must be below 2^53 (header fields, refcount table entries). */
export function readU64(view: DataView, at: number, what: string): number {
  const hi = view.getUint32(at);
  if (hi >= 0x20_0000) throw new CorruptImageError(`${what} ${hex(hi)}_${view.getUint32(at + 4).toString(16)} is beyond 2^53`);
  return hi * 0x1_0000_0000 + view.getUint32(at + 4);
}

export function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / 0x1_0000_0000));
  view.setUint32(at + 4, value >>> 0);
}
