// The Vm API with the default guest (real Linux): a background job keeps
// counting across save and restore, and forked copies run independently,
// each with fresh host entropy behind its virtio-rng and its own NIC MAC at
// the device.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { defaultGuestConfig, DEFAULT_GUEST_READY_MARKER } from "../../src/guest/default-guest-config.ts";
import { GuestShell } from "../../src/vmm/guest-shell.ts";
import { Vm } from "../../src/vmm/vm.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-vm-linux-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function check(shell: GuestShell, command: string): Promise<string> {
  const r = await shell.run(command);
  assert.equal(r.status, 0, `${command}: ${r.output}`);
  return r.output.trim();
}

test("Linux: a background job keeps counting across save and restore; forks are independent with fresh entropy", async () => {
  const vm = await Vm.create(await defaultGuestConfig({ memory: 128 * 2 ** 20 }));
  const shell = new GuestShell(vm);
  await vm.start();
  await shell.ready(DEFAULT_GUEST_READY_MARKER);
  await assert.rejects(shell.run("echo unfinished &"), /the shell abandoned/, "a line the shell rejects is an error, not a hang");
  await check(shell, "(i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 1; done) >/dev/null 2>&1 </dev/null & true");
  await sleep(3000);
  const file = join(tmp, "linux.snap");
  const atSave = Number(await check(shell, "cat /tmp/count"));
  await vm.save(file);
  await vm.stop();

  const restored = await Vm.restore(file);
  const rshell = new GuestShell(restored);
  await sleep(3000);
  const later = Number(await check(rshell, "cat /tmp/count"));
  assert.ok(later > atSave, `the job counted on after restore: ${atSave} → ${later}`);
  assert.equal(await check(rshell, "cat /data/hello.txt"), "hello from the Typevisor data disk");

  const copy = await restored.fork();
  try {
    await forkedCopiesAreIndependent(rshell, copy, later);
  } finally {
    await Promise.all([restored.stop(), copy.stop()]);
  }
});

async function forkedCopiesAreIndependent(rshell: GuestShell, copy: Vm, later: number): Promise<void> {
  const cshell = new GuestShell(copy);
  await check(cshell, "echo copy > /tmp/who");
  await check(rshell, "echo original > /tmp/who");
  assert.equal(await check(cshell, "cat /tmp/who"), "copy");
  assert.equal(await check(rshell, "cat /tmp/who"), "original");
  // The guest's virtio-rng driver and hwrng core buffer a few hundred bytes
  // ahead, and that buffer was copied by the fork; past it each copy's bytes
  // come from its own device, fed by the host.
  const hwrng = "head -c 4096 /dev/hwrng | md5sum";
  const [a, b] = [await check(rshell, hwrng), await check(cshell, hwrng)];
  assert.match(a, /^[0-9a-f]{32} /);
  assert.notEqual(a, b, "each copy's virtio-rng serves its own host entropy");
  assert.ok(Number(await check(cshell, "cat /tmp/count")) >= later, "the copy's job counts on too");
}
