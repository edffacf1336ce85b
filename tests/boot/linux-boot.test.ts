// Boots the default guest (Linux 6.1 + busybox initramfs + ext4 data disk,
// plus a loopback virtio-net and a virtio-rng) on Typevisor and drives its
// console: once with the built-in SBI firmware (the default --bios) and once
// with Debian's OpenSBI fw_dynamic.bin. Each firmware gets one boot, shared
// by the tests below in order; the last ones power the guest off and inspect
// the host's copy of the disk.
// Builds the default guest first when the cache lacks it (several minutes, once).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copySparse } from "../../src/backends/block/sparse-copy.ts";
import {
  ensureDefaultGuest,
  readDefaultGuestManifest,
  type DefaultGuest,
  type DefaultGuestManifest,
} from "../../src/guest/default-guest.ts";
import { GuestConsole, escapeRegExp, typevisorCommand } from "../support/guest-console.ts";

const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
/** Where the guest writes its file on the data disk, and how much (384 KiB). */
const GUEST_FILE = "/guest-random.bin";
const GUEST_FILE_BLOCKS = 96;

interface FirmwareCase {
  name: string;
  /** --bios value; undefined = the default (built-in SBI). */
  bios?: string;
  /** A line of the boot log that proves this firmware ran. */
  banner?: RegExp;
}

const FIRMWARES: FirmwareCase[] = [
  { name: "the built-in SBI firmware (default --bios)" },
  { name: "OpenSBI fw_dynamic.bin (--bios)", bios: DEBIAN_OPENSBI, banner: /OpenSBI v1\.\d+/ },
];

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

for (const firmware of FIRMWARES) {
  describe(`Linux on Typevisor with ${firmware.name}`, () => {
    let guest: DefaultGuest;
    let manifest: DefaultGuestManifest;
    let vm: GuestConsole | undefined;
    let bootMs = 0;
    let guestSha = "";
    const scratch = mkdtempSync(join(tmpdir(), "typevisor-boot-"));
    const disk = join(scratch, "data.ext4");

    /** The guest `before` started. */
    function running(): GuestConsole {
      assert.ok(vm, "the guest did not boot");
      return vm;
    }

    before(async () => {
      if (firmware.bios !== undefined && !existsSync(firmware.bios)) {
        throw new Error(`${firmware.bios} is missing: install the Debian package opensbi (apt-get install opensbi)`);
      }
      guest = await ensureDefaultGuest();
      manifest = readDefaultGuestManifest(guest.dir);
      copySparse(guest.disk, disk);
      vm = GuestConsole.start(
        typevisorCommand({
          bios: firmware.bios,
          kernel: guest.kernel,
          initrd: guest.initrd,
          append: manifest.append,
          drives: [{ file: disk }],
          net: "loopback",
          rng: true,
        }),
        { label: `typevisor (${firmware.name})` },
      );
      bootMs = await vm.waitForShell(manifest.readyMarker);
    });

    after(async () => {
      await vm?.kill();
      rmSync(scratch, { recursive: true, force: true });
    });

    test("boots to the shell with a clean kernel log", (t) => {
      const log = running().output;
      t.diagnostic(`ready marker after ${(bootMs / 1000).toFixed(1)} s`);
      if (firmware.banner) assert.match(log, firmware.banner);
      assert.match(log, /Linux version 6\.1\.\d+/);
      assert.match(log, /Run \/init as init process/);
      assert.doesNotMatch(log, /Kernel panic|Oops|BUG:|WARNING:|unhandled signal|Illegal instruction/);
      assert.doesNotMatch(log, /can't access tty|job control turned off/);
    });

    test("uname -a: Linux 6.1 on riscv64", async () => {
      const out = await running().check("uname -a");
      assert.match(out, new RegExp(`^Linux typevisor ${escapeRegExp(manifest.kernelRelease)} #1 SMP .* riscv64 GNU/Linux\n$`));
      assert.match(manifest.kernelRelease, /^6\.1\./);
    });

    test("/proc/cpuinfo: hart 0 and its ISA", async () => {
      const out = await running().check("cat /proc/cpuinfo");
      assert.match(out, /^processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc\S*\nmmu\t\t: sv(39|48|57)\n/);
      assert.doesNotMatch(out, /processor\t: 1/, "one hart, as asked");
    });

    test("U-mode reads the time CSR (busybox time)", async () => {
      // rdtime from user space needs mcounteren and scounteren set by the firmware.
      const out = await running().check("time -p sleep 1");
      const real = Number(/^real (\d+\.\d+)$/m.exec(out)?.[1]);
      assert.ok(real >= 0.9 && real < 600, `real ${real} s for sleep 1:\n${out}`);
    });

    test("virtio-rng backs /dev/hwrng", async () => {
      const vm = running();
      const current = await vm.check("cat /sys/class/misc/hw_random/rng_current");
      assert.match(current, /^virtio_rng\.\d+\n$/, "the hw_random core uses the virtio-rng device");
      // 256 bytes from the device; random data has almost no zero bytes.
      const counts = await vm.check("dd if=/dev/hwrng bs=256 count=1 2>/dev/null > /tmp/rng; wc -c < /tmp/rng; tr -d '\\000' < /tmp/rng | wc -c");
      const [total, nonZero] = counts.trim().split(/\s+/).map(Number);
      assert.equal(total, 256);
      assert.ok(nonZero! > 240, `${nonZero} of 256 bytes are non-zero`);
    });

    test("eth0 is a virtio-net interface that sends and receives", async () => {
      const vm = running();
      const link = await vm.run("ip link show eth0");
      const all = link.status === 0 ? "" : (await vm.run("ip link")).output;
      assert.equal(link.status, 0, `no eth0:\n${link.output}${all}`);
      assert.match(link.output, /link\/ether 52:54:00:12:34:56 /);
      assert.match(await vm.check("basename $(readlink /sys/class/net/eth0/device/driver)"), /^virtio_net\n$/);
      // The loopback backend hands every frame back: the ARP requests the
      // ping sends come back in (nothing answers them, so the ping fails).
      await vm.check("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0");
      await vm.run("ping -c 2 -W 1 10.0.2.2");
      const stats = await vm.check("cd /sys/class/net/eth0/statistics && cat tx_packets rx_packets rx_errors && cd /");
      const [tx, rx, errors] = stats.trim().split(/\s+/).map(Number);
      // (Not rx === tx: the kernel may retry ARP between the two reads.)
      assert.ok(tx! >= 1 && rx! >= 1 && errors === 0, `tx ${tx}, rx ${rx}, rx errors ${errors}`);
    });

    test("init mounts the data disk /dev/vda (ext4) at /data; the pristine file is there", async () => {
      const vm = running();
      assert.match(vm.output, /typevisor: data disk \/dev\/vda mounted at \/data\n/);
      assert.match(await vm.check("grep ' /data ' /proc/mounts"), /^\/dev\/vda \/data ext4 rw/);
      assert.equal(await vm.check(`cat /data${manifest.dataDiskFile.path}`), manifest.dataDiskFile.text);
    });

    test("writes a file, syncs, and reads it back after a remount", async () => {
      const vm = running();
      await vm.check(`dd if=/dev/urandom of=/data${GUEST_FILE} bs=4096 count=${GUEST_FILE_BLOCKS} 2>/dev/null && sync`);
      const written = await vm.check(`sha256sum /data${GUEST_FILE}`);
      guestSha = /^([0-9a-f]{64}) /.exec(written)?.[1] ?? assert.fail(`no sha256 in ${JSON.stringify(written)}`);
      assert.equal(await vm.check(`wc -c < /data${GUEST_FILE}`), `${GUEST_FILE_BLOCKS * 4096}\n`);
      // A remount drops the page cache: the second read comes from the disk.
      await vm.check("umount /data && mount -t ext4 -o ro /dev/vda /data");
      assert.equal(await vm.check(`sha256sum /data${GUEST_FILE}`), written);
      await vm.check("umount /data");
      assert.doesNotMatch(await vm.check("cat /proc/mounts"), / \/data /);
    });

    test("poweroff ends the process with exit status 0", async () => {
      const vm = running();
      vm.type("poweroff");
      assert.deepEqual(await vm.exited(), { code: 0, signal: null }, vm.transcript());
      assert.match(vm.output, /reboot: Power down/);
    });

    test("the host's copy of the disk holds the guest's file, and is clean", () => {
      assert.ok(guestSha, "the guest wrote no file (an earlier test failed)");
      const dumped = spawnSync("debugfs", ["-R", `cat ${GUEST_FILE}`, disk], { maxBuffer: 16 << 20 });
      assert.equal(dumped.status, 0, dumped.stderr.toString());
      assert.equal(dumped.stdout.length, GUEST_FILE_BLOCKS * 4096);
      assert.equal(sha256(dumped.stdout), guestSha);
      const fsck = spawnSync("e2fsck", ["-fn", disk], { encoding: "utf8" });
      assert.equal(fsck.status, 0, `e2fsck found problems:\n${fsck.stdout}${fsck.stderr}`);
      const pristine = readDefaultGuestManifest(guest.dir).files["data.ext4"];
      if (pristine) assert.equal(sha256(readFileSync(guest.disk)), pristine.sha256, "the cached pristine disk is untouched");
    });
  });
}
