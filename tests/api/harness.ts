/**
 * An in-process daemon for the API tests (Unix socket + TCP+TLS on a free
 * port, a fresh data dir, logs discarded) and raw HTTP clients for it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Daemon, type DaemonOptions } from "../../src/api/daemon.ts";
import { OWNER } from "../../src/hypervisor/auth/index.ts";

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export class TestDaemon {
  private constructor(
    readonly daemon: Daemon,
    readonly dataDir: string,
    readonly ca: string,
    readonly adminToken: string,
  ) {}

  static async start(options: Partial<DaemonOptions> = {}): Promise<TestDaemon> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "tv-api-"));
    const daemon = await Daemon.start({ dataDir, logger: pino({ level: "silent" }), listen: "127.0.0.1:0", ...options });
    const admin = await daemon.tokens.create(OWNER, { name: "test-admin", role: "admin", scope: "*" });
    return new TestDaemon(daemon, dataDir, readFileSync(daemon.certFile!, "utf8"), admin.token);
  }

  get endpoint(): Endpoint {
    return { port: this.daemon.tcpPort!, ca: this.ca, socketPath: this.daemon.socketPath };
  }

  /** Over TCP+TLS with a bearer token (the admin's unless given; null: none). */
  tcp(method: string, path: string, body?: unknown, token: string | null = this.adminToken): Promise<Response> {
    return tcpCall(this.endpoint, token, method, path, body);
  }

  /** Over the Unix socket (the owner: no token). */
  unix(method: string, path: string, body?: unknown): Promise<Response> {
    return unixCall(this.endpoint, method, path, body);
  }

  /** Polls a job until it ends; returns it. */
  waitJob(id: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return waitJob(this.endpoint, id);
  }

  async close(remove = true): Promise<void> {
    await this.daemon.close("stop");
    if (remove) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Where a daemon listens: TCP+TLS (port, its CA) and the Unix socket. */
export interface Endpoint {
  port: number;
  ca: string;
  socketPath: string;
}

export function tcpCall(e: Endpoint, token: string | null, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const payload = encode(body, headers);
  return collect(httpsRequest({ host: "127.0.0.1", port: e.port, method, path, headers, ca: e.ca }), payload);
}

export function unixCall(e: Endpoint, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  const payload = encode(body, headers);
  return collect(httpRequest({ socketPath: e.socketPath, method, path, headers }), payload);
}

/** Polls a job until it ends; returns it. */
export async function waitJob(e: Endpoint, id: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  for (;;) {
    const r = await unixCall(e, "GET", `/v1/jobs/${id}`);
    if (r.body.state !== "running") return r.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function encode(body: unknown, headers: Record<string, string>): Buffer | null {
  if (body === undefined) return null;
  headers["content-type"] = "application/json";
  return Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
}

function collect(req: ReturnType<typeof httpRequest>, payload: Buffer | null): Promise<Response> {
  return new Promise((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = null;
        try {
          body = text === "" ? null : JSON.parse(text);
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, text });
      });
    });
    req.end(payload ?? undefined);
  });
}
