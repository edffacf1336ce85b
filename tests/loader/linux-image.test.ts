import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../../src/machine/bus.ts";
import { createVmMemory, RAM_BASE } from "../../src/cpu/layout.ts";
import { isLinuxImage, loadLinuxImage, loadRaw } from "../../src/loader/linux-image.ts";
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

test("an Image loads at RAM + 2 MiB and is entered at its first byte", () => {
  const b = new Bus(createVmMemory(8 * MiB), 8 * MiB);
  const img = loadLinuxImage(b, image(4096, 64 * 1024), "Image");
  assert.deepEqual(img, { entry: 0x80200000, start: 0x80200000, end: 0x80200000 + 64 * 1024 });
  assert.equal(b.ram[2 * MiB], 0x6f);
  assert.equal(b.ram[2 * MiB + 4095], 0x77);
});

test("an Image without the magic, or too big for RAM, is refused", () => {
  const b = new Bus(createVmMemory(4 * MiB), 4 * MiB);
  assert.equal(isLinuxImage(new Uint8Array(64)), false);
  assert.throws(() => loadLinuxImage(b, new Uint8Array(100), "vmlinux"), /^LoadError: vmlinux: not a RISC-V Linux Image/);
  assert.throws(() => loadLinuxImage(b, image(4096, 3 * MiB), "Image"), /Image: the kernel needs 3145728 bytes from 0x80200000.*use more memory/);
});

test("raw binaries load where asked, within RAM", () => {
  const b = new Bus(createVmMemory(MiB), MiB);
  assert.deepEqual(loadRaw(b, new Uint8Array([1, 2]), RAM_BASE + 16, "fw.bin"), { entry: RAM_BASE + 16, start: RAM_BASE + 16, end: RAM_BASE + 18 });
  assert.equal(b.ram[17], 2);
  assert.throws(() => loadRaw(b, new Uint8Array(0), RAM_BASE, "e.bin"), /e\.bin: empty file/);
  assert.throws(() => loadRaw(b, new Uint8Array(2 * MiB), RAM_BASE, "big.bin"), /do not fit in RAM/);
});

test("initrd and DTB go where QEMU 7.2 puts them", () => {
  assert.equal(initrdAddress(0x80200000, 256 * MiB), 0x88200000);
  assert.equal(initrdAddress(0x80200000, 64 * MiB), 0x82200000);
  assert.equal(dtbAddress(RAM_BASE, 256 * MiB, 0x1000), 0x8fe00000);
  assert.equal(dtbAddress(RAM_BASE, 4096 * MiB, 0x1000), 0xbfe00000, "kept below 3 GiB");
  assert.equal(dtbAddress(RAM_BASE, MiB, 0x1000), RAM_BASE, "tiny RAM: the bottom");
  assert.throws(() => dtbAddress(RAM_BASE, MiB, 2 * MiB), /does not fit/);
});
