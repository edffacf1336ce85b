/**
 * Pools, images, networks and VM updates through the API, without booting
 * anything: create, import and clone as jobs with progress, delete refused
 * (409) while a VM uses the image or network, PATCH of a VM that is not
 * running, and the NIC options a network turns into (the API port denied).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestDaemon } from "./harness.ts";
import { echoVmBody } from "./small-guest.ts";

test("pools and images: create, import and clone as jobs, delete refused while a VM uses the image", async () => {
  const d = await TestDaemon.start();
  const dir = mkdtempSync(join(tmpdir(), "tv-pool-"));
  try {
    assert.equal((await d.unix("POST", "/v1/pools", { name: "fast", path: join(dir, "fast") })).status, 201);
    assert.equal((await d.unix("POST", "/v1/pools", { name: "fast", path: dir })).status, 409);
    assert.deepEqual((await d.unix("GET", "/v1/pools")).body.map((p: { name: string }) => p.name), ["default", "fast"]);

    const created = await d.unix("POST", "/v1/pools/fast/images", { name: "blank", sizeBytes: 8 << 20, format: "qcow2" });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.format, "qcow2");
    assert.equal(created.body.sizeBytes, 8 << 20);

    const source = join(dir, "source.raw");
    writeFileSync(source, Buffer.alloc(4 << 20, 7));
    const imported = await d.unix("POST", "/v1/pools/default/images", { name: "imported", importFrom: source });
    assert.equal(imported.status, 202, imported.text);
    const importJob = await d.waitJob(imported.body.job.id);
    assert.equal(importJob.state, "succeeded", JSON.stringify(importJob));
    assert.equal(importJob.progress, 1);
    assert.equal(importJob.result.sizeBytes, 4 << 20);

    const cloned = await d.unix("POST", "/v1/pools/fast/images/blank/clone", { name: "copy" });
    assert.equal(cloned.status, 202);
    assert.equal((await d.waitJob(cloned.body.job.id)).state, "succeeded");
    assert.deepEqual((await d.unix("GET", "/v1/pools/fast/images")).body.map((i: { name: string }) => i.name), ["blank", "copy"]);

    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("user1", { disks: [{ image: "fast/copy" }] }))).status, 201);
    const shared = await d.unix("POST", "/v1/vms", await echoVmBody("user2", { disks: [{ image: "fast/copy" }] }));
    assert.equal(shared.status, 409, "a writable image belongs to one VM");
    const refused = await d.unix("DELETE", "/v1/pools/fast/images/copy");
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /used by VM user1/);
    assert.equal((await d.unix("DELETE", "/v1/vms/user1")).status, 204);
    assert.equal((await d.unix("DELETE", "/v1/pools/fast/images/copy")).status, 204);
    assert.equal((await d.unix("DELETE", "/v1/pools/fast/images/copy")).status, 404);
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("networks: forwards and the API port become NIC options; delete refused while used; PATCH only while not running", async () => {
  const d = await TestDaemon.start();
  try {
    const net = await d.unix("POST", "/v1/networks", { name: "lan", nat: false, subnet: "10.0.9.0/24", forwards: [{ proto: "tcp", hostPort: 0, guestPort: 80 }] });
    assert.equal(net.status, 201, net.text);
    const options = d.daemon.hypervisor.networks.userOptions({ network: "lan" });
    assert.equal(options, `net=10.0.9.0/24,restrict=on,hostfwd=tcp::0-:80,hostdeny=${d.daemon.tcpPort}`);
    await d.unix("POST", "/v1/networks", { name: "open", nat: true, allowApi: true });
    assert.doesNotMatch(d.daemon.hypervisor.networks.userOptions({ network: "open" }), /hostdeny/, "allowApi lets guests reach the API");
    assert.match(d.daemon.hypervisor.networks.userOptions({ user: "hostfwd=tcp::2222-:22" }), new RegExp(`hostdeny=${d.daemon.tcpPort}$`));

    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("web", { nics: [{ network: "lan" }] }))).status, 201);
    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("bad", { nics: [{ network: "nowhere" }] }))).status, 404);
    assert.equal((await d.unix("DELETE", "/v1/networks/lan")).status, 409);
    assert.deepEqual((await d.unix("GET", "/v1/networks/lan")).body.usedBy, ["web"]);

    const patched = await d.unix("PATCH", "/v1/vms/web", { memoryMiB: 32, cpuCap: 0.5, nics: [] });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.memoryMiB, 32);
    assert.equal(patched.body.cpuCap, 0.5);
    assert.equal((await d.unix("DELETE", "/v1/networks/lan")).status, 204, "no longer used");
    assert.equal((await d.unix("POST", "/v1/vms/web/actions/start")).body.state, "running");
    const busy = await d.unix("PATCH", "/v1/vms/web", { memoryMiB: 64 });
    assert.equal(busy.status, 409);
    assert.equal((await d.unix("DELETE", "/v1/vms/web")).status, 409, "running: delete needs force");
    assert.equal((await d.unix("DELETE", "/v1/vms/web?force=true")).status, 204);
    assert.equal(d.daemon.hypervisor.activeVms, 0);
  } finally {
    await d.close();
  }
});
