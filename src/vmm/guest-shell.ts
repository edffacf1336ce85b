/**
 * Runs shell commands in a guest through its serial console, for programs
 * that use a VM as a sandbox: wait for the shell, type a command line, get
 * back exactly what it printed and its exit status. Each command is
 * bracketed by two echo markers (split by empty quotes as typed, so the
 * terminal's echo of the line never matches them).
 */
import type { Vm } from "./vm.ts";

export interface ShellResult {
  /** What the command printed (stdout and stderr, as the console shows them), carriage returns removed. */
  output: string;
  /** Its exit status. */
  status: number;
}

/** The default guest's prompt (PS1='\h:\w# ' with hostname typevisor). */
const DEFAULT_PROMPT = /typevisor:[^\n]*# /;

export class GuestShell {
  /** Console output so far, carriage returns removed. */
  text = "";
  private sequence = 0;
  private readonly nonce = Math.random().toString(36).slice(2, 8);
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly vm: Vm,
    private readonly prompt: RegExp = DEFAULT_PROMPT,
  ) {
    vm.console.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("latin1").replace(/\r/g, "");
      this.notify();
    });
    vm.console.on("end", () => this.notify());
  }

  /**
   * Waits until a freshly booted guest has printed `marker` and then its
   * first prompt, then turns the kernel's informational console messages
   * off (`dmesg -n 5`: warnings and worse still show), so that a message
   * such as eth0's "link becomes ready" never lands inside a command's output.
   */
  async ready(marker: string): Promise<void> {
    const m = await this.waitFor(new RegExp(`${marker}\n`), 0);
    await this.waitFor(this.prompt, m.index);
    await this.run("dmesg -n 5");
  }

  /**
   * Runs one command line and resolves when it has finished. It goes between
   * two echo commands on one line, so it must be a plain list: no trailing
   * `&` (write `job & true`) or `#`.
   */
  async run(command: string): Promise<ShellResult> {
    const n = ++this.sequence;
    const begin = `TVB-${this.nonce}-${n}`;
    const end = `TVE-${this.nonce}-${n}`;
    const split = (marker: string) => `${marker.slice(0, 3)}""${marker.slice(3)}`;
    const from = this.text.length;
    this.vm.console.write(`echo ${split(begin)}; ${command}; echo "${split(end)} $?"\n`);
    // A prompt before a marker: the shell abandoned the line (a syntax error, `exit`), so no end marker comes.
    const abandoned = (at: number) => new Error(`the shell abandoned \`${command}\`: ${this.text.slice(at).trim()}`);
    const b = await this.waitFor(new RegExp(`${begin}\n|${this.prompt.source}`), from);
    if (!b[0].startsWith(begin)) throw abandoned(from);
    const e = await this.waitFor(new RegExp(`${end} (\\d+)\n|${this.prompt.source}`), b.index);
    if (e[1] === undefined) throw abandoned(b.index);
    await this.waitFor(this.prompt, e.index);
    return { output: this.text.slice(b.index + b[0].length, e.index), status: Number(e[1]) };
  }

  private async waitFor(re: RegExp, from: number): Promise<RegExpExecArray> {
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) {
        m.index += from;
        return m;
      }
      if (this.vm.console.readableEnded) throw new Error(`the VM's console ended (VM ${this.vm.state}) before ${re} appeared`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
      });
    }
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
