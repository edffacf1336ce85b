import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { VirtMachine } from "../../src/machine/virt-machine.ts";
import { program } from "../cli/programs.ts";
import { program as spinProgram } from "./runaway-programs.ts";
import { captureImage, restoreImage } from "../../src/vmm/snapshot.ts";

async function timerMachine() {
  const bytes = readFileSync(await program("timer"));
  let out = "";
  const machine = new VirtMachine({
    firmware: { kind: "none" },
    kernel: { name: "timer", bytes },
    serial: { write: (d) => (out += Buffer.from(d).toString("latin1")) },
  });
  return { machine, output: () => out };
}

test("pause() parks run() with guest time stopped; resume() continues where it stopped", async () => {
  const { machine, output } = await timerMachine();
  const running = machine.run();
  await sleep(70); // one timer tick (50 ms) has fired
  await machine.pause();
  assert.equal(machine.paused, true);
  const ticks = machine.clock.now();
  const printed = output();
  const pcs = machine.harts.map((h) => h.state.getPc());
  await sleep(150); // three more ticks' worth of host time
  assert.equal(machine.clock.now(), ticks, "guest time stands still while paused");
  assert.equal(output(), printed, "the guest ran while paused");
  assert.deepEqual(machine.harts.map((h) => h.state.getPc()), pcs);
  machine.resume();
  assert.equal(machine.paused, false);
  assert.equal(await running, 0);
  assert.equal(output(), "ttttt");
});

test("pause() before run() holds the machine at its start until resume()", async () => {
  const { machine, output } = await timerMachine();
  await machine.pause();
  assert.equal(machine.paused, true);
  const running = machine.run();
  await sleep(80);
  assert.equal(output(), "");
  machine.resume();
  assert.equal(await running, 0);
  assert.equal(output(), "ttttt");
});

test("quit() ends a paused machine's run()", async () => {
  const { machine } = await timerMachine();
  const running = machine.run();
  await machine.pause();
  machine.quit(4);
  assert.equal(await running, 4);
});

test("while attention is set, the run loop runs no batch and yields to the event loop; cleared, the guest runs", async () => {
  let out = "";
  const machine = new VirtMachine({
    firmware: { kind: "none" },
    kernel: { name: "spin", bytes: readFileSync(await spinProgram("spin")) },
    serial: { write: (d) => (out += Buffer.from(d).toString("latin1")) },
  });
  const attention = new Int32Array(new SharedArrayBuffer(4));
  machine.attention = attention;
  Atomics.store(attention, 0, 1); // another thread (the VMM's host side) wants this one
  const running = machine.run();
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(machine.harts[0].instretNow(), 0, "a batch ran while attention was set");
  Atomics.store(attention, 0, 0); // the request was taken
  await sleep(50);
  assert.ok(machine.harts[0].instretNow() > 0, "the guest did not run once attention was cleared");
  assert.equal(out, "S");
  machine.quit(0);
  assert.equal(await running, 0);
});

test("boot: false builds the board with no images loaded and nothing running", async () => {
  const bytes = readFileSync(await program("hello"));
  const machine = new VirtMachine({ firmware: { kind: "none" }, kernel: { name: "hello", bytes }, boot: false });
  assert.equal(machine.dtb.length, 0);
  assert.ok(machine.bus.ram.subarray(0, 1 << 20).every((b) => b === 0), "no image in RAM");
  const running = machine.run();
  await sleep(30);
  machine.quit(2);
  assert.equal(await running, 2);
});

test("save() and a restore refuse a machine that is running", async () => {
  const { machine } = await timerMachine();
  const running = machine.run();
  assert.throws(() => machine.save(), /pause the machine/);
  await machine.pause();
  const state = machine.save();
  machine.resume();
  assert.match(machine.mismatch(state) ?? "", /running: pause it first/);
  await machine.pause();
  assert.equal(machine.mismatch(state), null);
  machine.quit(0);
  await running;
});

test("a restored machine reboots from its boot images, read when the guest asks; without any it powers off with a note", async () => {
  const bytes = readFileSync(await program("reset"));
  const source = new VirtMachine({ firmware: { kind: "none" }, kernel: { name: "reset", bytes } });
  const image = captureImage(source, null);
  const restored = () => {
    let out = "";
    const machine = new VirtMachine({ firmware: { kind: "none" }, boot: false, serial: { write: (d) => (out += Buffer.from(d).toString("latin1")) } });
    restoreImage(image, machine);
    return { machine, output: () => out };
  };
  // The program counts its boots in RAM: "1", a reset, "2", then exit code 5.
  const rebooting = restored();
  let reads = 0;
  rebooting.machine.bootFrom(() => (reads++, { firmware: { kind: "none" }, kernel: { name: "reset", bytes } }));
  assert.equal(reads, 0, "a restore reads no boot images");
  assert.equal(await rebooting.machine.run(), 5);
  assert.equal(rebooting.output(), "12");
  assert.equal(reads, 1);

  const imageless = restored();
  assert.equal(await imageless.machine.run(), 0);
  assert.match(imageless.output(), /^1[^]*asked for a reboot, but the boot images cannot be loaded \(.*no boot images\); powering off/);

  const gone = restored();
  gone.machine.bootFrom(() => {
    throw new Error("cannot read /gone/kernel");
  });
  assert.equal(await gone.machine.run(), 0);
  assert.match(gone.output(), /cannot be loaded \(cannot read \/gone\/kernel\); powering off/);
});
