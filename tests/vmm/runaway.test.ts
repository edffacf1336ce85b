// Runaway guests beside a healthy one in the same host process: a tight
// loop, a console flood nobody reads, a console flood read at full speed,
// and a trap storm. The healthy VM keeps answering, every runaway stops on
// request, and the host process stays responsive with bounded memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Vm, VmCrashedError } from "../../src/vmm/vm.ts";
import { ConsoleLog } from "./console-log.ts";
import { bareMetalConfig } from "./runaway-programs.ts";

/** Longest gap between two 10 ms host timers over `ms`: how responsive the host's event loop stayed. */
async function worstTimerGap(ms: number): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const end = last + ms;
  while (performance.now() < end) {
    await sleep(10);
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }
  return worst;
}

test("runaway VMs (tight loop, console floods, trap storm) stop on request and never harm a healthy VM or the host", async () => {
  const healthy = await Vm.create(await bareMetalConfig("echo"));
  const healthyLog = new ConsoleLog(healthy);
  await healthy.start();
  await healthyLog.waitFor(">");

  const spin = await Vm.create(await bareMetalConfig("spin"));
  const unread = await Vm.create(await bareMetalConfig("flood"));
  const drained = await Vm.create(await bareMetalConfig("flood"));
  const fault = await Vm.create(await bareMetalConfig("fault"));
  let drainedBytes = 0;
  let drainedOther = 0;
  drained.console.on("data", (chunk: Buffer) => {
    drainedBytes += chunk.length;
    for (const b of chunk) if (b !== 0x78) drainedOther++;
  });
  for (const vm of [spin, unread, drained, fault]) await vm.start();
  await new ConsoleLog(spin).waitFor("S");
  await new ConsoleLog(fault).waitFor("F");

  const rssBefore = process.memoryUsage().rss;
  for (let round = 0; round < 5; round++) {
    const [reply] = await healthyLog.ask(String.fromCharCode(0x61 + round), String.fromCharCode(0x62 + round));
    assert.equal(reply, String.fromCharCode(0x62 + round));
    await sleep(200);
  }
  const gap = await worstTimerGap(1000);
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  console.log(`host: worst 10 ms timer gap ${gap.toFixed(1)} ms; RSS grew ${(rssGrowth / 2 ** 20).toFixed(1)} MiB; drained flood delivered ${(drainedBytes / 2 ** 20).toFixed(1)} MiB`);

  assert.ok(drainedBytes > 1 << 16, "the read flood's output reaches its reader");
  assert.equal(drainedOther, 0, "the flood's output is exactly what the guest wrote");
  // Nobody reads `unread`: its output waits in the ring and the stream's buffer, not in host memory.
  assert.ok(unread.console.readableLength <= 2 * unread.console.readableHighWaterMark, `${unread.console.readableLength} bytes buffered`);
  for (const vm of [spin, unread, drained, fault]) assert.equal(vm.state, "running");

  await Promise.all([spin, unread, drained, fault].map((vm) => vm.stop()));
  for (const vm of [spin, unread, drained, fault]) {
    assert.equal(vm.state, "stopped");
    assert.equal(await vm.waitForExit(), 0);
  }
  assert.equal(healthy.state, "running");
  await healthyLog.ask("y", "z");
  await healthy.stop();
});

test("a worker that runs out of heap crashes alone, with the reason; other VMs carry on", async () => {
  const healthy = await Vm.create(await bareMetalConfig("echo"));
  const log = new ConsoleLog(healthy);
  await healthy.start();
  await log.waitFor(">");
  await assert.rejects(
    Vm.create(await bareMetalConfig("spin"), { resourceLimits: { maxOldGenerationSizeMb: 2, maxYoungGenerationSizeMb: 1 } }),
    (e: Error) => e instanceof VmCrashedError && /out of memory/.test(e.message),
  );
  await log.ask("m", "n");
  await healthy.stop();
});
