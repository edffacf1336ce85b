/** A console WebSocket client for the tests: collects what the guest prints. */
import WebSocket from "ws";
import type { Endpoint } from "./harness.ts";

export class ConsoleClient {
  output = "";
  readonly closed: Promise<void>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      this.output += data.toString("latin1");
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  static open(e: Endpoint, vm: string, token: string): Promise<ConsoleClient> {
    const socket = new WebSocket(`wss://127.0.0.1:${e.port}/v1/vms/${vm}/console`, { ca: e.ca, headers: { authorization: `Bearer ${token}` } });
    return new Promise((resolve, reject) => {
      socket.once("open", () => resolve(new ConsoleClient(socket)));
      socket.once("unexpected-response", (_req, res) => reject(new Error(`console: HTTP ${res.statusCode}`)));
      socket.once("error", reject);
    });
  }

  send(text: string): void {
    this.socket.send(Buffer.from(text, "latin1"));
  }

  /** Resolves once the output holds `text` (the test's own timeout bounds the wait). */
  async waitFor(text: string): Promise<void> {
    while (!this.output.includes(text)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once the output after `from` matches `pattern`; returns the end of the match. */
  async waitForMatch(pattern: RegExp, from = 0): Promise<number> {
    for (;;) {
      const m = pattern.exec(this.output.slice(from));
      if (m !== null) return from + m.index + m[0].length;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): void {
    this.socket.close();
  }
}
