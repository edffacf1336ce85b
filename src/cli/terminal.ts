/**
 * Connects a VM's serial console to this process's stdin/stdout, with
 * QEMU's -nographic escapes on input: Ctrl-A x quits, Ctrl-A c switches
 * between the guest console and the monitor, Ctrl-A Ctrl-A sends one
 * Ctrl-A, Ctrl-A h lists the escapes. While the monitor is shown the
 * guest's output waits (back-pressure on the guest, as QEMU's mux does).
 */
import type { Readable } from "node:stream";
import type { Monitor } from "./monitor.ts";

const CTRL_A = 0x01;

export interface SerialTarget {
  sendInput(data: Uint8Array): void;
  quit(code?: number): void;
}

export class Terminal {
  private escape = false;
  private rawMode = false;
  private inMonitor = false;
  private output: Readable | null = null;
  /** stdout asked us to wait: guest output resumes on its "drain". */
  private draining = false;
  private readonly onData = (chunk: Buffer) => this.input(chunk);
  private readonly onOutput = (chunk: Buffer) => {
    if (!this.stdout.write(chunk)) {
      this.draining = true;
      this.output?.pause();
      this.stdout.once("drain", () => {
        this.draining = false;
        this.resumeOutput();
      });
    }
  };
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
    private readonly monitor: Monitor | null = null,
  ) {}

  /** Shows the guest's console output (a VM's console stream) on stdout, at stdout's pace. */
  showOutput(output: Readable): void {
    this.output = output;
    output.on("data", this.onOutput);
  }

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

  /** Resolves once the guest's output has ended and everything written so far has reached the OS. */
  async flush(): Promise<void> {
    const output = this.output;
    if (output !== null && !output.readableEnded) {
      await new Promise<void>((resolve) => {
        output.once("end", resolve).once("close", resolve);
        output.resume();
      });
    }
    await new Promise<void>((resolve) => this.stdout.write("", () => resolve()));
  }

  private resumeOutput(): void {
    if (!this.inMonitor && !this.draining) this.output?.resume();
  }

  private input(chunk: Uint8Array): void {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.escape) {
        this.escape = false;
        from = i + 1;
        if (byte === CTRL_A) this.send(Uint8Array.of(CTRL_A));
        else this.command(byte);
      } else if (byte === CTRL_A) {
        if (i > from) this.send(chunk.subarray(from, i));
        this.escape = true;
        from = i + 1;
      }
    }
    if (from < chunk.length) this.send(chunk.subarray(from));
  }

  /** Typed bytes go to the guest, or to the monitor while it is shown. */
  private send(data: Uint8Array): void {
    if (this.inMonitor) this.monitor?.input(data);
    else this.target.sendInput(data);
  }

  private command(byte: number): void {
    switch (String.fromCharCode(byte)) {
      case "x":
        this.stderr.write("typevisor: terminated\r\n");
        this.target.quit(0);
        break;
      case "c":
        if (this.monitor === null) break;
        this.inMonitor = !this.inMonitor;
        if (this.inMonitor) {
          this.output?.pause();
          this.monitor.enter();
        } else {
          // After what the monitor still has to print (a command typed just before).
          void this.monitor.settled().then(() => {
            this.stdout.write("\r\n");
            this.resumeOutput();
          });
        }
        break;
      case "h":
        this.stderr.write(
          `\r\nC-a h    print this help\r\nC-a x    exit\r\n${this.monitor ? "C-a c    switch between console and monitor\r\n" : ""}C-a C-a  send C-a\r\n`,
        );
        break;
    }
  }
}
