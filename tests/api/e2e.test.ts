/**
 * End to end through raw HTTP over TCP+TLS with a real default guest (Linux +
 * busybox): create, start, a command over the console WebSocket, snapshot,
 * restore, clone (a job), stop, delete — and nothing left running.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_GUEST_READY_MARKER } from "../../src/guest/default-guest-config.ts";
import { TestDaemon } from "./harness.ts";
import { ConsoleClient } from "./ws-client.ts";

test("default guest through the API: create, start, console, snapshot, restore, clone, stop, delete", async () => {
  const d = await TestDaemon.start();
  const consoles: ConsoleClient[] = [];
  try {
    const created = await d.tcp("POST", "/v1/vms", { name: "web", memoryMiB: 128 });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.state, "created");
    const started = await d.tcp("POST", "/v1/vms/web/actions/start");
    assert.equal(started.status, 200, started.text);
    assert.equal(started.body.state, "running");

    const c = await ConsoleClient.open(d.endpoint, "web", d.adminToken);
    consoles.push(c);
    let at = await c.waitForMatch(new RegExp(DEFAULT_GUEST_READY_MARKER));
    c.send("echo before > /tmp/note; echo answer-$((6*7))\n");
    at = await c.waitForMatch(/answer-42/, at + "answer-$((6*7))".length);

    const snap = await d.tcp("POST", "/v1/vms/web/snapshots", { name: "s1" });
    assert.equal(snap.status, 201, snap.text);
    assert.ok(snap.body.sizeBytes > 0);
    assert.deepEqual((await d.tcp("GET", "/v1/vms/web/snapshots")).body.map((s: { name: string }) => s.name), ["s1"]);

    c.send("echo after > /tmp/note; cat /tmp/note; echo END1\n");
    at = await c.waitForMatch(/after\r?\nEND1/, at);
    const restored = await d.tcp("POST", "/v1/vms/web/snapshots/s1/restore");
    assert.equal(restored.status, 200, restored.text);
    assert.equal(restored.body.state, "running");
    c.send("cat /tmp/note; echo END2\n"); // the same WebSocket: it outlives the restore
    at = await c.waitForMatch(/before\r?\nEND2/, at);

    const clone = await d.tcp("POST", "/v1/vms/web/clone", { name: "web2" });
    assert.equal(clone.status, 202, clone.text);
    const job = await d.waitJob(clone.body.job.id);
    assert.equal(job.state, "succeeded", JSON.stringify(job));
    assert.equal((await d.tcp("GET", "/v1/vms/web2")).body.state, "running");
    const c2 = await ConsoleClient.open(d.endpoint, "web2", d.adminToken);
    consoles.push(c2);
    const from = c2.output.length;
    c2.send("cat /tmp/note; echo END3\n");
    await c2.waitForMatch(/before\r?\nEND3/, from);

    const metrics = await d.tcp("GET", "/metrics");
    assert.match(metrics.text, /typevisor_vm_instructions_total\{vm="web"\} [1-9]\d*/);

    for (const vm of ["web", "web2"]) {
      assert.equal((await d.tcp("POST", `/v1/vms/${vm}/actions/stop`)).body.state, "stopped");
      assert.equal((await d.tcp("DELETE", `/v1/vms/${vm}`)).status, 204);
    }
    assert.deepEqual((await d.tcp("GET", "/v1/vms")).body, []);
    assert.equal(d.daemon.hypervisor.activeVms, 0);
    assert.deepEqual(d.daemon.hypervisor.budget.used, { memoryBytes: 0, vcpus: 0 });
  } finally {
    for (const c of consoles) c.close();
    await d.close();
  }
});
