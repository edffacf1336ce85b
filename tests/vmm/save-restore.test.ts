// save / restore / fork through the Vm API, with a bare-metal counter guest
// that keeps its count in a register and reads its NIC's MAC address.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapshotError } from "../../src/vmm/snapshot.ts";
import { Vm, VmCrashedError } from "../../src/vmm/vm.ts";
import { ConsoleLog } from "./console-log.ts";
import { bareMetalConfig } from "./runaway-programs.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-vm-snap-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function count(log: ConsoleLog): Promise<number> {
  return parseInt((await log.ask("c", /([0-9a-f]{16})\n/))[1], 16);
}

async function mac(log: ConsoleLog): Promise<string> {
  return (await log.ask("m", /([0-9a-f]{12})\n/))[1];
}

test("save writes the running VM to a file; Vm.restore continues where it was saved; fork copies are independent with their own MAC", async () => {
  const vm = await Vm.create(await bareMetalConfig("counter", 16 << 20, [{ backend: "null" }]));
  const log = new ConsoleLog(vm);
  await vm.start();
  await log.waitFor("?");
  assert.equal(await count(log), 1);
  assert.equal(await count(log), 2);
  const file = join(tmp, "counter.snap");
  const info = await vm.save(file);
  assert.equal(vm.state, "running", "save leaves a running VM running");
  assert.ok(info.bytes > 0 && info.ramPages > 0, JSON.stringify(info));
  assert.equal(await count(log), 3);
  await assert.rejects(vm.save(join(tmp, "no-such-dir", "x.snap")), /no-such-dir/, "a save that cannot write is an error");
  assert.equal(vm.state, "running");
  assert.equal(await count(log), 4, "and the VM carries on");
  await vm.stop();

  const restored = await Vm.restore(file);
  assert.equal(restored.state, "running");
  const rlog = new ConsoleLog(restored);
  assert.equal(await count(rlog), 3, "the restored guest continues from the saved count");
  assert.equal(await mac(rlog), "525400123456");

  const copy = await restored.fork();
  assert.equal(copy.state, "running");
  const clog = new ConsoleLog(copy);
  assert.equal(await count(clog), 4, "the copy starts from the original's state");
  assert.equal(await count(clog), 5);
  assert.equal(await count(rlog), 4, "the original does not see the copy's steps");
  const copyMac = await mac(clog);
  assert.match(copyMac, /^525400/);
  assert.notEqual(copyMac, "525400123456", "the copy has its own MAC");
  assert.equal(await mac(rlog), "525400123456");
  await Promise.all([restored.stop(), copy.stop()]);
});

test("a truncated or corrupt snapshot is one SnapshotError and no VM", async () => {
  const vm = await Vm.create(await bareMetalConfig("counter"));
  await vm.start();
  const file = join(tmp, "good.snap");
  await vm.save(file);
  await vm.stop();
  const bytes = readFileSync(file);
  const truncated = join(tmp, "truncated.snap");
  writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  await assert.rejects(Vm.restore(truncated), SnapshotError);
  // RAM pages are checked when the guest first touches them (lazy restore); the header, section table and metadata at once.
  for (const offset of [8, 64 + 4, 64 + 3 * 24 + 8]) {
    const flipped = Buffer.from(bytes);
    flipped[offset] ^= 0xff;
    const corrupt = join(tmp, `corrupt-${offset}.snap`);
    writeFileSync(corrupt, flipped);
    await assert.rejects(Vm.restore(corrupt), SnapshotError, `a flipped byte at ${offset}`);
  }
  await assert.rejects(Vm.restore(join(tmp, "missing.snap")), SnapshotError);
});

test("a RAM page that fails its checksum when the restored guest touches it crashes that VM alone, with the reason", async () => {
  const vm = await Vm.create(await bareMetalConfig("counter"));
  const log = new ConsoleLog(vm);
  await vm.start();
  await log.waitFor("?");
  const file = join(tmp, "page.snap");
  const info = await vm.save(file);
  await vm.stop();
  // Stored pages end the file, lowest RAM page first: the first is the program's code.
  const bytes = readFileSync(file);
  bytes[bytes.length - info.ramPages * 4096 + 16] ^= 0xff;
  writeFileSync(file, bytes);
  const healthy = await Vm.create(await bareMetalConfig("echo"));
  const healthyLog = new ConsoleLog(healthy);
  await healthy.start();
  await healthyLog.waitFor(">");

  await assert.rejects(Vm.restore(file, { verify: true }), SnapshotError, "verify: every page is checked before anything runs");
  const restored = await Vm.restore(file); // lazy: the page is read when first touched
  await assert.rejects(restored.waitForExit(), (e: Error) => e instanceof VmCrashedError && /guest RAM could not be loaded/.test(e.message));
  assert.equal(restored.state, "crashed");
  assert.match(restored.crashReason ?? "", /guest RAM could not be loaded/);
  await healthyLog.ask("a", "b");
  await healthy.stop();
});

test("a restored VM and a fork reboot for real: the boot images are read again and the guest starts over", async () => {
  const vm = await Vm.create(await bareMetalConfig("counter", 16 << 20, [{ backend: "null" }]));
  const log = new ConsoleLog(vm);
  await vm.start();
  await log.waitFor("?");
  assert.equal(await count(log), 1);
  const file = join(tmp, "reboot.snap");
  await vm.save(file);
  await vm.stop();

  const parent = await Vm.restore(file);
  for (const copy of [await Vm.restore(file), await parent.fork()]) {
    let reboots = 0;
    copy.on("reboot", () => reboots++);
    const clog = new ConsoleLog(copy);
    assert.equal(await count(clog), 2, "it continues from the saved count");
    await clog.ask("r", "?");
    assert.equal(reboots, 1);
    assert.equal(copy.state, "running");
    assert.equal(await count(clog), 1, "after the reboot the program starts over");
    await copy.stop();
  }
  await parent.stop();
});
