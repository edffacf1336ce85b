/**
 * Hostile guests under the daemon: one spinning without end, one flooding
 * its console, one in a trap storm — beside them an echo guest still
 * answers through its console, the API still answers, and every one of
 * them stops on request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { program } from "../vmm/runaway-programs.ts";
import { TestDaemon } from "./harness.ts";
import { echoVmBody } from "./small-guest.ts";
import { ConsoleClient } from "./ws-client.ts";

test("spinning, flooding and faulting guests do not take the daemon or another VM down", async () => {
  const d = await TestDaemon.start({ overcommitRatio: 4 });
  try {
    for (const name of ["spin", "flood", "fault"] as const) {
      const body = { name, memoryMiB: 16, boot: { kind: "kernel", kernel: await program(name), firmware: "none" } };
      assert.equal((await d.unix("POST", "/v1/vms", body)).status, 201);
      assert.equal((await d.unix("POST", `/v1/vms/${name}/actions/start`)).body.state, "running");
    }
    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("calm"))).status, 201);
    assert.equal((await d.unix("POST", "/v1/vms/calm/actions/start")).body.state, "running");
    const c = await ConsoleClient.open(d.endpoint, "calm", d.adminToken);
    await c.waitFor(">");
    c.send("hi");
    await c.waitFor("ij");
    c.close();
    const flood = await ConsoleClient.open(d.endpoint, "flood", d.adminToken);
    await flood.waitFor("xxxx"); // a viewer of the flood gets it at its own pace
    flood.close();
    const list = (await d.tcp("GET", "/v1/vms")).body as { name: string; state: string }[];
    assert.deepEqual(list.map((v) => v.state), ["running", "running", "running", "running"]);
    for (const name of ["spin", "flood", "fault", "calm"]) assert.equal((await d.unix("POST", `/v1/vms/${name}/actions/stop`)).body.state, "stopped", name);
    assert.equal(d.daemon.hypervisor.activeVms, 0);
  } finally {
    await d.close();
  }
});
