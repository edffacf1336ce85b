/**
 * `typevisor vm console NAME`: the terminal talks to the guest's serial
 * console through the daemon. Ctrl-] detaches (as virsh console), leaving the
 * VM running. With stdin from a pipe the bytes are sent as they come; after
 * the pipe ends the command detaches when the output matches `--until`, or
 * once the guest has been quiet for `--quiet-ms`; if the console closes first,
 * `--until` fails (status 1).
 */
import type WebSocket from "ws";
import type { ApiClient } from "./client/api-client.ts";
import { CliError } from "./cli-error.ts";
import { openConsoleSocket } from "./client/console-socket.ts";

const CTRL_RIGHT_BRACKET = 0x1d;
/** Output kept for --until matching: a prompt or answer spans at most this much. */
const UNTIL_WINDOW = 64 * 1024;

export interface ConsoleOptions { until?: RegExp; quietMs: number }

export async function attachConsole(client: ApiClient, vm: string, o: ConsoleOptions): Promise<void> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let closed!: Promise<"user" | "daemon">;
  await openConsoleSocket(client, vm, (ws) => {
    if (tty) process.stderr.write(`Connected to ${vm} (detach with Ctrl-])\r\n`);
    closed = relay(ws, stdin, tty, o);
  });
  const closedBy = await closed;
  if (closedBy === "daemon" && o.until) throw new CliError(`the console closed before its output matched --until ${o.until.source}`);
  if (tty) process.stderr.write(closedBy === "user" ? "\r\nDetached from the console; the VM keeps running.\n" : "\r\nThe daemon closed the console (the VM stopped, or the daemon did).\n");
}

/** Relays bytes both ways until the user detaches or the daemon closes the console. */
function relay(ws: WebSocket, stdin: NodeJS.ReadStream, tty: boolean, o: ConsoleOptions): Promise<"user" | "daemon"> {
  return new Promise((resolve) => {
    let seen = "";
    let stdinEnded = false;
    let quietTimer: NodeJS.Timeout | null = null;
    let done = false;
    const detach = (by: "user" | "daemon" = "user") => {
      if (done) return;
      done = true;
      if (quietTimer) clearTimeout(quietTimer);
      stdin.off("data", onInput).off("end", onEnd);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      ws.close();
      resolve(by);
    };
    const armQuiet = () => {
      if (!stdinEnded || o.until) return;
      if (quietTimer) clearTimeout(quietTimer);
      quietTimer = setTimeout(() => detach(), o.quietMs);
    };
    const onInput = (chunk: Buffer) => {
      const stop = tty ? chunk.indexOf(CTRL_RIGHT_BRACKET) : -1;
      if (stop >= 0) {
        if (stop > 0) ws.send(chunk.subarray(0, stop));
        detach();
      } else ws.send(chunk);
    };
    const onEnd = () => {
      stdinEnded = true;
      armQuiet();
    };
    ws.on("message", (data: WebSocket.RawData) => {
      const bytes = data as Buffer;
      process.stdout.write(bytes);
      if (o.until) {
        seen = (seen + bytes.toString("latin1")).slice(-UNTIL_WINDOW);
        if (o.until.test(seen)) detach();
      }
      armQuiet();
    });
    ws.on("close", () => detach("daemon"));
    ws.on("error", () => detach("daemon"));
    if (tty) stdin.setRawMode(true);
    stdin.on("data", onInput).on("end", onEnd);
    stdin.resume();
  });
}
