/**
 * A VM moved into a browser tab and back, over real HTTP against a real
 * daemon running the default guest — this test plays the tab from Node:
 * move-to-browser, read the lease snapshot and the drives by Range (a
 * snapshot=on disk with the guest's writes, a qcow2 pool image), write
 * blocks back, bridge the NIC, then move-to-host with the snapshot uploaded
 * back: the guest's shell session goes on (a process started before the
 * move still runs, files are still there, the tab's blocks are on disk).
 * Bad input (ranges, offsets, bodies, corrupt or stale snapshots, stale
 * leases, host actions, permissions) is a 4xx that loses nothing; a daemon
 * restart keeps the VM in the browser, and reclaim brings it back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { DEFAULT_GUEST_READY_MARKER } from "../../src/guest/default-guest-config.ts";
import { OWNER } from "../../src/hypervisor/auth/index.ts";
import { rebaseSnapshot } from "../../src/hypervisor/browser/snapshot-rebase.ts";
import { TestDaemon } from "./harness.ts";
import { ConsoleClient } from "./ws-client.ts";

const VM = "tabvm";
const MiB = 2 ** 20;
const GUEST_MAC = [0x52, 0x54, 0x00];

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTPS call with a raw body and extra headers, as a tab makes it. */
function call(d: TestDaemon, method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer; token?: string } = {}): Promise<Raw> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? d.adminToken}`, ...opts.headers };
  if (opts.body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/octet-stream";
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: d.daemon.tcpPort!, method, path, headers, ca: d.ca, agent: false });
    let answered = false;
    req.on("error", (e: NodeJS.ErrnoException) => {
      // A body refused for its size is answered (413) before the client has sent it all: the answer still comes.
      if (e.code === "EPIPE" || e.code === "ECONNRESET") setTimeout(() => answered || reject(e), 5000);
      else reject(e);
    });
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        let json = null;
        try {
          json = JSON.parse(body.toString("utf8"));
        } catch {
          // not JSON: bytes
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
    });
    req.end(opts.body);
  });
}

/** Types `command` and waits for `marker` (built so the echoed command line cannot match it). */
async function shell(c: ConsoleClient, command: string, marker: RegExp): Promise<string> {
  const from = c.output.length;
  c.send(`${command}\n`);
  const end = await c.waitForMatch(marker, from);
  return c.output.slice(from, end);
}

/** An ARP "who has 10.0.2.2" from the VM's NIC (MAC `mac`, 10.0.2.15). */
function arpRequest(mac: number[]): Buffer {
  const frame = Buffer.alloc(60);
  frame.fill(0xff, 0, 6);
  frame.set(mac, 6);
  frame.writeUInt16BE(0x0806, 12);
  frame.writeUInt16BE(1, 14);
  frame.writeUInt16BE(0x0800, 16);
  frame[18] = 6;
  frame[19] = 4;
  frame.writeUInt16BE(1, 20);
  frame.set(mac, 22);
  frame.set([10, 0, 2, 15], 28);
  frame.set([10, 0, 2, 2], 38);
  return frame;
}

test("a VM moves into a browser tab and back: leases, ranges, write-back, NIC bridge, bad input, restart, reclaim", async () => {
  let d = await TestDaemon.start();
  const dataDir = d.dataDir;
  const work = mkdtempSync(join(tmpdir(), "tv-tab-"));
  let c: ConsoleClient | null = null;
  try {
    for (const image of [{ name: "scratch", sizeBytes: 4 * MiB, format: "qcow2" }, { name: "ro", sizeBytes: 1 * MiB, format: "raw" }]) {
      assert.equal((await d.tcp("POST", "/v1/pools/default/images", image)).status, 201);
    }
    const created = await d.tcp("POST", "/v1/vms", { name: VM, memoryMiB: 128, disks: [{ image: "default/scratch" }, { image: "default/ro", readonly: true }], nics: [{ user: "" }] });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.location, "host");
    assert.equal((await d.tcp("POST", `/v1/vms/${VM}/actions/start`)).status, 200);
    c = await ConsoleClient.open(d.endpoint, VM, d.adminToken);
    await c.waitForMatch(new RegExp(DEFAULT_GUEST_READY_MARKER));
    await shell(c, "stty -echo; echo 1 > /proc/sys/kernel/printk; echo ready-$((2*3))", /ready-6/);
    const started = await shell(c, "(while :; do sleep 1; done) & echo pid-$((1))-$!", /pid-1-(\d+)/);
    const pid = /pid-1-(\d+)/.exec(started)![1];
    await shell(
      c,
      "echo kept-in-root > /root/f; echo from-guest-data > /data/note.txt; printf QCOW-MARK-%d 42 | dd of=/dev/vdb bs=512 seek=8 conv=notrunc 2>/dev/null; sync; echo wrote-$((3*3))",
      /wrote-9/,
    );

    // Refused before the move: no lease yet, a viewer may not move.
    const viewer = (await d.daemon.tokens.create(OWNER, { name: "v", role: "viewer", scope: "*" })).token;
    assert.equal((await call(d, "POST", `/v1/vms/${VM}/actions/move-to-browser`, { token: viewer })).status, 403);
    assert.equal((await call(d, "GET", `/v1/vms/${VM}/browser/snapshot`, { headers: { "x-typevisor-lease": "x" } })).status, 409);

    const moved = await call(d, "POST", `/v1/vms/${VM}/actions/move-to-browser`);
    assert.equal(moved.status, 200, moved.body.toString());
    const lease = moved.json.lease;
    assert.equal(lease.vm, VM);
    assert.equal(lease.memoryMiB, 128);
    assert.deepEqual(lease.drives.map((x: { readonly: boolean }) => x.readonly), [false, false, true]);
    assert.equal(lease.drives[1].sizeBytes, 4 * MiB);
    assert.equal(lease.nics.length, 1);
    const vmView = await d.tcp("GET", `/v1/vms/${VM}`);
    assert.equal(vmView.body.location, "browser");
    assert.equal(d.daemon.hypervisor.activeVms, 0, "the host worker has ended");
    assert.deepEqual(d.daemon.hypervisor.budget.used, { memoryBytes: 0, vcpus: 0 });
    const L = { "x-typevisor-lease": lease.lease };

    // The snapshot, by Range and whole.
    const head = await call(d, "GET", lease.snapshot.url, { headers: { ...L, range: "bytes=0-7" } });
    assert.equal(head.status, 206);
    assert.equal(head.body.toString("latin1"), "TYPEVSNP");
    assert.equal(head.headers["content-range"], `bytes 0-7/${lease.snapshot.sizeBytes}`);
    const whole = await call(d, "GET", lease.snapshot.url, { headers: L });
    assert.equal(whole.status, 200);
    assert.equal(whole.body.length, lease.snapshot.sizeBytes);
    const snapshotFile = join(work, "lease.snap");
    writeFileSync(snapshotFile, whole.body);

    // Drives as the guest sees them: the qcow2 image through its backend, the snapshot=on disk with the guest's overlay.
    const mark = await call(d, "GET", lease.drives[1].url, { headers: { ...L, range: "bytes=4096-4107" } });
    assert.equal(mark.status, 206);
    assert.equal(mark.body.toString("latin1"), "QCOW-MARK-42");
    const dataDisk = await call(d, "GET", lease.drives[0].url, { headers: L });
    assert.equal(dataDisk.body.length, lease.drives[0].sizeBytes);
    assert.ok(dataDisk.body.includes("from-guest-data"), "the snapshot=on disk is served with the guest's writes");
    const sized = await call(d, "HEAD", lease.drives[0].url, { headers: L });
    assert.equal(sized.status, 200);
    assert.equal(Number(sized.headers["content-length"]), lease.drives[0].sizeBytes);

    // Write-back, then read back.
    const block = (text: string) => Buffer.concat([Buffer.from(text), Buffer.alloc(512 - text.length)]);
    const lastSector = lease.drives[0].sizeBytes - 512;
    assert.equal((await call(d, "PUT", `${lease.drives[1].syncUrl}?offset=8192`, { headers: L, body: block("TAB-WROTE-QCOW") })).status, 204);
    assert.equal((await call(d, "PUT", `${lease.drives[0].syncUrl}?offset=${lastSector}`, { headers: L, body: block("TAB-WROTE-VDA") })).status, 204);
    assert.equal((await call(d, "GET", lease.drives[1].url, { headers: { ...L, range: "bytes=8192-8205" } })).body.toString(), "TAB-WROTE-QCOW");

    // Bad input: one clear 4xx each.
    const bad: [string, Promise<Raw>, number][] = [
      ["no lease", call(d, "GET", lease.drives[0].url), 409],
      ["wrong lease", call(d, "GET", lease.snapshot.url, { headers: { "x-typevisor-lease": "stale" } }), 409],
      ["range past the end", call(d, "GET", lease.drives[1].url, { headers: { ...L, range: `bytes=${4 * MiB}-` } }), 416],
      ["two ranges", call(d, "GET", lease.snapshot.url, { headers: { ...L, range: "bytes=0-1,4-5" } }), 416],
      ["junk range", call(d, "GET", lease.snapshot.url, { headers: { ...L, range: "pages=1" } }), 416],
      ["no such drive", call(d, "GET", `/v1/vms/${VM}/browser/drives/9`, { headers: L }), 404],
      ["odd length", call(d, "PUT", `${lease.drives[1].syncUrl}?offset=0`, { headers: L, body: Buffer.alloc(100) }), 400],
      ["unaligned offset", call(d, "PUT", `${lease.drives[1].syncUrl}?offset=7`, { headers: L, body: Buffer.alloc(512) }), 400],
      ["past the end", call(d, "PUT", `${lease.drives[1].syncUrl}?offset=${4 * MiB}`, { headers: L, body: Buffer.alloc(512) }), 400],
      ["no offset", call(d, "PUT", lease.drives[1].syncUrl, { headers: L, body: Buffer.alloc(512) }), 400],
      ["too big", call(d, "PUT", `${lease.drives[1].syncUrl}?offset=0`, { headers: L, body: Buffer.alloc(4 * MiB + 512) }), 413],
      ["read-only drive", call(d, "PUT", `${lease.drives[2].syncUrl}?offset=0`, { headers: L, body: Buffer.alloc(512) }), 409],
      ["JSON body", call(d, "PUT", `${lease.drives[1].syncUrl}?offset=0`, { headers: { ...L, "content-type": "application/json" }, body: Buffer.from("{}") }), 415],
      ["a viewer", call(d, "GET", lease.snapshot.url, { headers: L, token: viewer }), 403],
      ["pause", call(d, "POST", `/v1/vms/${VM}/actions/pause`), 409],
      ["start", call(d, "POST", `/v1/vms/${VM}/actions/start`), 409],
      ["snapshot", call(d, "POST", `/v1/vms/${VM}/snapshots`, { headers: { "content-type": "application/json" }, body: Buffer.from('{"name":"s"}') }), 409],
      ["update", call(d, "PATCH", `/v1/vms/${VM}`, { headers: { "content-type": "application/json" }, body: Buffer.from('{"memoryMiB":64}') }), 409],
      ["delete", call(d, "DELETE", `/v1/vms/${VM}`), 409],
      ["clone", call(d, "POST", `/v1/vms/${VM}/clone`, { headers: { "content-type": "application/json" }, body: Buffer.from('{"name":"c"}') }), 409],
      ["move again", call(d, "POST", `/v1/vms/${VM}/actions/move-to-browser`), 409],
    ];
    for (const [what, reply, status] of bad) {
      const r = await reply;
      assert.equal(r.status, status, `${what}: ${r.body.toString().slice(0, 200)}`);
      assert.ok(typeof r.json?.error?.message === "string" && r.json.error.message.length > 0, `${what}: a message`);
    }

    // The NIC, bridged to its user-mode NAT: the gateway answers ARP for the VM's MAC.
    const mac = lease.nics[0].mac.split(":").map((h: string) => parseInt(h, 16));
    assert.deepEqual(mac.slice(0, 3), GUEST_MAC);
    const nic = new WebSocket(`wss://127.0.0.1:${d.daemon.tcpPort}${lease.nics[0].url}`, { ca: d.ca, headers: { authorization: `Bearer ${d.adminToken}` } });
    await new Promise((resolve, reject) => nic.once("open", resolve).once("error", reject));
    const arp = new Promise<string>((resolve) =>
      nic.on("message", (data: Buffer) => {
        if (data.readUInt16BE(12) === 0x0806 && data.readUInt16BE(20) === 2) resolve([...data.subarray(28, 32)].join("."));
      }),
    );
    nic.send(arpRequest(mac));
    assert.equal(await arp, "10.0.2.2");

    // Uploads that cannot be restored: 4xx, and the VM stays in the browser with its lease.
    const corrupt = Buffer.from(whole.body);
    corrupt[20] ^= 0xff;
    const stale = join(work, "stale.snap");
    rebaseSnapshot(snapshotFile, stale, (meta) => ({ ...meta, parent: { path: "lease", id: "0".repeat(32) } }));
    const uploads: [string, Buffer, number][] = [
      ["junk", Buffer.from("not a snapshot at all"), 400],
      ["flipped header byte", corrupt, 400],
      ["truncated", whole.body.subarray(0, whole.body.length >> 1), 400],
      ["diff of another snapshot", readFileSync(stale), 409],
      ["empty", Buffer.alloc(0), 400],
    ];
    for (const [what, body, status] of uploads) {
      const r = await call(d, "POST", `/v1/vms/${VM}/actions/move-to-host`, { headers: L, body });
      assert.equal(r.status, status, `${what}: ${r.body.toString().slice(0, 300)}`);
      assert.ok(r.json.error.message.length > 0);
    }
    assert.equal((await call(d, "POST", `/v1/vms/${VM}/actions/move-to-host`, { headers: { "x-typevisor-lease": "stale" }, body: whole.body })).status, 409);
    assert.equal((await d.tcp("GET", `/v1/vms/${VM}`)).body.location, "browser", "nothing lost: still in the browser");
    assert.equal((await call(d, "GET", lease.drives[1].url, { headers: { ...L, range: "bytes=8192-8205" } })).body.toString(), "TAB-WROTE-QCOW");

    // Back to the host with the snapshot the tab downloaded.
    const bridgeEnded = new Promise((resolve) => nic.once("close", resolve)); // the host VM owns the NIC again
    const back = await call(d, "POST", `/v1/vms/${VM}/actions/move-to-host`, { headers: L, body: whole.body });
    assert.equal(back.status, 200, back.body.toString());
    assert.equal(back.json.location, "host");
    assert.equal(back.json.state, "running");
    await bridgeEnded;
    assert.equal((await call(d, "GET", lease.snapshot.url, { headers: L })).status, 409, "the old lease is stale");
    const after = await shell(
      c,
      `echo 3 > /proc/sys/vm/drop_caches; kill -0 ${pid} && echo alive-$((4+4)); cat /root/f; dd if=/dev/vdb bs=512 skip=16 count=1 2>/dev/null | head -c 14; echo; dd if=/dev/vda bs=512 skip=${lastSector / 512} count=1 2>/dev/null | head -c 13; echo; echo done-$((5*5))`,
      /done-25/,
    );
    assert.match(after, /alive-8/, "a process started before the move still runs");
    assert.match(after, /kept-in-root/);
    assert.match(after, /TAB-WROTE-QCOW/, "the tab's write to the qcow2 disk");
    assert.match(after, /TAB-WROTE-VDA/, "the tab's write to the snapshot=on disk");

    // Again into the browser, a block synced, then the daemon restarts: the VM stays in the browser, reclaim brings it back.
    const second = (await call(d, "POST", `/v1/vms/${VM}/actions/move-to-browser`)).json.lease;
    assert.notEqual(second.lease, lease.lease);
    assert.equal((await call(d, "PUT", `${second.drives[0].syncUrl}?offset=${lastSector}`, { headers: { "x-typevisor-lease": second.lease }, body: block("AFTER-RESTART") })).status, 204);
    c.close();
    c = null;
    await d.close(false);
    d = await TestDaemon.start({ dataDir });
    assert.equal((await d.tcp("GET", `/v1/vms/${VM}`)).body.location, "browser");
    assert.equal((await call(d, "GET", second.snapshot.url, { headers: { "x-typevisor-lease": second.lease, range: "bytes=0-7" } })).status, 206, "the lease survived the restart");
    const reclaimed = await call(d, "POST", `/v1/vms/${VM}/actions/reclaim`);
    assert.equal(reclaimed.status, 200, reclaimed.body.toString());
    assert.equal(reclaimed.json.location, "host");
    assert.equal((await call(d, "POST", `/v1/vms/${VM}/actions/reclaim`)).status, 409, "nothing left to reclaim");
    c = await ConsoleClient.open(d.endpoint, VM, d.adminToken);
    const last = await shell(c, `echo 3 > /proc/sys/vm/drop_caches; kill -0 ${pid} && echo alive-$((6+6)); dd if=/dev/vda bs=512 skip=${lastSector / 512} count=1 2>/dev/null | head -c 13; echo; echo done-$((6*6))`, /done-36/);
    assert.match(last, /alive-12/);
    assert.match(last, /AFTER-RESTART/, "the block synced before the restart is on the reclaimed VM's disk");
    assert.equal((await d.tcp("POST", `/v1/vms/${VM}/actions/stop`)).status, 200);
    const audited = readFileSync(join(dataDir, "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.path.endsWith("/move-to-host"));
    assert.ok(audited.length >= 6 && audited.every((e) => typeof e.detail?.bytes === "number"), "an uploaded snapshot is audited by its size, not its bytes");
  } finally {
    c?.close();
    await d.close();
    rmSync(work, { recursive: true, force: true });
  }
});
