/**
 * The monitor of `typevisor run`, on Ctrl-A c as QEMU's: a line-edited
 * prompt, "(typevisor) ", for commands about the VM itself rather than the
 * guest. It edits the line it is given byte by byte (echo, backspace,
 * Ctrl-U), then runs the command against the Vm and prints the answer.
 */
import type { SnapshotInfo } from "../vmm/snapshot.ts";
import type { VmState } from "../vmm/vm.ts";

export const PROMPT = "(typevisor) ";

/** What the monitor drives: the subset of Vm it needs. */
export interface MonitorVm {
  readonly state: VmState;
  pause(): Promise<void>;
  resume(): Promise<void>;
  save(file: string): Promise<SnapshotInfo>;
  stop(): Promise<void>;
}

const HELP = [
  "help                 list these commands",
  "info status          show whether the VM runs or is paused",
  "stop                 pause the VM (guest time stands still)",
  "cont                 continue a paused VM",
  "save FILE            save the whole VM to FILE (typevisor run --restore FILE resumes it)",
  "quit                 end the VM and typevisor",
  "C-a c                back to the guest console",
];

export class Monitor {
  private line = "";
  /** Typed input, edited and run in order: what is typed during a command waits for it. */
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly vm: MonitorVm,
    private readonly write: (text: string) => void,
  ) {}

  /** Shown when the user switches to the monitor. */
  enter(): void {
    this.write(`\r\nTypevisor monitor - type 'help' for more information\r\n${PROMPT}${this.line}`);
  }

  /** Keyboard bytes typed while the monitor is shown; they wait while a command runs. */
  input(bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.busy = this.busy.then(() => this.edit(copy));
  }

  /** Resolves once every command typed so far has finished. */
  settled(): Promise<void> {
    return this.busy;
  }

  private async edit(bytes: Uint8Array): Promise<void> {
    for (const byte of bytes) {
      if (byte === 0x0d || byte === 0x0a) {
        const command = this.line.trim();
        this.line = "";
        this.write("\r\n");
        await this.run(command);
        if (this.vm.state === "stopped" || this.vm.state === "crashed") return; // quit: no more prompts
        this.write(PROMPT);
      } else if (byte === 0x7f || byte === 0x08) {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          this.write("\b \b");
        }
      } else if (byte === 0x15) {
        this.write("\b \b".repeat(this.line.length));
        this.line = "";
      } else if (byte >= 0x20 && byte < 0x7f) {
        this.line += String.fromCharCode(byte);
        this.write(String.fromCharCode(byte));
      }
    }
  }

  private async run(command: string): Promise<void> {
    const [name, ...args] = command.split(/\s+/);
    try {
      switch (name) {
        case "":
          return;
        case "help":
        case "?":
          this.print(HELP.join("\n"));
          return;
        case "info":
          if (args[0] === "status") this.print(`VM status: ${this.vm.state}`);
          else this.print("info: expected 'info status'");
          return;
        case "stop":
          if (this.vm.state === "running") await this.vm.pause();
          return;
        case "cont":
        case "c":
          if (this.vm.state === "paused") await this.vm.resume();
          return;
        case "save": {
          if (args.length !== 1) {
            this.print("save: expected 'save FILE'");
            return;
          }
          const info = await this.vm.save(args[0]);
          this.print(`saved ${args[0]}: ${(info.bytes / 2 ** 20).toFixed(1)} MiB, ${info.ramPages} RAM pages, ${info.ms.toFixed(0)} ms`);
          return;
        }
        case "quit":
        case "q":
          await this.vm.stop();
          return;
        default:
          this.print(`unknown command: '${name}'; 'help' lists the commands`);
      }
    } catch (e) {
      this.print(`${name}: ${(e as Error).message}`);
    }
  }

  private print(text: string): void {
    this.write(`${text.replace(/\n/g, "\r\n")}\r\n`);
  }
}
