/** Starts a real `typevisor serve` (Unix socket + TLS on a free port) in a fresh data directory, for CLI tests. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient } from "../../src/cli/client/api-client.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";
import { REPO_ROOT } from "../support/toolchain.ts";
import { runCli, type CliResult } from "./fake-daemon.ts";

export interface RealDaemon {
  dataDir: string;
  /** Options that reach the daemon over TCP+TLS instead of the socket. */
  tls: string[];
  /** Runs `typevisor ARGS` against it and checks the exit status. */
  cli(args: string[], input?: string, expectCode?: number): Promise<CliResult>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export async function startDaemon(): Promise<RealDaemon> {
  const dataDir = await mkdtemp(join(tmpdir(), "tv-cli-daemon-"));
  const port = await freePort();
  const daemon = spawn(process.execPath, [TYPEVISOR_BIN, "serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"],
    { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  daemon.stderr.setEncoding("utf8").on("data", (s: string) => (log += s));
  const exited = new Promise<number | null>((r) => daemon.on("exit", (code) => r(code)));
  const stop = async () => {
    daemon.kill("SIGTERM");
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // Up once the socket answers; a daemon that dies fails the test instead of waiting.
    const client = new ApiClient({ kind: "unix", socketPath: join(dataDir, "api.sock") });
    while (!(await client.get("/v1/ping").then(() => true, () => false))) {
      const died = await Promise.race([exited.then((c) => `exited with ${c}`), new Promise<null>((r) => setTimeout(() => r(null), 200))]);
      assert.equal(died, null, `the daemon ${died}: ${log}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const env = { TYPEVISOR_DATA_DIR: dataDir };
  return {
    dataDir,
    tls: ["--host", `https://127.0.0.1:${port}`, "--cacert", join(dataDir, "tls", "cert.pem")],
    async cli(args, input, expectCode = 0) {
      const r = await runCli(args, env, input);
      assert.equal(r.code, expectCode, `typevisor ${args.join(" ")} → ${r.code}: ${r.stderr}`);
      return r;
    },
    stop,
  };
}
