/**
 * A real HTTP server on a Unix socket (or HTTPS) that answers like the
 * daemon's API from a table of canned answers, records every request, and
 * serves a console WebSocket that echoes input. It tests the CLI's client
 * side; the end-to-end tests run against the real `typevisor serve`.
 */
import * as http from "node:http";
import * as https from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { WebSocketServer } from "ws";
import { TYPEVISOR_BIN } from "../support/run.ts";
import { REPO_ROOT } from "../support/toolchain.ts";

export interface Recorded { method: string; url: string; authorization?: string; body: unknown }
export type Answer = { status: number; body?: unknown; text?: string };

export class FakeDaemon {
  readonly requests: Recorded[] = [];
  /** "METHOD /path" → answer, or a function of the request. */
  readonly routes = new Map<string, Answer | ((r: Recorded) => Answer)>();
  private constructor(readonly dir: string, readonly server: http.Server, readonly address: string) {}

  static async start(tls?: { key: Buffer; cert: Buffer }): Promise<FakeDaemon> {
    const dir = await mkdtemp(join(tmpdir(), "tv-fake-daemon-"));
    let daemon!: FakeDaemon;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const r: Recorded = { method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
        daemon.requests.push(r);
        const route = daemon.routes.get(`${r.method} ${r.url}`);
        const answer = typeof route === "function" ? route(r) : route ?? { status: 404, body: { error: { code: "not_found", message: `no route ${r.method} ${r.url}` } } };
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(answer.text ?? (answer.body === undefined ? "" : JSON.stringify(answer.body)));
      });
    };
    const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      const vm = /^\/v1\/vms\/([^/]+)\/console$/.exec(req.url ?? "")?.[1];
      if (vm !== "web1") {
        socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ error: { code: "forbidden", message: "console access denied" } })}`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(Buffer.from("login banner\r\n# "));
        ws.on("message", (data: Buffer) => ws.send(Buffer.from(`got:${data.toString("latin1").toUpperCase()}`)));
      });
    });
    const address = tls ? "127.0.0.1" : join(dir, "api.sock");
    await new Promise<void>((resolve) => (tls ? server.listen(0, "127.0.0.1", resolve) : server.listen(address, resolve)));
    daemon = new FakeDaemon(dir, server, address);
    return daemon;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `typevisor ARGS` with only the environment given (plus PATH/HOME), feeding `input` to stdin. */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TYPEVISOR_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", XDG_CONFIG_HOME: "/nonexistent", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
