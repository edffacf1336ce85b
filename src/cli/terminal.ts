/**
 * Connects a machine's serial port to this process's stdin/stdout, with
 * QEMU's -nographic escapes on input: Ctrl-A x quits, Ctrl-A Ctrl-A sends
 * one Ctrl-A, Ctrl-A h lists the escapes.
 */
import type { SerialSink } from "../machine/virt-machine.ts";

const CTRL_A = 0x01;

export interface SerialTarget {
  sendInput(data: Uint8Array): void;
  quit(code?: number): void;
}

export class Terminal {
  private escape = false;
  private rawMode = false;
  private readonly onData = (chunk: Buffer) => this.input(chunk);
  /** Killed while in raw mode: restore the terminal, then die of the same signal. */
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.stop();
    process.kill(process.pid, signal);
  };

  constructor(
    private readonly target: SerialTarget,
    private readonly stdin: NodeJS.ReadStream = process.stdin,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** The UART's output side. */
  readonly sink: SerialSink = {
    write: (data) => {
      this.stdout.write(data);
    },
    backpressure: () =>
      this.stdout.writableNeedDrain ? new Promise<void>((resolve) => this.stdout.once("drain", () => resolve())) : null,
  };

  start(): void {
    if (this.stdin.isTTY) {
      this.stdin.setRawMode(true);
      this.rawMode = true;
      process.once("SIGTERM", this.onSignal).once("SIGHUP", this.onSignal);
    }
    this.stdin.on("data", this.onData);
    this.stdin.resume();
  }

  /** Restores the terminal and lets go of stdin so the process can exit. */
  stop(): void {
    this.stdin.off("data", this.onData);
    if (this.rawMode) {
      this.stdin.setRawMode(false);
      process.off("SIGTERM", this.onSignal).off("SIGHUP", this.onSignal);
    }
    this.rawMode = false;
    this.stdin.pause();
  }

  /** Resolves once everything written so far has reached the OS. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.stdout.write("", () => resolve()));
  }

  private input(chunk: Uint8Array): void {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.escape) {
        this.escape = false;
        from = i + 1;
        if (byte === CTRL_A) this.target.sendInput(Uint8Array.of(CTRL_A));
        else this.command(byte);
      } else if (byte === CTRL_A) {
        if (i > from) this.target.sendInput(chunk.subarray(from, i));
        this.escape = true;
        from = i + 1;
      }
    }
    if (from < chunk.length) this.target.sendInput(chunk.subarray(from));
  }

  private command(byte: number): void {
    switch (String.fromCharCode(byte)) {
      case "x":
        this.stderr.write("typevisor: terminated\r\n");
        this.target.quit(0);
        break;
      case "h":
        this.stderr.write("\r\nC-a h    print this help\r\nC-a x    exit\r\nC-a C-a  send C-a\r\n");
        break;
    }
  }
}
