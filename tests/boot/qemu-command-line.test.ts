// The QEMU command line docs/guest-images.md gives for the default guest,
// run by typevisor word for word: one-dash options, -M virt, -nographic, and
// a disk as -drive if=none,id=d0 plus -device virtio-blk-device,drive=d0.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copySparse } from "../../src/backends/block/sparse-copy.ts";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole } from "../support/guest-console.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-qemu-line-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("typevisor run takes QEMU's own command line for the default guest", async () => {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(tmp, "disk.ext4");
  copySparse(guest.disk, disk);
  const qemuArgs = [
    "-M", "virt", "-m", "256M", "-nographic", "-kernel", guest.kernel,
    "-initrd", guest.initrd, "-append", "console=ttyS0 earlycon=sbi",
    "-drive", `file=${disk},format=raw,if=none,id=d0`, "-device", "virtio-blk-device,drive=d0",
  ];
  const vm = GuestConsole.start([process.execPath, [TYPEVISOR_BIN, "run", ...qemuArgs]], { label: "typevisor run (QEMU's line)" });
  await vm.waitForShell(manifest.readyMarker);
  assert.match(vm.output, /typevisor: data disk \/dev\/vda mounted at \/data\n/);
  assert.equal(await vm.check(`cat /data${manifest.dataDiskFile.path}`), manifest.dataDiskFile.text);
  vm.type("poweroff");
  assert.deepEqual(await vm.exited(), { code: 0, signal: null }, vm.transcript());
});
