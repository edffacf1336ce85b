/**
 * A real `typevisor serve` for the web tests: its own data dir, TLS on a
 * free loopback port, and the Unix socket (the trusted owner) to make tokens.
 * SIGTERM saves running VMs, so a restarted daemon resumes them at start.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/typevisor", import.meta.url));
const HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;

export interface Reply {
  status: number;
  body: any;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export class DaemonProcess {
  log = "";
  private child: ChildProcess | null = null;

  private constructor(readonly dataDir: string, readonly port: number) {}

  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  static async start(dataDir: string): Promise<DaemonProcess> {
    const d = new DaemonProcess(dataDir, await freePort());
    await d.spawn();
    return d;
  }

  /** A call on the Unix socket, as the owner (no token). */
  owner(method: string, path: string, body?: unknown): Promise<Reply> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: join(this.dataDir, "api.sock"), path, method, headers: text ? { "content-type": "application/json" } : {} }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (data += c));
        res.on("end", () => {
          let parsed: unknown = data;
          try {
            parsed = data ? JSON.parse(data) : undefined;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("error", reject);
      req.end(text);
    });
  }

  async token(name: string, role: "admin" | "operator" | "viewer"): Promise<string> {
    const reply = await this.owner("POST", "/v1/tokens", { name, role, scope: "*" });
    if (reply.status !== 201) throw new Error(`token ${name}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.token;
  }

  /** Stops (SIGTERM) and starts the daemon again on the same port and data dir. */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawn();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await exited;
    clearTimeout(guard);
  }

  private async spawn(): Promise<void> {
    const child = spawn(process.execPath, [BIN, "serve", "--data-dir", this.dataDir, "--listen", `127.0.0.1:${this.port}`, "--on-shutdown", "save"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stdout!.on("data", (c) => (this.log += c));
    child.stderr!.on("data", (c) => (this.log += c));
    const deadline = Date.now() + HANG_GUARD_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`typevisor serve exited ${child.exitCode}:\n${this.log}`);
      const ping = await this.owner("GET", "/v1/ping").catch(() => null);
      if (ping?.status === 200) return;
      if (Date.now() > deadline) throw new Error(`typevisor serve did not answer:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
