/**
 * The audit log: one JSON line per state-changing API call, appended to a
 * file (mode 0600). Secrets never reach it: values under keys that name a
 * secret (token, secret, password, authorization…) are replaced, query
 * parameters likewise, and long values are cut.
 */
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { Principal } from "./roles.ts";

export interface AuditEntry { principal: Principal; method: string; path: string; status: number; detail?: unknown }

const SECRET_KEY = /^token$|secret|passw|authorization|cookie|private.?key|api.?key/i;
const MAX_STRING = 512;
const MAX_DEPTH = 4;
const MAX_ITEMS = 32;

export class AuditLog {
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly file: FileHandle, private readonly now: () => number) {}

  static async open(path: string, options: { now?: () => number } = {}): Promise<AuditLog> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return new AuditLog(await open(path, "a", 0o600), options.now ?? Date.now);
  }

  /** Appends one line; lines are written in call order. */
  record(e: AuditEntry): Promise<void> {
    const line = {
      time: new Date(this.now()).toISOString(),
      tokenId: e.principal.tokenId,
      principal: clip(e.principal.name),
      role: e.principal.role,
      method: clip(String(e.method)),
      path: redactPath(String(e.path)),
      status: e.status,
      ...(e.detail !== undefined ? { detail: redact(e.detail, 0) } : {}),
    };
    const write = this.writes.then(() => this.file.appendFile(`${JSON.stringify(line)}\n`, "utf8"));
    this.writes = write.catch(() => {});
    return write;
  }

  async close(): Promise<void> {
    await this.writes;
    await this.file.close();
  }
}

function clip(s: string): string {
  return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…` : s;
}

function redactPath(path: string): string {
  const q = path.indexOf("?");
  if (q < 0) return clip(path);
  const params = new URLSearchParams(path.slice(q + 1));
  for (const k of [...params.keys()]) if (SECRET_KEY.test(k)) params.set(k, "[redacted]");
  return clip(`${path.slice(0, q)}?${params}`);
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === "string") return /tvk_[0-9a-f]{16}_/.test(value) ? "[redacted]" : clip(value);
  if (typeof value !== "object" || value === null) return typeof value === "function" ? undefined : value;
  if (depth >= MAX_DEPTH) return "[…]";
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, MAX_ITEMS)) out[clip(k)] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  return out;
}
