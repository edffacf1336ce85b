/** Opens a VM's console WebSocket (raw bytes both ways) over the daemon's Unix socket or TLS. */
import WebSocket from "ws";
import type { ApiClient } from "./api-client.ts";
import { ApiError } from "./api-client.ts";
import { CliError } from "../cli-error.ts";
import { EXIT } from "./exit-codes.ts";

export function openConsoleSocket(client: ApiClient, vm: string): Promise<WebSocket> {
  const ep = client.endpoint;
  const path = `/v1/vms/${encodeURIComponent(vm)}/console`;
  const url = ep.kind === "unix" ? `ws+unix://${ep.socketPath}:${path}` : new URL(path, ep.url).href.replace(/^https:/, "wss:");
  const ws = new WebSocket(url, { headers: client.headers(), ca: ep.kind === "https" ? ep.ca : undefined, maxPayload: 1 << 20 });
  ws.binaryType = "nodebuffer";
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.off("error", onError);
      resolve(ws);
    });
    // A refused upgrade: read the daemon's JSON error so the exit status says why.
    ws.once("unexpected-response", (req, res) => {
      ws.off("error", onError);
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.length < 64 && chunks.push(c));
      res.on("end", () => {
        let message = `the daemon refused the console (${res.statusCode})`;
        let code = String(res.statusCode);
        try {
          const err = JSON.parse(Buffer.concat(chunks).toString("utf8")).error;
          if (typeof err?.message === "string") message = err.message;
          if (typeof err?.code === "string") code = err.code;
        } catch {
          // not JSON: keep the status line
        }
        req.destroy();
        reject(new ApiError(res.statusCode ?? 0, code, message));
      });
    });
    const onError = (e: NodeJS.ErrnoException) =>
      reject(new CliError(`cannot reach the daemon at ${client.where()}: ${e.code ?? e.message}`, EXIT.unreachable));
    ws.once("error", onError);
  });
}
