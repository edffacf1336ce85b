/**
 * Byte and halfword access to registers that are 32-bit words. Drivers use
 * word accesses, but a hostile or sloppy guest may use any width at any
 * offset; these keep the result defined.
 */
import type { AccessSize } from "../machine/device.ts";

/** The `size` bytes at `offset` of a register word holding `word`. */
export function narrowRead(word: number, offset: number, size: AccessSize): number {
  const v = word >>> ((offset & 3) * 8);
  if (size === 4) return v >>> 0;
  return v & (size === 1 ? 0xff : 0xffff);
}

/** `old` with the `size` bytes at `offset` replaced by the low bytes of `value`. */
export function mergeWrite(old: number, offset: number, size: AccessSize, value: number): number {
  if (size === 4 && (offset & 3) === 0) return value >>> 0;
  const shift = (offset & 3) * 8;
  const mask = ((size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff) << shift) >>> 0;
  return ((old & ~mask) | ((value << shift) & mask)) >>> 0;
}
