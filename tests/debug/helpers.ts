/** Shared by the GDB stub tests: free ports, child processes, a raw protocol client. */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as net from "node:net";

/** A port nobody listens on (gdb cannot be told port 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface Ran {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

export function start(cmd: string, args: string[]): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Ran>((resolve) => child.on("close", (status, signal) => resolve({ stdout, stderr, status, signal })));
  return { child, done };
}

/** A raw protocol client: sends packets with acks, returns reply payloads. */
/**
 * Runs gdb-multiarch in batch mode with `commands` against `vm` (a debuggee
 * already waiting for gdb), symbols from `elf`; waits for both to end, killing
 * them after two minutes. Returns gdb's output and how the debuggee ended.
 */
export async function gdbBatch(
  vm: ReturnType<typeof start>, elf: string, commands: string[],
): Promise<{ gdb: string; vm: Ran }> {
  const gdb = start("gdb-multiarch", ["-batch", "-nx", ...commands.flatMap((c) => ["-ex", c]), elf]);
  const timer = setTimeout(() => {
    gdb.child.kill("SIGKILL");
    vm.child.kill("SIGKILL");
  }, 120_000);
  const [g, v] = await Promise.all([gdb.done, vm.done]);
  clearTimeout(timer);
  return { gdb: g.stdout + g.stderr, vm: v };
}

export class RawClient {
  private buffered = "";
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (d) => {
      this.buffered += d.toString("latin1");
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async connect(port: number): Promise<RawClient> {
    for (let attempt = 0; ; attempt++) {
      try {
        const sock = net.connect(port, "127.0.0.1");
        await new Promise<void>((resolve, reject) => {
          sock.once("connect", resolve);
          sock.once("error", reject);
        });
        return new RawClient(sock);
      } catch (e) {
        if (attempt > 150) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  send(p: string): void {
    let sum = 0;
    for (const c of Buffer.from(p, "latin1")) sum += c;
    this.sock.write(`$${p}#${(sum & 0xff).toString(16).padStart(2, "0")}`);
  }

  raw(b: string): void {
    this.sock.write(b);
  }

  async reply(): Promise<string> {
    for (;;) {
      const m = /\$([^#]*)#[0-9a-f]{2}/.exec(this.buffered);
      if (m) {
        this.buffered = this.buffered.slice(m.index + m[0].length);
        this.sock.write("+");
        return m[1];
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async ask(p: string): Promise<string> {
    this.send(p);
    return this.reply();
  }

  close(): void {
    this.sock.destroy();
  }
}

export function symbolAddress(prog: string, name: string): number {
  const r = spawnSync("riscv64-linux-gnu-nm", [prog], { encoding: "utf8" });
  const line = r.stdout.split("\n").find((l) => l.endsWith(` ${name}`));
  assert.ok(line, `${name} not in nm ${prog}: ${r.stderr}`);
  return parseInt(line.split(" ")[0], 16);
}

