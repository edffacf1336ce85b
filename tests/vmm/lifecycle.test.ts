// The Vm object's lifecycle with bare-metal guests: states and events,
// pause/resume (checked against the guest's own clock), stop in every state,
// reboot events, and back-pressure on console input.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../src/vmm/config.ts";
import { Vm, VmStateError, type VmState } from "../../src/vmm/vm.ts";
import { ConsoleLog } from "./console-log.ts";
import { bareMetalConfig } from "./runaway-programs.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-lifecycle-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** mtime ticks per millisecond (10 MHz, as QEMU's virt). */
const TICKS_PER_MS = 10_000;

test("a config error is one ConfigError before any worker starts", async () => {
  await assert.rejects(Vm.create({ memory: "lots", harts: 1 }), (e: Error) => e instanceof ConfigError && /memory/.test(e.message));
});

test("states and events: created → running → stopped, the console output and the guest's exit code", async () => {
  const vm = await Vm.create(await bareMetalConfig("hello"));
  const states: VmState[] = [];
  const exits: number[] = [];
  vm.on("state", (s: VmState) => states.push(s));
  vm.on("exit", (code: number) => exits.push(code));
  let consoleEvents = "";
  vm.on("console", (chunk: Buffer) => (consoleEvents += chunk.toString("latin1")));
  const log = new ConsoleLog(vm);
  assert.equal(vm.state, "created");
  await vm.start();
  assert.equal(await vm.waitForExit(), 3);
  await log.waitFor("hello");
  assert.equal(log.text, "hello");
  assert.deepEqual(states, ["running", "stopped"]);
  assert.deepEqual(exits, [3]);
  assert.equal(consoleEvents, "hello", "console events carry the same output as the stream");
  await assert.rejects(vm.start(), VmStateError);
});

test("guest time does not advance while the VM is paused", async () => {
  const vm = await Vm.create(await bareMetalConfig("clock"));
  const log = new ConsoleLog(vm);
  await vm.start();
  await log.waitFor("?");
  const guestNow = async () => parseInt((await log.ask("t", /([0-9a-f]{16})\n/))[1], 16) / TICKS_PER_MS;
  const hostStart = performance.now();
  const guestStart = await guestNow();
  await vm.pause();
  assert.equal(vm.state, "paused");
  const pausedAt = performance.now();
  await sleep(1000);
  const pausedMs = performance.now() - pausedAt;
  await vm.resume();
  const guestEnd = await guestNow();
  const hostMs = performance.now() - hostStart;
  const guestMs = guestEnd - guestStart;
  assert.ok(guestMs > 0, "guest time runs while the VM runs");
  assert.ok(guestMs <= hostMs - pausedMs + 1, `guest ${guestMs.toFixed(1)} ms vs host ${hostMs.toFixed(1)} ms of which ${pausedMs.toFixed(1)} paused`);
  await vm.stop();
});

test("stop() ends a VM in each state; waitForExit() then gives 0", async () => {
  const created = await Vm.create(await bareMetalConfig("spin"));
  await created.stop();
  assert.equal(created.state, "stopped");

  const running = await Vm.create(await bareMetalConfig("spin"));
  await running.start();
  await new ConsoleLog(running).waitFor("S");
  await running.stop();
  assert.equal(running.state, "stopped");
  assert.equal(await running.waitForExit(), 0);

  const paused = await Vm.create(await bareMetalConfig("spin"));
  await paused.start();
  await paused.pause();
  await paused.stop();
  assert.equal(paused.state, "stopped");
  await paused.stop(); // twice is fine
  await assert.rejects(paused.resume(), VmStateError);
});

test("a guest reset is a reboot event, and the board boots again", async () => {
  const vm = await Vm.create(await bareMetalConfig("reset"));
  let reboots = 0;
  vm.on("reboot", () => reboots++);
  const log = new ConsoleLog(vm);
  await vm.start();
  assert.equal(await vm.waitForExit(), 5);
  await log.waitFor("12");
  assert.equal(reboots, 1);
});

test("console input waits for a guest that does not read it (back-pressure), and input flows to one that does", async () => {
  const spin = await Vm.create(await bareMetalConfig("spin"));
  await spin.start();
  let written = false;
  const more = spin.console.write(Buffer.alloc(1 << 20, 0x61), () => (written = true));
  assert.equal(more, false, "a 1 MiB write is more than the console buffers");
  await sleep(500);
  assert.equal(written, false, "1 MiB of input went somewhere although the guest reads none");
  await spin.stop();

  const echo = await Vm.create(await bareMetalConfig("echo"));
  const log = new ConsoleLog(echo);
  await echo.start();
  await log.waitFor(">");
  const input = "abcdefgh".repeat(4096); // 32 KiB, more than the UART's FIFO many times over
  echo.console.write(input);
  const expected = [...input].map((c) => String.fromCharCode(c.charCodeAt(0) + 1)).join("");
  await log.waitFor(expected);
  await echo.stop();
});

test("a worker prewarmed with a board of the VM's shape restores and forks into it", async () => {
  const config = await bareMetalConfig("counter", 16 << 20, [{ backend: "null" }]);
  const vm = await Vm.create(config);
  const log = new ConsoleLog(vm);
  await vm.start();
  await log.waitFor("?");
  await log.ask("c", "0000000000000001\n");
  const file = join(tmp, "prewarmed.snap");
  await vm.save(file);
  await vm.stop();
  Vm.prewarm(2, undefined, config);
  try {
    const restored = await Vm.restore(file);
    const rlog = new ConsoleLog(restored);
    await rlog.ask("c", "0000000000000002\n");
    const copy = await restored.fork();
    const clog = new ConsoleLog(copy);
    await clog.ask("c", "0000000000000003\n");
    await rlog.ask("c", "0000000000000003\n");
    await Promise.all([restored.stop(), copy.stop()]);
  } finally {
    Vm.prewarm(0);
  }
});

test("prewarmed workers serve create and fork, and never keep the process alive", async () => {
  Vm.prewarm(2);
  try {
    const vm = await Vm.create(await bareMetalConfig("echo"));
    const log = new ConsoleLog(vm);
    await vm.start();
    await log.waitFor(">");
    const copy = await vm.fork();
    const copyLog = new ConsoleLog(copy);
    await copyLog.ask("a", "b");
    await log.ask("c", "d");
    await Promise.all([vm.stop(), copy.stop()]);
  } finally {
    Vm.prewarm(0);
  }
});
