/**
 * Snapshots of the default Linux guest, booted in this process: save and
 * restore into a new machine (shell state, a background job and uptime
 * carry on), lazy restore (only touched pages are read), and forks from
 * one image (independent copies).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { captureImage, imagePageCount, restoreImage, restoreSnapshot, saveSnapshot, type MachineImage } from "../../src/vmm/snapshot.ts";
import { guestFiles, LinuxGuest, type GuestFiles } from "./linux-guest.ts";

const dir = mkdtempSync(join(tmpdir(), "tv-linux-snap-"));
test.after(async () => {
  await LinuxGuest.stopAll(); // a failed test leaves machines running
  rmSync(dir, { recursive: true, force: true });
});

let files: GuestFiles;
let restored: LinuxGuest;
let image: MachineImage;

async function count(g: LinuxGuest): Promise<number> {
  return Number((await g.run("cat /tmp/count")).trim());
}

async function uptime(g: LinuxGuest): Promise<number> {
  return parseFloat(await g.run("cut -d' ' -f1 /proc/uptime"));
}

test("a booted guest saved and restored into a new machine keeps its shell, its job and its time", async () => {
  files = await guestFiles(dir);
  const a = new LinuxGuest(files).start();
  await a.booted(files.readyMarker);
  await a.run("cd /tmp && X=kept-value");
  a.type("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done) &\n");
  while (Number((await a.run("cat /tmp/count 2>/dev/null || echo 0")).trim()) < 3) await sleep(200);
  const countBefore = await count(a);
  const upBefore = await uptime(a);
  await a.machine.pause();
  const file = join(dir, "linux.tvsnap");
  const info = saveSnapshot(a.machine, file, { config: { name: "linux-test" } });
  await a.stop();
  assert.ok(info.ramPages > 1000 && info.bytes < 256 << 20, `a booted guest's RAM in use, zero pages elided (${info.ramPages} pages)`);

  restored = new LinuxGuest(files, { boot: false });
  restoreSnapshot(file, restored.machine);
  const loadedAtRestore = restored.machine.bus.pages.loaded;
  restored.start();
  assert.equal((await restored.run("echo $X; pwd")).trim(), "kept-value\n/tmp");
  assert.match(await restored.run("jobs"), /Running/);
  const c1 = await count(restored);
  assert.ok(c1 >= countBefore, `the counter went on from ${countBefore} (now ${c1})`);
  await sleep(1500);
  const c2 = await count(restored);
  assert.ok(c2 > c1, `the background job keeps counting (${c1} then ${c2})`);
  const upAfter = await uptime(restored);
  assert.ok(upAfter >= upBefore && upAfter < upBefore + 60, `uptime continues (${upBefore} s at the save, ${upAfter} s now)`);
  assert.match(await restored.run("cat /data/hello.txt"), /hello from the Typevisor data disk/);

  // Lazy restore: the machine read only the pages it touched.
  const pages = restored.machine.bus.pages;
  assert.ok(loadedAtRestore <= 16, `restore itself loads at most the virtqueue ring pages (${loadedAtRestore})`);
  assert.ok(pages.loaded > 0 && pages.loaded < info.ramPages, `${pages.loaded} of the ${info.ramPages} stored pages were read`);
  assert.ok(pages.lazy, "pages the guest never touched are still in the file");
});

test("a diff snapshot of the restored guest (written through the harts and disk DMA) restores its state", async () => {
  const file = join(dir, "linux.tvsnap");
  await restored.run("echo written-after-restore > /tmp/after; cp /data/hello.txt /tmp/copied; Y=diff-value");
  await restored.machine.pause();
  const diffFile = join(dir, "linux-diff.tvsnap");
  const diff = saveSnapshot(restored.machine, diffFile, { config: { name: "linux-test" }, parent: file });
  await restored.stop();
  assert.ok(diff.ramPages > 0 && diff.ramPages < 2000, `the diff holds only what changed (${diff.ramPages} pages)`);
  restored = new LinuxGuest(files, { boot: false });
  restoreSnapshot(diffFile, restored.machine);
  restored.start();
  assert.equal((await restored.run("echo $X $Y; cat /tmp/after /tmp/copied")).trim(),
    "kept-value diff-value\nwritten-after-restore\nhello from the Typevisor data disk");
  assert.match(await restored.run("jobs"), /Running/);
});

test("copies restored from one fork image are independent of each other and of the image", async () => {
  await restored.machine.pause();
  image = captureImage(restored.machine, { name: "linux-test" });
  await restored.stop();
  const copies = [
    new LinuxGuest(files, { boot: false }),
    new LinuxGuest(files, { boot: false }),
  ];
  restoreImage(image, copies[0].machine, { mac: "52:54:00:00:00:01" });
  restoreImage(image, copies[1].machine, { mac: "52:54:00:00:00:02" });
  for (const c of copies) c.start();
  await copies[0].run("echo one > /tmp/who");
  await copies[1].run("echo two > /tmp/who");
  assert.equal((await copies[0].run("cat /tmp/who")).trim(), "one");
  assert.equal((await copies[1].run("cat /tmp/who")).trim(), "two");
  // Each copy's virtio-rng reads the host's randomness: past the few bytes the
  // guest driver had buffered before the fork, no two copies see the same bytes.
  const rng = await Promise.all(copies.map((c) => c.run("head -c 1024 /dev/hwrng | tail -c 32 | od -An -tx1")));
  assert.match(rng[0], /[0-9a-f]{2}/);
  assert.notEqual(rng[0], rng[1]);
  // Each card reports its own MAC (the driver reads it when it probes the device).
  const macs = await Promise.all(
    copies.map((c) =>
      c.run("d=$(basename $(readlink /sys/class/net/eth0/device)); echo $d > /sys/bus/virtio/drivers/virtio_net/unbind; echo $d > /sys/bus/virtio/drivers/virtio_net/bind; cat /sys/class/net/eth0/address"),
    ),
  );
  assert.match(macs[0], /52:54:00:00:00:01/);
  assert.match(macs[1], /52:54:00:00:00:02/);
  for (const c of copies) {
    const touched = c.machine.bus.pages.loaded;
    assert.ok(touched < imagePageCount(image), `a copy touched ${touched} of the image's ${imagePageCount(image)} pages`);
  }
  await Promise.all(copies.map((c) => c.stop()));
  // The image itself is unchanged: a third copy has no /tmp/who.
  const third = new LinuxGuest(files, { boot: false });
  restoreImage(image, third.machine);
  third.start();
  assert.equal((await third.run("cat /tmp/who 2>&1")).trim(), "cat: can't open '/tmp/who': No such file or directory");
  await third.stop();
});
