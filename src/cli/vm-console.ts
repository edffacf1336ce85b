/**
 * `typevisor vm console NAME`: the terminal talks to the guest's serial
 * console through the daemon. Ctrl-] detaches (as virsh console), leaving the
 * VM running. With stdin from a pipe the bytes are sent as they come; after
 * the pipe ends the command detaches when the output matches `--until`, or
 * once the guest has been quiet for `--quiet-ms`.
 */
import type WebSocket from "ws";
import type { ApiClient } from "./client/api-client.ts";
import { openConsoleSocket } from "./client/console-socket.ts";

const CTRL_RIGHT_BRACKET = 0x1d;
/** Output kept for --until matching: a prompt or answer spans at most this much. */
const UNTIL_WINDOW = 64 * 1024;

export interface ConsoleOptions { until?: RegExp; quietMs: number }

export async function attachConsole(client: ApiClient, vm: string, o: ConsoleOptions): Promise<void> {
  const ws = await openConsoleSocket(client, vm);
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) process.stderr.write(`Connected to ${vm} (detach with Ctrl-])\r\n`);
  await new Promise<void>((resolve) => {
    let seen = "";
    let stdinEnded = false;
    let quietTimer: NodeJS.Timeout | null = null;
    const detach = () => {
      if (quietTimer) clearTimeout(quietTimer);
      stdin.off("data", onInput).off("end", onEnd);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      ws.close();
      resolve();
    };
    const armQuiet = () => {
      if (!stdinEnded || o.until) return;
      if (quietTimer) clearTimeout(quietTimer);
      quietTimer = setTimeout(detach, o.quietMs);
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
    ws.on("close", () => detach());
    ws.on("error", () => detach());
    if (tty) stdin.setRawMode(true);
    stdin.on("data", onInput).on("end", onEnd);
    stdin.resume();
  });
  if (tty) process.stderr.write("\r\nDetached from the console; the VM keeps running.\n");
}
