/**
 * 20 VMs created, started, used and destroyed by 4 concurrent clients over
 * TCP+TLS (small bare-metal guests), then nothing leaked: no VM worker,
 * no budget held, no threads, file descriptors or VM files left behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { OWNER } from "../../src/hypervisor/auth/index.ts";
import { TestDaemon } from "./harness.ts";
import { echoVmBody } from "./small-guest.ts";
import { ConsoleClient } from "./ws-client.ts";

const CLIENTS = 4;
const PER_CLIENT = 5;
const count = (dir: string) => readdirSync(dir).length;

test("4 clients × 5 VMs: create, start, console, stop, delete; nothing leaked", async () => {
  const d = await TestDaemon.start({ overcommitRatio: 4 }); // 4 one-vCPU guests at once on a 2-core host
  try {
    // Warm up once (the first worker loads the machine code), so the baseline includes what stays loaded.
    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("warm"))).status, 201);
    await d.unix("POST", "/v1/vms/warm/actions/start");
    await d.unix("DELETE", "/v1/vms/warm?force=true");
    const fdsBefore = count("/proc/self/fd");
    const threadsBefore = count("/proc/self/task");

    const body = await echoVmBody("x");
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const token = (await d.daemon.tokens.create(OWNER, { name: `client${client}`, role: "admin", scope: "*" })).token;
        for (let i = 0; i < PER_CLIENT; i++) {
          const name = `c${client}-vm${i}`;
          const created = await d.tcp("POST", "/v1/vms", { ...body, name }, token);
          assert.equal(created.status, 201, created.text);
          const started = await d.tcp("POST", `/v1/vms/${name}/actions/start`, undefined, token);
          assert.equal(started.body.state, "running", started.text);
          const c = await ConsoleClient.open(d.endpoint, name, token);
          await c.waitFor(">");
          c.send("a");
          await c.waitFor("b"); // the echo guest answers b + 1
          c.close();
          assert.equal((await d.tcp("POST", `/v1/vms/${name}/actions/stop`, undefined, token)).body.state, "stopped");
          assert.equal((await d.tcp("DELETE", `/v1/vms/${name}`, undefined, token)).status, 204);
        }
      }),
    );

    assert.deepEqual((await d.tcp("GET", "/v1/vms")).body, []);
    assert.equal(d.daemon.hypervisor.activeVms, 0, "no VM worker left");
    assert.deepEqual(d.daemon.hypervisor.budget.used, { memoryBytes: 0, vcpus: 0 }, "no budget held");
    assert.equal(existsSync(join(d.dataDir, "vms")) ? count(join(d.dataDir, "vms")) : 0, 0, "no VM directories left");
    assert.equal(count(join(d.dataDir, "state", "vms")), 0, "no VM records left");
    // Worker threads end asynchronously after their VM reported stopped; sockets close after the reply.
    for (let i = 0; i < 50 && (count("/proc/self/task") > threadsBefore || count("/proc/self/fd") > fdsBefore + 2); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(count("/proc/self/task") <= threadsBefore, `threads: ${count("/proc/self/task")} now, ${threadsBefore} before`);
    assert.ok(count("/proc/self/fd") <= fdsBefore + 2, `file descriptors: ${count("/proc/self/fd")} now, ${fdsBefore} before`);
  } finally {
    await d.close();
  }
});

test("the host budget refuses a start beyond it with 409 over_budget, and frees the share when a VM stops", async () => {
  const d = await TestDaemon.start({ hostCpus: 1, hostMemoryBytes: 40 * 2 ** 20 });
  try {
    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("b1"))).status, 201);
    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("b2"))).status, 201);
    const tooBig = await d.unix("POST", "/v1/vms", await echoVmBody("b3", { memoryMiB: 64 }));
    assert.equal(tooBig.status, 400, "larger than the whole budget: refused at create");
    assert.equal((await d.unix("POST", "/v1/vms/b1/actions/start")).body.state, "running");
    const refused = await d.unix("POST", "/v1/vms/b2/actions/start");
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "over_budget");
    assert.equal((await d.unix("GET", "/v1/host")).body.used.vcpus, 1);
    await d.unix("POST", "/v1/vms/b1/actions/stop");
    assert.equal((await d.unix("POST", "/v1/vms/b2/actions/start")).body.state, "running", "b1's share was released");
  } finally {
    await d.close();
  }
});
