/**
 * Kernels that are not ELF files: the RISC-V Linux boot `Image`
 * (Documentation/riscv/boot-image-header.rst: a 64-byte header in front of
 * the kernel, recognised by the magic "RSC\x05" at offset 0x38), or any raw
 * S-mode payload. Like QEMU, we place either at the kernel address (RAM +
 * 2 MiB behind the built-in firmware, the first 2 MiB boundary after a
 * firmware file) and enter it at its first byte.
 */
import type { Bus } from "../machine/bus.ts";
import type { LoadedImage } from "./bare-metal-elf.ts";
import { foreignImageKind } from "./foreign-image.ts";
import { LoadError } from "./load-error.ts";

/** The kernel's alignment, and its offset in RAM when no firmware occupies RAM. */
export const KERNEL_ALIGN = 0x200000;
const HEADER_SIZE = 64;
const MAGIC2_OFFSET = 0x38;
const MAGIC2 = 0x05435352; // "RSC\x05" little-endian

export function isLinuxImage(bytes: Uint8Array): boolean {
  if (bytes.length < HEADER_SIZE) return false;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC2_OFFSET, true) === MAGIC2;
}

/**
 * Bytes a Linux Image occupies once running (its header's image_size at 16,
 * which covers .bss; 0 in old kernels). text_offset (at 8) is ignored, as
 * QEMU does.
 */
function imageSize(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(16, true));
}

/** Where QEMU puts the kernel: the first 2 MiB boundary at or above the end of the firmware. */
export function kernelAddress(firmwareEnd: number): number {
  return Math.ceil(firmwareEnd / KERNEL_ALIGN) * KERNEL_ALIGN;
}

/** Loads a Linux Image, or else a raw payload, at `address`. */
export function loadKernelImage(bus: Bus, bytes: Uint8Array, address: number, name: string): LoadedImage {
  if (!isLinuxImage(bytes)) return loadRaw(bus, bytes, address, name);
  const size = Math.max(bytes.length, imageSize(bytes));
  const off = bus.ramOffset(address, size);
  if (off < 0) throw new LoadError(`${name}: the kernel needs ${size} bytes from 0x${address.toString(16)}, ${beyondRam(bus, address, size)}`);
  bus.ram.set(bytes, off);
  bus.ramWritten(off, bytes.length);
  return { entry: address, start: address, end: address + size };
}

/** A raw binary (firmware .bin, S-mode payload, or a non-ELF `--bios none` kernel) at `address`. */
export function loadRaw(bus: Bus, bytes: Uint8Array, address: number, name: string): LoadedImage {
  if (bytes.length === 0) throw new LoadError(`${name}: empty file`);
  const foreign = foreignImageKind(bytes);
  if (foreign !== null) throw new LoadError(`${name}: ${foreign}`);
  const off = bus.ramOffset(address, bytes.length);
  if (off < 0) throw new LoadError(`${name}: ${bytes.length} bytes at 0x${address.toString(16)} need ${beyondRam(bus, address, bytes.length)}`);
  bus.ram.set(bytes, off);
  bus.ramWritten(off, bytes.length);
  return { entry: address, start: address, end: address + bytes.length };
}

/**
 * Says that `size` bytes at `address` exceed RAM, and which -m holds them
 * together with the device tree (in the 2 MiB above them, placement.ts).
 */
function beyondRam(bus: Bus, address: number, size: number): string {
  const MiB = 1 << 20;
  const needed = Math.ceil((address + size - bus.ramBase) / (2 * MiB)) * 2 + 2;
  return `more than the ${bus.ramSize / MiB} MiB of RAM; use -m ${needed}M or more`;
}
