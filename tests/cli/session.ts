/** Runs `typevisor` (or QEMU, the reference) as a child process and talks to its console. */
import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { REPO_ROOT } from "../support/toolchain.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class Session {
  stdout = "";
  stderr = "";
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private waiters: { text: string; resolve: () => void }[] = [];

  /** `env`: variables to set (undefined: unset) on top of this process's environment. */
  constructor(command: string, args: string[], env: Record<string, string | undefined> = {}) {
    this.child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    this.child.stdout!.setEncoding("latin1").on("data", (s: string) => {
      this.stdout += s;
      this.waiters = this.waiters.filter((w) => !(this.stdout.includes(w.text) && (w.resolve(), true)));
    });
    this.child.stderr!.setEncoding("latin1").on("data", (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("close", (code, signal) => {
        for (const w of this.waiters) w.resolve();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves once the console has printed `text` (or the process ended). */
  waitFor(text: string): Promise<void> {
    if (this.stdout.includes(text)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ text, resolve }));
  }

  write(data: string): void {
    this.child.stdin!.write(Buffer.from(data, "latin1"));
  }

  end(): void {
    this.child.stdin!.end();
  }
}

export function typevisor(...args: string[]): Session {
  return new Session(process.execPath, [TYPEVISOR_BIN, ...args]);
}

export function typevisorWithEnv(env: Record<string, string | undefined>, ...args: string[]): Session {
  return new Session(process.execPath, [TYPEVISOR_BIN, ...args], env);
}

/** `typevisor run --bios none --kernel ELF ...` */
export function bareMetal(elf: string, ...args: string[]): Session {
  return typevisor("run", "--bios", "none", ...args, "--kernel", elf);
}

export function qemuBareMetal(elf: string, ...args: string[]): Session {
  return new Session("qemu-system-riscv64", ["-M", "virt", "-nographic", "-bios", "none", ...args, "-kernel", elf]);
}

export function hasQemu(): boolean {
  try {
    execFileSync("qemu-system-riscv64", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
