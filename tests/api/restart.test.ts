/**
 * The daemon as a real process (bin/typevisor serve): killed with kill -9
 * and restarted, it finds every VM, image, network, snapshot and token
 * again and starts the autostart VM; after SIGTERM with --on-shutdown save,
 * the autostart VM resumes from its save file instead of booting again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../support/toolchain.ts";
import { echoVmBody } from "./small-guest.ts";

type Res = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

function call(socketPath: string, method: string, path: string, body?: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { "content-type": "application/json" } });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: text === "" ? null : JSON.parse(text) }));
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function serve(dataDir: string, ...flags: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "bin/typevisor"), "serve", "--data-dir", dataDir, ...flags], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let log = "";
    child.stdout!.on("data", (c: Buffer) => {
      log += c;
      if (log.includes("typevisor daemon ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${log}`)));
  });
  child.stdout!.resume();
  return child;
}

const ended = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));

/** The console scrollback a new viewer gets first, via the Unix socket WebSocket. */
async function scrollback(socketPath: string, vm: string): Promise<string> {
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(`ws+unix://${socketPath}:/v1/vms/${vm}/console`);
  return new Promise((resolve, reject) => {
    let out = "";
    ws.on("message", (d: Buffer) => (out += d.toString("latin1")));
    ws.on("open", () => setTimeout(() => (ws.close(), resolve(out)), 500));
    ws.on("error", reject);
  });
}

test("kill -9 and restart: nothing lost, autostart VMs run again; SIGTERM --on-shutdown save resumes them", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tv-restart-"));
  const sock = join(dataDir, "api.sock");
  let daemon = await serve(dataDir);
  try {
    assert.equal((await call(sock, "POST", "/v1/pools/default/images", { name: "disk1", sizeBytes: 1 << 20, format: "qcow2" })).status, 201);
    assert.equal((await call(sock, "POST", "/v1/networks", { name: "lan", nat: true, forwards: [{ proto: "tcp", hostPort: 0, guestPort: 22 }] })).status, 201);
    assert.equal((await call(sock, "POST", "/v1/vms", await echoVmBody("auto", { autostart: true, disks: [{ image: "default/disk1" }] }))).status, 201);
    assert.equal((await call(sock, "POST", "/v1/vms", await echoVmBody("manual", { nics: [{ network: "lan" }] }))).status, 201);
    for (const vm of ["auto", "manual"]) assert.equal((await call(sock, "POST", `/v1/vms/${vm}/actions/start`)).body.state, "running");
    assert.equal((await call(sock, "POST", "/v1/vms/auto/snapshots", { name: "snap1" })).status, 201);
    assert.equal((await call(sock, "POST", "/v1/tokens", { name: "kept", role: "viewer", scope: "*" })).status, 201);

    const lanSocket = join(dataDir, "run", "net-lan.sock");
    assert.ok(existsSync(lanSocket), "the network's switch listens under <data-dir>/run");
    daemon.kill("SIGKILL");
    await ended(daemon);
    assert.ok(existsSync(lanSocket), "kill -9 leaves the socket file behind");
    daemon = await serve(dataDir);
    assert.equal((await call(sock, "GET", "/v1/networks/lan")).body.switchOpen, true, "the stale socket was replaced by the restarted daemon's switch");

    const vms = (await call(sock, "GET", "/v1/vms")).body as { name: string; state: string; disks: unknown[]; nics: unknown[] }[];
    assert.deepEqual(vms.map((v) => [v.name, v.state]).sort(), [["auto", "running"], ["manual", "stopped"]]);
    assert.deepEqual(vms.find((v) => v.name === "auto")!.disks, [{ image: "default/disk1" }]);
    assert.deepEqual((await call(sock, "GET", "/v1/images")).body.map((i: { name: string; format: string; usedBy: string[] }) => [i.name, i.format, i.usedBy]), [["disk1", "qcow2", ["auto"]]]);
    assert.equal((await call(sock, "GET", "/v1/networks/lan")).body.forwards[0].guestPort, 22);
    assert.deepEqual((await call(sock, "GET", "/v1/vms/auto/snapshots")).body.map((s: { name: string }) => s.name), ["snap1"]);
    assert.deepEqual((await call(sock, "GET", "/v1/tokens")).body.map((t: { name: string }) => t.name), ["kept"]);
    assert.match(await scrollback(sock, "auto"), />/, "the autostart VM booted again (the echo guest's prompt)");
    assert.equal((await call(sock, "POST", "/v1/vms/manual/actions/start")).body.state, "running", "joins the reopened switch");
    assert.equal((await call(sock, "GET", "/v1/networks/lan")).body.ports, 1);
    assert.equal((await call(sock, "POST", "/v1/vms/manual/actions/stop")).body.state, "stopped");

    // Graceful: save the running VM; the next daemon resumes it (no boot prompt in its fresh scrollback).
    daemon.kill("SIGTERM");
    await ended(daemon);
    assert.equal(daemon.exitCode, 0);
    assert.ok(!existsSync(lanSocket), "a clean shutdown removes the switch's socket");
    daemon = await serve(dataDir, "--on-shutdown", "save");
    const auto = (await call(sock, "GET", "/v1/vms/auto")).body;
    assert.equal(auto.state, "running");
    daemon.kill("SIGTERM");
    await ended(daemon);
    daemon = await serve(dataDir);
    const resumed = (await call(sock, "GET", "/v1/vms/auto")).body;
    assert.equal(resumed.state, "running");
    assert.equal(resumed.resumesFromSave, false, "the save file was used and dropped");
    assert.equal(await scrollback(sock, "auto"), "", "resumed, not booted: no new prompt");
  } finally {
    daemon.kill("SIGTERM");
    await ended(daemon);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
