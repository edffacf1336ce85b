import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapshotOverlayBackend } from "../../src/backends/block/index.ts";
import { VirtioBlk, VirtioNet } from "../../src/devices/virtio/index.ts";
import { buildBoard, buildMachine } from "../../src/vmm/build.ts";
import { boardShape } from "../../src/vmm/board-shape.ts";
import { NullEthernetBackend } from "../../src/backends/net/null.ts";
import { validateVmConfig } from "../../src/vmm/config.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-build-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("buildMachine makes the board, devices and backends a config describes", () => {
  const program = join(tmp, "loop.bin");
  writeFileSync(program, Uint8Array.of(0x6f, 0x00, 0x00, 0x00)); // j .
  const rw = join(tmp, "rw.img");
  const snap = join(tmp, "snap.img");
  writeFileSync(rw, new Uint8Array(8192));
  writeFileSync(snap, new Uint8Array(8192).fill(7));
  const config = validateVmConfig({
    memory: 64 * 2 ** 20,
    harts: 2,
    firmware: { kind: "none" },
    kernel: program,
    drives: [{ file: rw, serial: "first" }, { file: snap, snapshot: true }],
    nics: [{ backend: "null", mac: "52:54:00:aa:bb:cc" }],
    rng: true,
  });
  const machine = buildMachine(config);
  assert.equal(machine.ramSize, 64 * 2 ** 20);
  assert.equal(machine.harts.length, 2);
  const devices = machine.virtio.populated().map((s) => s.transport!.device);
  assert.deepEqual(devices.map((d) => d.name), ["virtio-blk", "virtio-blk", "virtio-net", "virtio-rng"]);
  const [first, second] = devices as VirtioBlk[];
  assert.equal(first.backend.readOnly, false);
  assert.ok(!(first.backend instanceof SnapshotOverlayBackend));
  assert.ok(second.backend instanceof SnapshotOverlayBackend, "snapshot=on puts an overlay in front of the image");
  assert.ok(second.backend.writeAt(0, new Uint8Array(512).fill(1), 0, 512));
  assert.deepEqual([...readFileSync(snap).subarray(0, 4)], [7, 7, 7, 7], "the image file is untouched");
  assert.deepEqual([...(devices[2] as VirtioNet).mac], [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]);
  assert.equal(machine.bus.ram[0], 0x6f, "the program was loaded at RAM start");
});

test("an image the loader rejects is an error, and the drives opened are closed again", () => {
  const huge = join(tmp, "huge.bin");
  writeFileSync(huge, new Uint8Array(3 * 2 ** 20));
  const disk = join(tmp, "d.img");
  writeFileSync(disk, new Uint8Array(4096));
  const config = validateVmConfig({ memory: 2 * 2 ** 20, firmware: { kind: "none" }, kernel: huge, drives: [{ file: disk }] });
  const openFds = () => readdirSync("/proc/self/fd").length;
  const before = openFds();
  assert.throws(() => buildMachine(config), /huge\.bin: 3145728 bytes at 0x80000000 need more than the 2 MiB of RAM; use -m 6M or more/);
  assert.equal(openFds(), before, "the drive's file descriptor was closed");
});

test("a board built ahead gets the config's devices plugged in, once, and reads the boot images only when the guest reboots", () => {
  const program = join(tmp, "idle.bin");
  writeFileSync(program, Uint8Array.of(0x6f, 0x00, 0x00, 0x00)); // j .
  const config = validateVmConfig({ memory: 8 * 2 ** 20, harts: 1, firmware: { kind: "none" }, kernel: program, drives: [], nics: [{ backend: "null" }], rng: true });
  const board = buildBoard(boardShape(config));
  assert.equal(board.virtio.populated().length, 0);
  const machine = buildMachine(config, { boot: false, board });
  assert.equal(machine, board, "the board itself becomes the machine");
  assert.deepEqual(machine.virtio.populated().map((s) => s.transport!.device.name), ["virtio-net", "virtio-rng"]);
  const net = machine.virtio.populated()[0];
  assert.equal(machine.bus.deviceAt(net.base), net.mmio, "the bus routes the slot to the plugged device");
  assert.equal(machine.bus.ram[0], 0, "no image was loaded");
  assert.throws(() => machine.plugVirtio([new VirtioNet({ backend: new NullEthernetBackend() })]), /already has virtio devices/);
  machine.reset();
  assert.equal(machine.bus.ram[0], 0x6f, "a reset (the guest's reboot) loads the config's program");
});
