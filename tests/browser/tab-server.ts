/**
 * The browser tests' own HTTP server (no daemon): the test page and its
 * script, /ui/tab-worker.js from the daemon's UI bundle, the default
 * guest's kernel and initrd and a writable copy of its data disk with Range
 * support, PUT ?offset= into that copy (what syncDrives sends), snapshots
 * the page uploads (then served by Range), failing URLs, and a WebSocket
 * NIC that records the guest's frames and answers each with a broadcast.
 * The page gets the daemon's CSP (wasm-unsafe-eval, worker-src 'self').
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { WebSocketServer, type WebSocket } from "ws";
import { uiAssets } from "../../src/api/web/ui-bundle.ts";
import type { DefaultGuest } from "../../src/guest/default-guest.ts";

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self' ws:";
const PAGE = `<!doctype html><meta charset="utf-8"><title>tab test</title><script type="module" src="/page.js"></script>`;
/** The broadcast frame the NIC sends the guest for each frame it gets (EtherType 0x88b5: local experimental). */
export const NIC_REPLY = Uint8Array.from([...Array(6).fill(0xff), 2, 0, 0, 0, 0, 1, 0x88, 0xb5, ...Array(46).fill(0x5a)]);

export interface Counters {
  /** Range requests for each served file (by URL path) and bytes sent. */
  ranges: Map<string, { requests: number; bytes: number }>;
  /** PUTs to the disk: offset and length. */
  puts: { offset: number; length: number }[];
  /** Frames the guest sent through the NIC WebSocket. */
  nicFrames: Uint8Array[];
}

export class TabServer {
  readonly counters: Counters = { ranges: new Map(), puts: [], nicFrames: [] };
  /** Uploaded snapshots by name. */
  readonly snapshots = new Map<string, Uint8Array>();
  private server!: Server;
  private sockets = new Set<WebSocket>();
  private dir = "";
  private pageJs = "";
  diskPath = "";
  origin = "";

  constructor(private readonly guest: DefaultGuest) {}

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "tab-server-"));
    this.diskPath = join(this.dir, "data.ext4");
    await copyFile(this.guest.disk, this.diskPath);
    const page = await build({
      entryPoints: [fileURLToPath(new URL("./tab-page.ts", import.meta.url))],
      bundle: true, write: false, format: "esm", platform: "browser", target: "es2022", logLevel: "error",
    });
    this.pageJs = page.outputFiles[0].text;
    await uiAssets(); // built once, before the first page asks
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
    const wss = new WebSocketServer({ server: this.server, path: "/nic" });
    wss.on("connection", (ws) => {
      this.sockets.add(ws);
      ws.on("close", () => this.sockets.delete(ws));
      ws.on("message", (data: Buffer) => {
        this.counters.nicFrames.push(new Uint8Array(data));
        ws.send(NIC_REPLY);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    this.server?.closeAllConnections();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** The disk copy's bytes as the server has them now. */
  disk(): Buffer {
    return readFileSync(this.diskPath);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.origin);
    const path = url.pathname;
    if (req.method === "GET" && path === "/") return this.send(res, 200, "text/html; charset=utf-8", PAGE);
    if (req.method === "GET" && path === "/page.js") return this.send(res, 200, "text/javascript", this.pageJs);
    if (req.method === "GET" && path.startsWith("/ui/")) {
      const asset = (await uiAssets()).get(path);
      if (asset === undefined) return this.send(res, 404, "text/plain", "no such asset");
      return this.send(res, 200, asset.contentType, asset.body);
    }
    if (req.method === "GET" && path === "/guest/kernel") return this.range(req, res, path, readFileSync(this.guest.kernel));
    if (req.method === "GET" && path === "/guest/initrd") return this.range(req, res, path, readFileSync(this.guest.initrd));
    if (req.method === "GET" && path === "/guest/disk") return this.rangeFile(req, res, path, this.diskPath);
    if (req.method === "PUT" && path === "/guest/disk") return this.put(req, res, Number(url.searchParams.get("offset")));
    const snap = /^\/snapshots\/([\w-]+)$/.exec(path);
    if (snap !== null && req.method === "POST") {
      this.snapshots.set(snap[1], await body(req));
      return this.send(res, 200, "application/json", JSON.stringify({ bytes: this.snapshots.get(snap[1])!.length }));
    }
    if (snap !== null && req.method === "GET") {
      const bytes = this.snapshots.get(snap[1]);
      if (bytes === undefined) return this.send(res, 404, "text/plain", "no such snapshot");
      // "broken-pages": the header, metadata and index are served, the RAM pages fail.
      const limit = url.searchParams.get("fail-from");
      return this.range(req, res, path, bytes, limit === null ? Infinity : Number(limit));
    }
    return this.send(res, 404, "text/plain", "not found");
  }

  private send(res: ServerResponse, status: number, type: string, payload: string | Uint8Array): void {
    res.writeHead(status, { "Content-Type": type, "Content-Security-Policy": CSP, "Cache-Control": "no-store" });
    res.end(payload);
  }

  private count(path: string, bytes: number): void {
    const c = this.counters.ranges.get(path) ?? { requests: 0, bytes: 0 };
    c.requests++;
    c.bytes += bytes;
    this.counters.ranges.set(path, c);
  }

  private range(req: IncomingMessage, res: ServerResponse, path: string, bytes: Uint8Array, failFrom = Infinity): void {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (m === null) {
      this.count(path, bytes.length);
      return this.send(res, 200, "application/octet-stream", bytes);
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]) + 1, bytes.length);
    if (start >= bytes.length || end <= start) return this.send(res, 416, "text/plain", "range not satisfiable");
    if (end > failFrom) return this.send(res, 500, "text/plain", "this test server fails here");
    this.count(path, end - start);
    res.writeHead(206, { "Content-Type": "application/octet-stream", "Content-Range": `bytes ${start}-${end - 1}/${bytes.length}` });
    res.end(bytes.subarray(start, end));
  }

  private rangeFile(req: IncomingMessage, res: ServerResponse, path: string, file: string): void {
    const fd = openSync(file, "r");
    try {
      const size = fstatSync(fd).size;
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      const start = m === null ? 0 : Number(m[1]);
      const end = m === null ? size : Math.min(Number(m[2]) + 1, size);
      const chunk = Buffer.alloc(Math.max(0, end - start));
      readSync(fd, chunk, 0, chunk.length, start);
      this.count(path, chunk.length);
      res.writeHead(m === null ? 200 : 206, {
        "Content-Type": "application/octet-stream",
        ...(m === null ? {} : { "Content-Range": `bytes ${start}-${end - 1}/${size}` }),
      });
      res.end(chunk);
    } finally {
      closeSync(fd);
    }
  }

  private async put(req: IncomingMessage, res: ServerResponse, offset: number): Promise<void> {
    const bytes = await body(req);
    if (!Number.isSafeInteger(offset) || offset % 512 !== 0 || bytes.length % 512 !== 0) return this.send(res, 400, "text/plain", "bad offset or length");
    const fd = openSync(this.diskPath, "r+");
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
    this.counters.puts.push({ offset, length: bytes.length });
    this.send(res, 204, "text/plain", "");
  }
}

async function body(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
