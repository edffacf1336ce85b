/**
 * image, net and token verbs against a real `typevisor serve` (no guest
 * boots): what they create is what they list, in-use objects are refused
 * with the conflict status, revoked tokens stop working, the audit log holds
 * no secret, and guessing tokens is throttled.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "./fake-daemon.ts";
import { startDaemon } from "./real-daemon.ts";

test("images, pools, networks and tokens through the CLI", async () => {
  const daemon = await startDaemon();
  const { cli, tls } = daemon;
  try {
    await cli(["image", "create", "disk1", "64M"]);
    await cli(["image", "create", "default/raw1", "1M", "-f", "raw"]);
    await cli(["image", "clone", "disk1", "disk2"]);
    const images = JSON.parse((await cli(["image", "list", "-o", "json"])).stdout) as { pool: string; name: string; format: string; sizeBytes: number }[];
    assert.deepEqual(images.map((i) => [i.pool, i.name, i.format, i.sizeBytes]).sort(), [
      ["default", "disk1", "qcow2", 64 << 20], ["default", "disk2", "qcow2", 64 << 20], ["default", "raw1", "raw", 1 << 20]]);
    assert.match((await cli(["image", "list", "default"])).stdout, /^POOL\s+NAME\s+FORMAT\s+SIZE\s+ALLOCATED\s+USED BY\n/);
    await cli(["image", "create", "disk1", "1M"], undefined, 7);
    await cli(["image", "delete", "nopool/disk1"], undefined, 6);

    const poolDir = join(daemon.dataDir, "second-pool");
    await mkdir(poolDir);
    await cli(["image", "pool", "create", "second", poolDir]);
    assert.match((await cli(["image", "pool", "list"])).stdout, new RegExp(`second\\s+0\\s+${poolDir}`));

    await cli(["net", "create", "lan", "--nat", "--forward", "18080:80"]);
    await cli(["vm", "create", "box", "--disk", "default/disk2", "--network", "lan"]);
    assert.match((await cli(["net", "info", "lan"])).stdout, /Forwards:\s+tcp:18080->80[^]*Used by:\s+box/);
    await cli(["net", "delete", "lan"], undefined, 7);
    await cli(["image", "delete", "disk2"], undefined, 7);
    await cli(["vm", "delete", "box"]);
    await cli(["net", "delete", "lan"]);
    await cli(["image", "delete", "disk2"]);
    assert.equal((await cli(["net", "list", "-o", "json"])).stdout, "[]\n");

    const token = (await cli(["token", "create", "temp", "--role", "viewer", "--expires", "1h"])).stdout.trim();
    const listed = JSON.parse((await cli(["token", "list", "-o", "json"])).stdout) as { id: string; name: string; expiresAt: string | null }[];
    const entry = listed.find((t) => t.name === "temp");
    assert.ok(entry && entry.expiresAt !== null && token.startsWith(`tvk_${entry.id}_`));
    await cli(["image", "list", ...tls, "--token", token]);
    await cli(["image", "create", "x", "1M", ...tls, "--token", token], undefined, 5);
    await cli(["token", "revoke", entry.id]);
    await cli(["image", "list", ...tls, "--token", token], undefined, 4);
    await cli(["token", "revoke", entry.id], undefined, 6);

    // The audit log names the calls, never the secret.
    const audit = (await readFile(join(daemon.dataDir, "audit.log"), "utf8")).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.ok(audit.some((e) => e.method === "POST" && e.path === "/v1/tokens" && e.status === 201));
    assert.ok(audit.some((e) => e.method === "DELETE" && e.path === `/v1/tokens/${entry.id}`));
    assert.ok(!JSON.stringify(audit).includes(token.slice(token.lastIndexOf("_") + 1)), "no token secret in the audit log");

    // Guessing tokens from one address ends in 429 → exit status 8.
    const codes: (number | null)[] = [];
    while (codes.length < 12 && codes.at(-1) !== 8) codes.push((await runCli(["vm", "list", ...tls, "--token", token], { TYPEVISOR_DATA_DIR: daemon.dataDir })).code);
    assert.equal(codes.at(-1), 8, `exit statuses: ${codes.join(" ")}`);
    assert.ok(codes.slice(0, -1).every((c) => c === 4));
  } finally {
    await daemon.stop();
  }
});
