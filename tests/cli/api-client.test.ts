/** The CLI's API client over HTTPS: a trusted certificate works, an unknown one is refused with a hint. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient, ApiError } from "../../src/cli/client/api-client.ts";
import { resolveEndpoint } from "../../src/cli/client/endpoint.ts";
import { FakeDaemon, runCli } from "./fake-daemon.ts";

let daemon: FakeDaemon;
let certDir: string;
before(async () => {
  certDir = await mkdtemp(join(tmpdir(), "tv-cert-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=typevisor", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem")], { stdio: "ignore" });
  daemon = await FakeDaemon.start({ key: await readFile(join(certDir, "key.pem")), cert: await readFile(join(certDir, "cert.pem")) });
  daemon.routes.set("GET /v1/vms", { status: 200, body: [] });
  daemon.routes.set("GET /v1/vms/x", { status: 404, body: { error: { code: "not_found", message: "no VM named x" } } });
});
after(async () => {
  await daemon.stop();
  await rm(certDir, { recursive: true, force: true });
});

test("https with --cacert: requests carry the bearer token; errors become ApiError with the daemon's code", async () => {
  const host = `https://127.0.0.1:${daemon.port}`;
  const client = new ApiClient(resolveEndpoint({ host, cacert: join(certDir, "cert.pem"), token: "tvk_x" }, {}));
  assert.deepEqual(await client.get("/v1/vms"), []);
  assert.equal(daemon.requests.at(-1)?.authorization, "Bearer tvk_x");
  await assert.rejects(client.get("/v1/vms/x"), (e) => e instanceof ApiError && e.code === "not_found" && e.exitCode === 6 && e.message === "no VM named x");
  const viaEnv = await runCli(["vm", "list", "-o", "json"], { TYPEVISOR_HOST: host, TYPEVISOR_CACERT: join(certDir, "cert.pem") });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.equal(viaEnv.stdout, "[]\n");
});

test("an untrusted certificate is refused, and the message says to pass --cacert", async () => {
  const r = await runCli(["vm", "list", "--host", `https://127.0.0.1:${daemon.port}`]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /--cacert/);
});
