/**
 * Calls to the daemon's REST API. The session cookie authenticates them (the
 * browser sends it; the page never holds the token after sign-in) and every
 * state change carries the session's CSRF header.
 */
export interface VmStats {
  cpuSeconds: number;
  instructions: number;
  memoryBytes: number;
  diskReadBytes: number;
  diskWriteBytes: number;
  netRxBytes: number;
  netTxBytes: number;
}

export type VmState = "created" | "running" | "paused" | "stopped" | "crashed";

export interface Vm {
  name: string;
  state: VmState;
  memoryMiB: number;
  cpus: number;
  autostart: boolean;
  boot: { kind: string; kernel?: string };
  disks: { image: string; readonly?: boolean }[];
  nics: ({ network: string } | { user: string })[];
  createdAt: string;
  startedAt: string | null;
  crashReason: string | null;
  /** browser: it runs in a browser tab (this page's or another's). */
  location: "host" | "browser";
  stats: VmStats;
}

export interface Snapshot {
  name: string;
  vm: string;
  createdAt: string;
  sizeBytes: number;
  parent: string | null;
}

export interface Job {
  id: string;
  kind: string;
  state: "running" | "succeeded" | "failed";
  progress: number;
  error?: string | { message: string };
}

export interface SessionView {
  name: string;
  role: string;
  scope: "*" | string[];
  csrf: string;
  expiresAt: string;
  permissions: string[];
  vmPermissions: string[];
}

/** An error the API answered with: its code and its one-sentence message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let csrf = "";
export function setCsrf(value: string): void {
  csrf = value;
}

/** The session's CSRF value (for requests made outside api(): a tab's drive writes). */
export function csrfToken(): string {
  return csrf;
}

/** `body`: JSON, or a Blob sent as application/octet-stream; `headers`: extra request headers. */
export async function api<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  const raw = body instanceof Blob;
  const headers: Record<string, string> = { ...extraHeaders };
  if (body !== undefined) headers["content-type"] = raw ? "application/octet-stream" : "application/json";
  if (method !== "GET") headers["x-typevisor-csrf"] = csrf;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "unreachable", "The daemon cannot be reached; retrying when it answers.");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(response.status, err?.code ?? "error", err?.message ?? `The daemon answered ${response.status}.`);
  }
  return parsed as T;
}

/** Follows a 202 job until it ends; reports progress 0..1. */
export async function waitForJob(job: Job, onProgress?: (p: number) => void): Promise<Job> {
  let current = job;
  while (current.state === "running") {
    onProgress?.(current.progress);
    await new Promise((r) => setTimeout(r, 500));
    current = await api<Job>("GET", `/v1/jobs/${encodeURIComponent(current.id)}`);
  }
  if (current.state === "failed") {
    const e = current.error;
    throw new ApiError(500, "job_failed", typeof e === "string" ? e : e?.message ?? "The job failed.");
  }
  return current;
}

export const vmPath = (name: string) => `/v1/vms/${encodeURIComponent(name)}`;
