// `typevisor run` with no arguments — what `npm start` does — boots the
// default guest with its data disk as /dev/vda, mounted by the guest's init at
// /data, creating that disk (sparse) from the pristine image on first use and
// keeping what the guest writes for the next run; `-snapshot` keeps nothing.
// TYPEVISOR_DATA_DISK points the disk at a temp file here.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { GuestConsole } from "../support/guest-console.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";
import { typevisorWithEnv } from "../cli/session.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-default-run-"));
/** Every guest this file starts: killed at the end, so a failed assertion never leaves a VM running. */
const started: GuestConsole[] = [];
after(() => {
  for (const vm of started) void vm.kill();
  rmSync(tmp, { recursive: true, force: true });
});

async function bootDefault(disk: string, ...args: string[]): Promise<GuestConsole> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  process.env.TYPEVISOR_DATA_DISK = disk;
  const console = GuestConsole.start([process.execPath, [TYPEVISOR_BIN, "run", ...args]], { label: `typevisor run ${args.join(" ")}` });
  delete process.env.TYPEVISOR_DATA_DISK;
  started.push(console);
  await console.waitForShell(manifest.readyMarker);
  return console;
}

async function powerOff(vm: GuestConsole): Promise<void> {
  vm.type("poweroff");
  assert.deepEqual(await vm.exited(), { code: 0, signal: null }, vm.transcript());
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

test("typevisor run with no arguments boots the default guest, its data disk at /data, and keeps that disk", async () => {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(tmp, "data.ext4");
  assert.equal(existsSync(disk), false);

  const first = await bootDefault(disk);
  assert.ok(existsSync(disk), "the writable data disk was created from the pristine image");
  const [copy, pristine] = [statSync(disk), statSync(guest.disk)];
  assert.equal(copy.size, pristine.size);
  assert.ok(copy.blocks <= pristine.blocks + 64, `the copy stays sparse: ${copy.blocks} blocks allocated, the pristine image ${pristine.blocks}`);
  assert.match(first.stderr, /booting the default guest .*its data disk .*data\.ext4 is mounted at \/data/);
  assert.match(await first.check("uname -r"), /^6\.1\./);
  assert.match(await first.check("grep ' /data ' /proc/mounts"), /^\/dev\/vda \/data ext4 rw/);
  assert.equal((await first.check(`cat /data${manifest.dataDiskFile.path}`)).trim(), manifest.dataDiskFile.text.trim());
  await first.check("echo kept-across-runs > /data/note.txt && sync");
  await powerOff(first);

  const second = await bootDefault(disk);
  assert.equal((await second.check("cat /data/note.txt")).trim(), "kept-across-runs");
  await powerOff(second);
});

test("the default guest is on user-mode NAT: init gets 10.0.2.15 by DHCP, and the host answers at 10.0.2.2", async () => {
  const server = createServer((_req, res) => res.end("hello from the host\n"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const vm = await bootDefault(join(tmp, "net-data.ext4"));
    // udhcpc runs in the background from /init: wait for its lease.
    const addr = await vm.check("for i in $(seq 1 100); do ip -4 addr show eth0 | grep -q 10.0.2.15 && break; sleep 0.1; done; ip -4 addr show eth0");
    assert.match(addr, /inet 10\.0\.2\.15\/24/);
    assert.match(await vm.check("ip route"), /default via 10\.0\.2\.2 dev eth0/);
    assert.match(await vm.check("cat /etc/resolv.conf"), /nameserver 10\.0\.2\.3/);
    assert.equal((await vm.check(`wget -q -O - http://10.0.2.2:${port}/`)).trim(), "hello from the host");
    await powerOff(vm);
  } finally {
    server.close();
  }
});

test("-snapshot: the guest writes to its disks, and no image file changes", async () => {
  const disk = join(tmp, "snapshot-data.ext4");
  const extra = join(tmp, "extra.img");
  writeFileSync(extra, new Uint8Array(1 << 20));
  // The first boot creates the per-user disk; its writes are the baseline.
  await powerOff(await bootDefault(disk));
  const before = [sha256(disk), sha256(extra)];

  const vm = await bootDefault(disk, "-snapshot", "-drive", `file=${extra},format=raw`);
  assert.match(vm.stderr, /thrown away at exit \(-snapshot\)/);
  await vm.check("echo only-in-memory > /data/snap.txt && sync");
  await vm.check("echo raw-write | dd of=/dev/vdb bs=512 conv=sync 2>/dev/null && sync");
  // Remounting drops the page cache: what is read now came back from the device.
  await vm.check("umount /data && mount -t ext4 /dev/vda /data");
  assert.equal((await vm.check("cat /data/snap.txt")).trim(), "only-in-memory");
  await vm.check("echo 3 > /proc/sys/vm/drop_caches");
  assert.match(await vm.check("dd if=/dev/vdb bs=9 count=1 2>/dev/null"), /^raw-write/);
  await powerOff(vm);
  assert.deepEqual([sha256(disk), sha256(extra)], before, "both image files are byte for byte as before");

  const after = await bootDefault(disk);
  assert.equal((await after.run("test -e /data/snap.txt")).status, 1, "the next run does not see the discarded write");
  await powerOff(after);
});

test("with the guest cached, a bad flag is an error before any 'booting' line, and no data disk is made", async () => {
  await ensureDefaultGuest();
  const disk = join(tmp, "never.ext4");
  const r = await typevisorWithEnv({ TYPEVISOR_DATA_DISK: disk }, "run", "--smp", "9").exited;
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "typevisor: --smp 9: the virt board takes 1 to 8 harts, got 9\n");
  assert.equal(existsSync(disk), false);
});
