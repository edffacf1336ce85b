/** The daemon verbs (vm, image, net, token) as a script sees them: requests sent, output, exit status. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawn } from "node:child_process";
import { TYPEVISOR_BIN } from "../support/run.ts";
import { FakeDaemon, runCli } from "./fake-daemon.ts";

const VM = {
  name: "web1", state: "stopped", memoryMiB: 256, cpus: 1, autostart: false, boot: { kind: "default-guest" }, disks: [], nics: [],
  cpuWeight: 100, cpuCap: 1, createdAt: "2026-12-07T10:00:00.000Z", startedAt: null, crashReason: null, resumesFromSave: false,
  stats: { cpuSeconds: 1.25, instructions: 1000, memoryBytes: 1 << 20, diskReadBytes: 0, diskWriteBytes: 0, netRxBytes: 0, netTxBytes: 0 },
};
const error = (status: number, code: string, message: string) => ({ status, body: { error: { code, message } } });

let daemon: FakeDaemon;
let env: Record<string, string>;
before(async () => {
  daemon = await FakeDaemon.start();
  env = { TYPEVISOR_DATA_DIR: daemon.dir };
});
after(() => daemon.stop());

test("vm list: an aligned table for people, the daemon's JSON for scripts", async () => {
  daemon.routes.set("GET /v1/vms", { status: 200, body: [VM, { ...VM, name: "database-2", state: "running", memoryMiB: 1024, autostart: true }] });
  const table = await runCli(["vm", "list"], env);
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout,
    "NAME        STATE    MEMORY    CPUS  AUTOSTART\n" +
    "web1        stopped  256 MiB   1     no\n" +
    "database-2  running  1024 MiB  1     yes\n");
  const json = await runCli(["vm", "list", "--output", "json"], env);
  assert.deepEqual(JSON.parse(json.stdout).map((v: { name: string }) => v.name), ["web1", "database-2"]);
});

test("vm create sends the contract's body; --start starts it", async () => {
  daemon.routes.set("POST /v1/vms", { status: 201, body: VM });
  daemon.routes.set("POST /v1/vms/web1/actions/start", { status: 200, body: { ...VM, state: "running" } });
  const r = await runCli(["vm", "create", "web1", "-m", "128", "--disk", "default/root.qcow2", "--disk", "pool2/data:ro", "--network", "lan",
    "--user-net", "hostfwd=tcp::2222-:22", "--autostart", "--start"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "web1: running\n");
  const create = daemon.requests.filter((q) => q.method === "POST" && q.url === "/v1/vms").at(-1);
  assert.deepEqual(create?.body, {
    name: "web1", memoryMiB: 128, cpus: 1, autostart: true, boot: { kind: "default-guest" },
    disks: [{ image: "default/root.qcow2" }, { image: "pool2/data", readonly: true }],
    nics: [{ network: "lan" }, { user: "hostfwd=tcp::2222-:22" }],
  });
});

test("power verbs, snapshots and restore reach their routes", async () => {
  for (const a of ["start", "stop", "shutdown", "pause", "resume", "reboot"]) daemon.routes.set(`POST /v1/vms/web1/actions/${a}`, { status: 200, body: VM });
  daemon.routes.set("POST /v1/vms/web1/snapshots", { status: 201, body: { name: "s1", vm: "web1" } });
  daemon.routes.set("GET /v1/vms/web1/snapshots", { status: 200, body: [{ name: "s1", vm: "web1", createdAt: "2026-12-07T10:00:00Z", sizeBytes: 3 << 20, parent: null }] });
  daemon.routes.set("POST /v1/vms/web1/snapshots/s1/restore", { status: 200, body: VM });
  daemon.routes.set("DELETE /v1/vms/web1/snapshots/s1", { status: 204 });
  for (const args of [["vm", "pause", "web1"], ["vm", "snapshot", "web1", "s1"], ["vm", "snapshot", "create", "web1", "s1"], ["vm", "restore", "web1", "s1"],
    ["vm", "snapshot", "restore", "web1", "s1"], ["vm", "snapshot", "delete", "web1", "s1"]]) {
    const r = await runCli(args, env);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  }
  const list = await runCli(["vm", "snapshot", "list", "web1"], env);
  assert.match(list.stdout, /^NAME\s+CREATED\s+SIZE\s+PARENT\ns1\s+2026-12-07T10:00:00Z\s+3 MiB\s+-\n$/);
  assert.deepEqual(daemon.requests.filter((q) => q.url.includes("/snapshots") && q.method !== "GET").map((q) => `${q.method} ${q.url}`), [
    "POST /v1/vms/web1/snapshots", "POST /v1/vms/web1/snapshots", "POST /v1/vms/web1/snapshots/s1/restore",
    "POST /v1/vms/web1/snapshots/s1/restore", "DELETE /v1/vms/web1/snapshots/s1",
  ]);
  assert.deepEqual(daemon.requests.find((q) => q.url === "/v1/vms/web1/snapshots" && q.method === "POST")?.body, { name: "s1" });
});

test("exit statuses a script can trust, each with the daemon's message on one line", async () => {
  daemon.routes.set("GET /v1/vms/ghost", error(404, "not_found", "no VM named ghost"));
  daemon.routes.set("POST /v1/vms/web1/actions/start", error(403, "forbidden", "role viewer may not use vm.power"));
  daemon.routes.set("DELETE /v1/vms/web1", error(409, "conflict", "web1 is running; stop it or use --force"));
  daemon.routes.set("GET /v1/tokens", error(401, "unauthorized", "a bearer token is required"));
  daemon.routes.set("GET /v1/networks", error(429, "throttled", "too many failed attempts"));
  daemon.routes.set("GET /v1/networks/x", { status: 502, text: "<html>bad gateway" });
  daemon.routes.set("POST /v1/vms", error(400, "invalid", "memoryMiB must be at least 16"));
  const cases: [string[], number, RegExp][] = [
    [["vm", "info", "ghost"], 6, /^typevisor: no VM named ghost\n$/],
    [["vm", "start", "web1"], 5, /^typevisor: role viewer may not use vm.power\n$/],
    [["vm", "delete", "web1"], 7, /stop it or use --force/],
    [["token", "list"], 4, /bearer token is required/],
    [["net", "list"], 8, /too many failed/],
    [["vm", "create", "web1", "-m", "8"], 2, /at least 16/],
    [["vm", "create", "web1", "-m", "lots"], 2, /--memory must be a whole number/],
    [["vm", "start"], 2, /missing required argument/],
    [["vm", "frobnicate"], 2, /unknown command/],
    [["vm", "list", "--output", "yaml"], 2, /Allowed choices are table, json/],
    [["vm", "list", "--host", "ftp://x"], 2, /must use https/],
    [["net", "info", "x"], 1, /answered 502 with something that is not JSON/],
    [["vm", "list", "--data-dir", "/nonexistent"], 3, /cannot reach the daemon at \/nonexistent\/api.sock.*typevisor serve/],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCli(args, env);
    assert.equal(r.code, code, `${args.join(" ")} → ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  assert.equal((await runCli(["vm", "--help"], env)).code, 0);
});

test("the token comes from --token, else TYPEVISOR_TOKEN, else the config file", async () => {
  daemon.routes.set("GET /v1/tokens", { status: 200, body: [] });
  const home = await mkdtemp(join(tmpdir(), "tv-cli-config-"));
  try {
    const configFile = join(home, "typevisor", "cli.json");
    await mkdir(dirname(configFile), { recursive: true });
    await writeFile(configFile, JSON.stringify({ token: "from-file", dataDir: daemon.dir }));
    const base = { XDG_CONFIG_HOME: home };
    await runCli(["token", "list"], base);
    await runCli(["token", "list"], { ...base, TYPEVISOR_TOKEN: "from-env" });
    await runCli(["token", "list", "--token", "from-flag"], { ...base, TYPEVISOR_TOKEN: "from-env" });
    assert.deepEqual(daemon.requests.slice(-3).map((q) => q.authorization), ["Bearer from-file", "Bearer from-env", "Bearer from-flag"]);
    await writeFile(configFile, JSON.stringify({ tokn: "typo" }));
    const typo = await runCli(["token", "list"], base);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /cli.json: unknown setting "tokn"/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test("token create prints the secret once on stdout and sends role, scope and expiry", async () => {
  daemon.routes.set("POST /v1/tokens", (q) => ({ status: 201, body: { id: "00112233aabbccdd", ...(q.body as object), token: "tvk_00112233aabbccdd_SECRET" } }));
  const r = await runCli(["token", "create", "ci", "--role", "operator", "--scope", "web1, web2", "--expires", "2h"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "tvk_00112233aabbccdd_SECRET\n", "only the token when stdout is not a terminal");
  assert.deepEqual(daemon.requests.at(-1)?.body, { name: "ci", role: "operator", scope: ["web1", "web2"], expiresInSeconds: 7200 });
  assert.equal((await runCli(["token", "create", "ci", "--role", "root"], env)).code, 2);
  assert.equal((await runCli(["token", "create", "ci"], env)).code, 2, "--role is required");
  assert.equal((await runCli(["token", "create", "ci", "--role", "viewer", "--expires", "soon"], env)).code, 2);
});

test("clone follows its job to the end; a failed job fails the command", async () => {
  let polls = 0;
  daemon.routes.set("POST /v1/vms/web1/clone", { status: 202, body: { job: { id: "j1", kind: "clone", state: "running", progress: 0 } } });
  daemon.routes.set("GET /v1/jobs/j1", () => (++polls < 3
    ? { status: 200, body: { id: "j1", kind: "clone", state: "running", progress: polls / 3 } }
    : { status: 200, body: { id: "j1", kind: "clone", state: "succeeded", progress: 1, result: { name: "web2" } } }));
  const ok = await runCli(["vm", "clone", "web1", "web2"], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "web2: cloned from web1\n");
  assert.equal(polls, 3);
  daemon.routes.set("GET /v1/jobs/j1", { status: 200, body: { id: "j1", kind: "clone", state: "failed", progress: 0.5, error: "disk full" } });
  const failed = await runCli(["vm", "clone", "web1", "web2"], env);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /clone web1 → web2 failed: disk full/);
});

test("image and net verbs build their requests from POOL/NAME and --forward", async () => {
  daemon.routes.set("POST /v1/pools/default/images", { status: 201, body: {} });
  daemon.routes.set("POST /v1/networks", { status: 201, body: {} });
  daemon.routes.set("GET /v1/images", { status: 200, body: [{ pool: "default", name: "root.qcow2", format: "qcow2", sizeBytes: 1 << 30, allocatedBytes: 196 << 10, usedBy: ["web1"] }] });
  assert.equal((await runCli(["image", "create", "disk1", "1G"], env)).code, 0);
  assert.deepEqual(daemon.requests.at(-1)?.body, { name: "disk1", sizeBytes: 1 << 30, format: "qcow2" });
  assert.equal((await runCli(["net", "create", "lan", "--nat", "--forward", "8080:80", "--forward", "udp:127.0.0.1:5353:53"], env)).code, 0);
  assert.deepEqual(daemon.requests.at(-1)?.body, { name: "lan", nat: true, forwards: [
    { proto: "tcp", hostPort: 8080, guestPort: 80 }, { proto: "udp", hostAddress: "127.0.0.1", hostPort: 5353, guestPort: 53 }] });
  const list = await runCli(["image", "list"], env);
  assert.equal(list.stdout, "POOL     NAME        FORMAT  SIZE   ALLOCATED  USED BY\ndefault  root.qcow2  qcow2   1 GiB  196 KiB    web1\n");
  assert.equal((await runCli(["image", "delete", "a/b/c"], env)).code, 2);
  assert.equal((await runCli(["net", "create", "lan", "--forward", "99999:1"], env)).code, 2);
});

test("vm console relays piped input and output over the WebSocket and detaches on --until", async () => {
  const r = await runCli(["vm", "console", "web1", "--until", "got:UNAME"], env, "uname\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "login banner\r\n# got:UNAME\n");
  const denied = await runCli(["vm", "console", "db"], env);
  assert.equal(denied.code, 5);
  assert.match(denied.stderr, /console access denied/);
});

test("names with odd characters stay inside their path segment", async () => {
  daemon.routes.set("GET /v1/vms/a%2F..%2Fb%3Fx", error(404, "not_found", "no such VM"));
  assert.equal((await runCli(["vm", "info", "a/../b?x"], env)).code, 6);
  daemon.routes.set("GET /v1/vms", { status: 200, body: [{ ...VM, name: "evil\u001b[2J" }] });
  assert.ok((await runCli(["vm", "list"], env)).stdout.includes("evil\\x1b[2J"), "control characters are escaped");
});

test("on a terminal, vm console runs raw, says how to detach, and Ctrl-] detaches", async () => {
  // `script` gives the CLI a pseudo-terminal; "ab" reaches the guest, Ctrl-] (0x1d) ends the session.
  const command = `${process.execPath} ${TYPEVISOR_BIN} vm console web1`;
  const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("latin1").on("data", (s: string) => {
      out += s;
      if (out.includes("# ") && !out.includes("got:")) child.stdin.write("ab");
      if (out.includes("got:AB")) child.stdin.write("\x1d");
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Connected to web1 \(detach with Ctrl-\]\)/);
  assert.match(r.out, /got:AB/);
  assert.match(r.out, /Detached from the console; the VM keeps running/);
});
