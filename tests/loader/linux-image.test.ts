import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../../src/machine/bus.ts";
import { createVmMemory, RAM_BASE } from "../../src/cpu/layout.ts";
import { isLinuxImage, kernelAddress, loadKernelImage, loadRaw } from "../../src/loader/linux-image.ts";
import { dtbAddress, initrdAddress } from "../../src/loader/placement.ts";

const MiB = 1 << 20;

function image(size: number, imageSize: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, 0x0000006f, true); // j .
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, BigInt(imageSize), true);
  bytes.set(new TextEncoder().encode("RISCV\0\0\0RSC\x05"), 0x30);
  bytes[size - 1] = 0x77;
  return bytes;
}

test("an Image loads at the kernel address and is entered at its first byte", () => {
  const b = new Bus(createVmMemory(8 * MiB), 8 * MiB);
  const img = loadKernelImage(b, image(4096, 64 * 1024), RAM_BASE + 2 * MiB, "Image");
  assert.deepEqual(img, { entry: 0x80200000, start: 0x80200000, end: 0x80200000 + 64 * 1024 });
  assert.equal(b.ram[2 * MiB], 0x6f);
  assert.equal(b.ram[2 * MiB + 4095], 0x77);
});

test("a raw payload (no Image header) loads as it is at the kernel address", () => {
  const b = new Bus(createVmMemory(8 * MiB), 8 * MiB);
  const payload = new Uint8Array([0x6f, 0, 0, 0, 0x99]);
  assert.equal(isLinuxImage(payload), false);
  assert.deepEqual(loadKernelImage(b, payload, RAM_BASE + 4 * MiB, "payload.bin"), { entry: 0x80400000, start: 0x80400000, end: 0x80400005 });
  assert.deepEqual([...b.ram.subarray(4 * MiB, 4 * MiB + 5)], [...payload]);
});

test("the kernel goes at the first 2 MiB boundary after the firmware, as on QEMU 7.2", () => {
  assert.equal(kernelAddress(RAM_BASE + 115328), 0x80200000, "fw_dynamic.bin");
  assert.equal(kernelAddress(RAM_BASE + 3 * MiB), 0x80400000, "a 3 MiB firmware");
  assert.equal(kernelAddress(RAM_BASE + 2 * MiB), 0x80200000, "already aligned");
});

test("an Image or payload too big for RAM says which -m would hold it", () => {
  const b = new Bus(createVmMemory(4 * MiB), 4 * MiB);
  assert.throws(() => loadKernelImage(b, image(4096, 3 * MiB), RAM_BASE + 2 * MiB, "Image"), /^LoadError: Image: the kernel needs 3145728 bytes from 0x80200000, more than the 4 MiB of RAM; use -m 8M or more$/);
  assert.throws(() => loadKernelImage(b, new Uint8Array(3 * MiB), RAM_BASE + 2 * MiB, "p.bin"), /^LoadError: p\.bin: 3145728 bytes at 0x80200000 need more than the 4 MiB of RAM; use -m 8M or more$/);
});

test("compressed kernels and other architectures' images are refused with what they are", () => {
  const b = new Bus(createVmMemory(8 * MiB), 8 * MiB);
  const at = (bytes: number[], offset = 0) => {
    const file = new Uint8Array(1024);
    file.set(bytes, offset);
    return file;
  };
  const load = (file: Uint8Array) => () => loadKernelImage(b, file, RAM_BASE + 2 * MiB, "k");
  assert.throws(load(at([0x1f, 0x8b, 8])), /^LoadError: k: a gzip-compressed file \(decompress it first/);
  assert.throws(load(at([0x28, 0xb5, 0x2f, 0xfd])), /k: a zstd-compressed file/);
  assert.throws(load(at([0x27, 0x05, 0x19, 0x56])), /k: a U-Boot uImage/);
  assert.throws(load(at([...new TextEncoder().encode("ARMd")], 0x38)), /k: an ARM64 Linux Image, not RISC-V/);
  assert.throws(load(at([...new TextEncoder().encode("HdrS")], 0x202)), /k: an x86 Linux bzImage, not RISC-V/);
  assert.throws(load(new Uint8Array(0)), /k: empty file/);
});

test("raw binaries load where asked, within RAM", () => {
  const b = new Bus(createVmMemory(MiB), MiB);
  assert.deepEqual(loadRaw(b, new Uint8Array([1, 2]), RAM_BASE + 16, "fw.bin"), { entry: RAM_BASE + 16, start: RAM_BASE + 16, end: RAM_BASE + 18 });
  assert.equal(b.ram[17], 2);
  assert.throws(() => loadRaw(b, new Uint8Array(0), RAM_BASE, "e.bin"), /e\.bin: empty file/);
  assert.throws(() => loadRaw(b, new Uint8Array(2 * MiB), RAM_BASE, "big.bin"), /big\.bin: 2097152 bytes at 0x80000000 need more than the 1 MiB of RAM; use -m 4M or more/);
});

test("initrd and DTB go where QEMU 7.2 puts them", () => {
  assert.equal(initrdAddress(0x80200000, 256 * MiB), 0x88200000);
  assert.equal(initrdAddress(0x80200000, 64 * MiB), 0x82200000);
  assert.equal(dtbAddress(RAM_BASE, 256 * MiB, 0x1000), 0x8fe00000);
  assert.equal(dtbAddress(RAM_BASE, 4096 * MiB, 0x1000), 0xbfe00000, "kept below 3 GiB");
  assert.equal(dtbAddress(RAM_BASE, MiB, 0x1000), RAM_BASE, "tiny RAM: the bottom");
  assert.throws(() => dtbAddress(RAM_BASE, MiB, 2 * MiB), /does not fit/);
});
