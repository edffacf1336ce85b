/**
 * Reading and writing one refcount in a refcount block. Widths are
 * 2^refcount_order bits (1..64); sub-byte widths are packed from the least
 * significant bit, wider ones big-endian, exactly as QEMU lays them out.
 */
import { CorruptImageError } from "./errors.ts";

export function getRefcount(block: Uint8Array, index: number, bits: number): number {
  switch (bits) {
    case 16:
      return (block[2 * index] << 8) | block[2 * index + 1];
    case 8:
      return block[index];
    case 32:
      return new DataView(block.buffer, block.byteOffset).getUint32(4 * index);
    case 64: {
      const v = new DataView(block.buffer, block.byteOffset);
      const hi = v.getUint32(8 * index);
      if (hi >= 0x20_0000) throw new CorruptImageError("a 64-bit refcount is beyond 2^53");
      return hi * 0x1_0000_0000 + v.getUint32(8 * index + 4);
    }
    default: {
      const bit = index * bits;
      return (block[bit >> 3] >> (bit & 7)) & ((1 << bits) - 1);
    }
  }
}

/** Stores `value` and returns the byte range [start, end) of `block` that changed. */
export function setRefcount(block: Uint8Array, index: number, bits: number, value: number): [number, number] {
  switch (bits) {
    case 16:
      block[2 * index] = value >> 8;
      block[2 * index + 1] = value;
      return [2 * index, 2 * index + 2];
    case 8:
      block[index] = value;
      return [index, index + 1];
    case 32:
      new DataView(block.buffer, block.byteOffset).setUint32(4 * index, value);
      return [4 * index, 4 * index + 4];
    case 64: {
      const v = new DataView(block.buffer, block.byteOffset);
      v.setUint32(8 * index, Math.floor(value / 0x1_0000_0000));
      v.setUint32(8 * index + 4, value >>> 0);
      return [8 * index, 8 * index + 8];
    }
    default: {
      const bit = index * bits;
      const mask = ((1 << bits) - 1) << (bit & 7);
      block[bit >> 3] = (block[bit >> 3] & ~mask) | ((value << (bit & 7)) & mask);
      return [bit >> 3, (bit >> 3) + 1];
    }
  }
}

export function maxRefcount(bits: number): number {
  return bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
}
