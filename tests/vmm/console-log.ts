/** Collects a Vm's console output and waits for text in it (with a hang guard that shows the output so far). */
import type { Vm } from "../../src/vmm/vm.ts";

const HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;

export class ConsoleLog {
  text = "";
  private waiters = new Set<() => void>();

  constructor(readonly vm: Vm) {
    vm.console.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("latin1");
      for (const wake of this.waiters) wake();
    });
    vm.console.on("end", () => {
      for (const wake of this.waiters) wake();
    });
  }

  /** Resolves with the match once the output from `from` on matches `pattern`. */
  async waitFor(pattern: RegExp | string, from = 0): Promise<RegExpExecArray> {
    const re = typeof pattern === "string" ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : pattern;
    const deadline = performance.now() + HANG_GUARD_MS;
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) {
        m.index += from;
        return m;
      }
      if (this.vm.console.readableEnded || performance.now() > deadline) {
        throw new Error(`no ${re} in the console (VM ${this.vm.state}${this.vm.crashReason ? `: ${this.vm.crashReason}` : ""}):\n${this.text.slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, 1000);
        this.waiters.add(wake);
      });
    }
  }

  /** Types `input` and waits for `reply` after it. */
  async ask(input: string, reply: RegExp | string): Promise<RegExpExecArray> {
    const from = this.text.length;
    this.vm.console.write(input);
    return this.waitFor(reply, from);
  }
}
