/**
 * The RISC-V Linux boot `Image` (Documentation/riscv/boot-image-header.rst):
 * a 64-byte header in front of the kernel, recognised by the magic
 * "RSC\x05" at offset 0x38. Like QEMU, we place it at RAM + 2 MiB and enter
 * it at its first byte.
 */
import type { Bus } from "../machine/bus.ts";
import type { LoadedImage } from "./bare-metal-elf.ts";
import { LoadError } from "./load-error.ts";

export const KERNEL_OFFSET = 0x200000;
const HEADER_SIZE = 64;
const MAGIC2_OFFSET = 0x38;
const MAGIC2 = 0x05435352; // "RSC\x05" little-endian

export interface ImageHeader {
  /** Bytes the kernel occupies in memory once running (covers .bss); 0 in old kernels. */
  imageSize: number;
}

export function isLinuxImage(bytes: Uint8Array): boolean {
  if (bytes.length < HEADER_SIZE) return false;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC2_OFFSET, true) === MAGIC2;
}

export function parseImageHeader(bytes: Uint8Array, name: string): ImageHeader {
  if (!isLinuxImage(bytes)) throw new LoadError(`${name}: not a RISC-V Linux Image (no "RSC\\x05" magic at 0x38)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (off: number) => Number(dv.getBigUint64(off, true));
  // text_offset (at 8) is ignored, as QEMU does: the kernel goes at RAM + 2 MiB.
  return { imageSize: u64(16) };
}

/** Loads a Linux Image at RAM + 2 MiB. */
export function loadLinuxImage(bus: Bus, bytes: Uint8Array, name: string): LoadedImage {
  const header = parseImageHeader(bytes, name);
  const start = bus.ramBase + KERNEL_OFFSET;
  const size = Math.max(bytes.length, header.imageSize);
  const off = bus.ramOffset(start, size);
  if (off < 0) {
    throw new LoadError(`${name}: the kernel needs ${size} bytes from 0x${start.toString(16)}, more than RAM has; use more memory (-m)`);
  }
  bus.ram.set(bytes, off);
  bus.ramWritten(off, bytes.length);
  return { entry: start, start, end: start + size };
}

/** A raw binary (firmware .bin, or a non-ELF `--bios none` kernel) at `address`. */
export function loadRaw(bus: Bus, bytes: Uint8Array, address: number, name: string): LoadedImage {
  const off = bus.ramOffset(address, bytes.length);
  if (off < 0 || bytes.length === 0) {
    throw new LoadError(
      bytes.length === 0
        ? `${name}: empty file`
        : `${name}: ${bytes.length} bytes at 0x${address.toString(16)} do not fit in RAM; use more memory (-m)`,
    );
  }
  bus.ram.set(bytes, off);
  bus.ramWritten(off, bytes.length);
  return { entry: address, start: address, end: address + bytes.length };
}
