/**
 * Pools, images, networks and VM updates through the API, without booting
 * anything: create, import and clone as jobs with progress, delete refused
 * (409) while a VM uses the image or network, PATCH of a VM that is not
 * running, and what a network turns into: a switch whose NAT uplink denies
 * the API port, and a NIC that joins the switch (tests/api/networks.test.ts
 * has the switch itself).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request as httpsRequest } from "node:https";
import { OWNER } from "../../src/hypervisor/auth/index.ts";
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

test("networks: forwards and the API port become the uplink's options; a NIC joins the switch; delete refused while used; PATCH only while not running", async () => {
  const d = await TestDaemon.start();
  try {
    const net = await d.unix("POST", "/v1/networks", { name: "lan", nat: false, subnet: "10.0.9.0/24", forwards: [{ proto: "tcp", hostPort: 0, guestPort: 80 }] });
    assert.equal(net.status, 201, net.text);
    const networks = d.daemon.hypervisor.networks;
    assert.equal(networks.uplinkSpec("lan"), `user,net=10.0.9.0/24,restrict=on,hostfwd=tcp::0-:80,hostdeny=${d.daemon.tcpPort}`);
    await d.unix("POST", "/v1/networks", { name: "open", nat: true, allowApi: true });
    assert.doesNotMatch(networks.uplinkSpec("open"), /hostdeny/, "allowApi lets guests reach the API");
    assert.deepEqual(networks.nicConfig({ network: "lan" }), { backend: "switch", path: join(d.dataDir, "run", "net-lan.sock") });
    assert.deepEqual(networks.nicConfig({ user: "hostfwd=tcp::2222-:22" }), { backend: "user", options: `hostfwd=tcp::2222-:22,hostdeny=${d.daemon.tcpPort}` });

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

/** Collects the SSE events of GET /v1/events over TCP+TLS for `token`. */
function watchEvents(d: TestDaemon, token: string): { events: { type: string; vm?: string }[]; close: () => void; ready: Promise<void> } {
  const events: { type: string; vm?: string }[] = [];
  let buffer = "";
  let ready!: () => void;
  const req = httpsRequest({ host: "127.0.0.1", port: d.daemon.tcpPort!, path: "/v1/events", headers: { authorization: `Bearer ${token}` }, ca: d.ca });
  req.on("response", (res) => {
    assert.equal(res.headers["content-type"], "text/event-stream");
    ready();
    res.on("data", (chunk: Buffer) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith("data: ")) events.push(JSON.parse(block.slice(6)));
      }
    });
  });
  req.on("error", () => {});
  req.end();
  return { events, close: () => req.destroy(), ready: new Promise((r) => (ready = r)) };
}

test("events: SSE lines for creations and deletions, only of VMs in the token's scope", async () => {
  const d = await TestDaemon.start();
  try {
    const scoped = (await d.daemon.tokens.create(OWNER, { name: "scoped", role: "viewer", scope: ["mine"] })).token;
    const all = watchEvents(d, d.adminToken);
    const some = watchEvents(d, scoped);
    await Promise.all([all.ready, some.ready]);
    for (const name of ["mine", "theirs"]) assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody(name))).status, 201);
    await d.unix("DELETE", "/v1/vms/theirs");
    while (all.events.length < 3) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(all.events.map((e) => [e.type, e.vm]), [["vm.created", "mine"], ["vm.created", "theirs"], ["vm.deleted", "theirs"]]);
    assert.deepEqual(some.events.map((e) => [e.type, e.vm]), [["vm.created", "mine"]]);
    all.close();
    some.close();
  } finally {
    await d.close();
  }
});
