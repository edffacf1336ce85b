/**
 * The default Linux guest on a qcow2 overlay of its data disk: the guest
 * mounts it, reads the base's files through the backing file, writes a new
 * file; afterwards qemu-img check passes, the base is untouched, and the
 * new file's bytes are what the guest saw (read back with debugfs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole, typevisorCommand } from "../support/guest-console.ts";
import { ok, run, scratchDir, TYPEVISOR } from "./helpers.ts";

const sha256 = (bytes: Uint8Array) => crypto.createHash("sha256").update(bytes).digest("hex");

test("Linux boots on a qcow2 overlay (probed, no format=), writes through it, and qemu-img check passes", async (t) => {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const dir = scratchDir(t);
  const base = path.join(dir, "base.qcow2");
  const top = path.join(dir, "top.qcow2");
  ok(TYPEVISOR, ["img", "convert", "-O", "qcow2", guest.disk, base]);
  ok(TYPEVISOR, ["img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top]);
  const baseHash = sha256(fs.readFileSync(base));

  const refused = run(TYPEVISOR, ["run", "--kernel", guest.kernel, "--drive", `file=${top},format=raw`]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /top\.qcow2 is a qcow2 image; format=raw would let the guest overwrite its metadata/);

  const vm = GuestConsole.start(
    typevisorCommand({ kernel: guest.kernel, initrd: guest.initrd, append: manifest.append, extraArgs: ["--drive", `file=${top}`] }),
    { label: "typevisor run (qcow2)" },
  );
  await vm.waitForShell(manifest.readyMarker);
  assert.equal((await vm.check(`cat /data${manifest.dataDiskFile.path}`)).trim(), manifest.dataDiskFile.text.trim());
  await vm.check("dd if=/dev/urandom of=/data/big bs=65536 count=48 2>/dev/null && sync");
  const guestHash = (await vm.check("sha256sum /data/big")).trim().split(/\s+/)[0];
  await vm.check("echo bye > /data/bye.txt && sync && umount /data");
  vm.type("poweroff");
  assert.deepEqual(await vm.exited(), { code: 0, signal: null });

  const check = run("qemu-img", ["check", top]);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.equal(sha256(fs.readFileSync(base)), baseHash, "the backing file was not written");
  assert.ok(!fs.existsSync(`${top}.lock`), "the lock went away with the VM");
  const flat = path.join(dir, "flat.ext4");
  ok(TYPEVISOR, ["img", "convert", "-O", "raw", top, flat]);
  ok("e2fsck", ["-fn", flat]);
  const out = path.join(dir, "big");
  ok("debugfs", ["-R", `dump /big ${out}`, flat]);
  assert.equal(sha256(fs.readFileSync(out)), guestHash);
});
