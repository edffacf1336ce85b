/**
 * Where the boot loader puts the initrd and the device tree, as QEMU 7.2's
 * hw/riscv/boot.c does, so guests see the same addresses on both.
 */
import { LoadError } from "./load-error.ts";

const MiB = 1 << 20;

/**
 * The initrd goes far enough above the kernel that its decompression cannot
 * reach it: half of RAM on small machines, 128 MiB above the kernel otherwise.
 */
export function initrdAddress(kernelStart: number, ramSize: number): number {
  return kernelStart + Math.min(Math.floor(ramSize / 2), 128 * MiB);
}

/**
 * The device tree sits at the top of RAM (below 3 GiB, so 32-bit code can
 * reach it), aligned down to 2 MiB.
 */
export function dtbAddress(ramBase: number, ramSize: number, dtbSize: number): number {
  const top = Math.min(ramBase + ramSize, 3072 * MiB);
  const address = Math.floor((top - dtbSize) / (2 * MiB)) * 2 * MiB;
  if (address < ramBase) throw new LoadError(`the device tree (${dtbSize} bytes) does not fit in RAM`);
  return address;
}
