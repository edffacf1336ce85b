// `typevisor run` with no arguments — what `npm start` does — boots the
// default guest with its data disk as /dev/vda, creating that disk from the
// pristine image on first use and keeping what the guest writes for the next
// run. TYPEVISOR_DATA_DISK points the disk at a temp file here.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole } from "../support/guest-console.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-default-run-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function bootDefault(disk: string): Promise<GuestConsole> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  process.env.TYPEVISOR_DATA_DISK = disk;
  const console = GuestConsole.start([process.execPath, [TYPEVISOR_BIN, "run"]], { label: "typevisor run" });
  delete process.env.TYPEVISOR_DATA_DISK;
  await console.waitForShell(manifest.readyMarker);
  return console;
}

test("typevisor run with no arguments boots the default guest and keeps its data disk", async () => {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(tmp, "data.ext4");
  assert.equal(existsSync(disk), false);

  const first = await bootDefault(disk);
  assert.ok(existsSync(disk), "the writable data disk was created from the pristine image");
  assert.match(await first.check("uname -r"), /^6\.1\./);
  await first.check("mount /dev/vda /mnt");
  assert.equal((await first.check(`cat /mnt${manifest.dataDiskFile.path}`)).trim(), manifest.dataDiskFile.text.trim());
  await first.check("echo kept-across-runs > /mnt/note.txt && sync && umount /mnt");
  first.type("poweroff");
  assert.deepEqual(await first.exited(), { code: 0, signal: null });

  const second = await bootDefault(disk);
  await second.check("mount /dev/vda /mnt");
  assert.equal((await second.check("cat /mnt/note.txt")).trim(), "kept-across-runs");
  await second.check("umount /mnt");
  second.type("poweroff");
  assert.deepEqual(await second.exited(), { code: 0, signal: null });
});
