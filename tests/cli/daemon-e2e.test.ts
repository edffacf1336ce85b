/**
 * The CLI against a real `typevisor serve` and the real default guest:
 * create, start, a console command, snapshot, clone, stop, delete; then role
 * checks through the CLI over TLS (a viewer cannot start a VM, an operator
 * cannot make a token above itself). Boots Linux: slow on a loaded host.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ensureDefaultGuest } from "../../src/guest/default-guest.ts";
import { startDaemon } from "./real-daemon.ts";

const PROMPT = "typevisor:[^\\n]*# ";

test("vm create, start, console, snapshot, clone, stop, delete and role checks through the CLI", async () => {
  await ensureDefaultGuest();
  const daemon = await startDaemon();
  const { cli, tls } = daemon;
  try {
    await cli(["vm", "create", "web1", "-m", "128"]);
    assert.equal((await cli(["vm", "start", "web1"])).stdout, "web1: running\n");
    await cli(["vm", "console", "web1", "--until", PROMPT]);
    const answer = await cli(["vm", "console", "web1", "--until", "MARK42"], "echo MARK$((6*7))\n");
    assert.match(answer.stdout, /MARK42/);

    await cli(["vm", "snapshot", "web1", "s1"]);
    const snaps = JSON.parse((await cli(["vm", "snapshot", "list", "web1", "-o", "json"])).stdout) as { name: string }[];
    assert.deepEqual(snaps.map((s) => s.name), ["s1"]);

    await cli(["vm", "clone", "web1", "web2"]);
    const vms = JSON.parse((await cli(["vm", "list", "-o", "json"])).stdout) as { name: string; state: string }[];
    assert.deepEqual(vms.map((v) => [v.name, v.state]).sort(), [["web1", "running"], ["web2", "running"]]);
    const cloneAnswer = await cli(["vm", "console", "web2", "--until", "CLONE7"], "echo CLONE$((3+4))\n");
    assert.match(cloneAnswer.stdout, /CLONE7/, "the clone runs its own copy of the guest");

    // Role checks over TCP+TLS with tokens made through the CLI.
    const viewer = (await cli(["token", "create", "watcher", "--role", "viewer"])).stdout.trim();
    const operator = (await cli(["token", "create", "ops", "--role", "operator", "--scope", "web1"])).stdout.trim();
    assert.match((await cli(["vm", "start", "web2", ...tls, "--token", viewer], undefined, 5)).stderr, /vm\.power/);
    await cli(["vm", "info", "web1", ...tls, "--token", viewer]);
    await cli(["vm", "list", ...tls], undefined, 4);
    await cli(["token", "create", "boss", "--role", "admin", ...tls, "--token", operator], undefined, 5);
    await cli(["token", "create", "wide", "--role", "viewer", ...tls, "--token", operator], undefined, 5);
    await cli(["token", "create", "narrow", "--role", "viewer", "--scope", "web1", ...tls, "--token", operator]);
    await cli(["vm", "stop", "web2", ...tls, "--token", operator], undefined, 5);
    assert.equal((await cli(["vm", "pause", "web1", ...tls, "--token", operator])).stdout, "web1: paused\n");
    await cli(["vm", "delete", "web1", ...tls, "--token", operator], undefined, 5);

    await cli(["vm", "delete", "web1"], undefined, 7);
    for (const vm of ["web1", "web2"]) assert.equal((await cli(["vm", "stop", vm])).stdout, `${vm}: stopped\n`);
    await cli(["vm", "delete", "web1"]);
    await cli(["vm", "delete", "web2"]);
    await cli(["vm", "info", "web1"], undefined, 6);
    assert.equal((await cli(["vm", "list", "-o", "json"])).stdout, "[]\n");
  } finally {
    await daemon.stop();
  }
});
