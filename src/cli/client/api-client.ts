/**
 * A small client for the daemon's REST API over its Unix socket or HTTPS.
 * Answers are JSON; an error answer becomes a CliError carrying the daemon's
 * one-sentence message and an exit status scripts can test.
 */
import * as http from "node:http";
import * as https from "node:https";
import { CliError } from "../cli-error.ts";
import type { Endpoint } from "./endpoint.ts";
import { EXIT, exitCodeForStatus } from "./exit-codes.ts";

/** Longest answer the client reads; a bigger one is refused rather than buffered. */
const MAX_RESPONSE_BYTES = 64 << 20;

export class ApiError extends CliError {
  override name = "ApiError";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message, exitCodeForStatus(status));
  }
}


export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.send(method, path, body);
    const data = text.length === 0 ? null : parseJson(text, status);
    if (status >= 400) {
      const err = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const message = typeof err?.message === "string" ? err.message : `the daemon answered ${status}`;
      throw new ApiError(status, typeof err?.code === "string" ? err.code : String(status), message);
    }
    return data as T;
  }

  /** Headers for a request: the bearer token when there is one. */
  headers(): Record<string, string> {
    return this.endpoint.token ? { authorization: `Bearer ${this.endpoint.token}` } : {};
  }

  where(): string {
    return this.endpoint.kind === "unix" ? this.endpoint.socketPath : this.endpoint.url.origin;
  }

  private send(method: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json", ...this.headers() };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    const ep = this.endpoint;
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) res.destroy(new CliError(`the daemon's answer is larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      };
      const req = ep.kind === "unix"
        ? http.request({ socketPath: ep.socketPath, path, method, headers }, onResponse)
        : https.request(new URL(path, ep.url), { method, headers, ca: ep.ca }, onResponse);
      req.on("error", (e) => reject(e instanceof CliError ? e : unreachable(this.where(), e as NodeJS.ErrnoException)));
      req.end(payload);
    });
  }
}

function parseJson(text: string, status: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`the daemon answered ${status} with something that is not JSON`);
  }
}

function unreachable(where: string, e: NodeJS.ErrnoException): CliError {
  const hint = e.code === "ENOENT" || e.code === "ECONNREFUSED"
    ? " (is `typevisor serve` running? --host, TYPEVISOR_HOST or --data-dir say where)"
    : /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code ?? "") ? " (pass the daemon's certificate with --cacert <data-dir>/tls/cert.pem)" : "";
  return new CliError(`cannot reach the daemon at ${where}: ${e.code ?? e.message}${hint}`, EXIT.unreachable);
}
