/**
 * The default Linux guest in this process (as src/cli/run-command.ts builds
 * it: built-in SBI, data disk, null NIC, rng), with a console driven from
 * the test through the machine's UART. Waits have a hang guard only.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../src/guest/default-guest.ts";
import { VirtMachine } from "../../src/machine/virt-machine.ts";
import type { BlockBackend } from "../../src/backends/block/block-backend.ts";
import { RawFileBackend } from "../../src/backends/block/raw-file.ts";
import { NullEthernetBackend } from "../../src/backends/net/null.ts";
import { VirtioBlk, VirtioNet, VirtioRng } from "../../src/devices/virtio/index.ts";
import { DEFAULT_PROMPT } from "../support/guest-console.ts";

const HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;

export interface GuestFiles {
  kernel: Uint8Array;
  initrd: Uint8Array;
  append: string;
  readyMarker: string;
  /** A private writable copy of the data disk. */
  disk: string;
}

/** The default guest's files, with the data disk copied into `dir`. */
export async function guestFiles(dir: string): Promise<GuestFiles> {
  const guest = await ensureDefaultGuest({ quiet: true });
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = join(dir, "data.ext4");
  copyFileSync(guest.disk, disk);
  return {
    kernel: readFileSync(guest.kernel),
    initrd: readFileSync(guest.initrd),
    append: manifest.append,
    readyMarker: manifest.readyMarker,
    disk,
  };
}

/** A guest machine and its console. */
export class LinuxGuest {
  readonly machine: VirtMachine;
  /** Everything the console printed. */
  out = "";
  running: Promise<number> | null = null;
  private waiter: (() => void) | null = null;

  /** Builds the machine (boot: false for a restore); start() runs it. */
  constructor(files: GuestFiles, opts: { boot?: boolean; mac?: string; disks?: BlockBackend[] } = {}) {
    this.machine = new VirtMachine({
      firmware: { kind: "builtin" },
      kernel: { name: "Image", bytes: files.kernel },
      initrd: { name: "initramfs", bytes: files.initrd },
      bootargs: files.append,
      boot: opts.boot,
      virtio: [
        new VirtioBlk({ backend: RawFileBackend.open(files.disk) }),
        ...(opts.disks ?? []).map((backend) => new VirtioBlk({ backend })),
        new VirtioNet({ backend: new NullEthernetBackend(), mac: opts.mac }),
        new VirtioRng(),
      ],
      serial: {
        write: (d) => {
          this.out += Buffer.from(d).toString("latin1");
          this.waiter?.();
        },
      },
    });
  }

  private static readonly live = new Set<LinuxGuest>();

  start(): this {
    this.running = this.machine.run();
    LinuxGuest.live.add(this);
    return this;
  }

  /** Ends the machine's run and lets go of its files. */
  async stop(): Promise<void> {
    LinuxGuest.live.delete(this);
    this.machine.quit(0);
    await this.running;
    this.machine.close();
  }

  /** Stops every guest still running (after a failed test). */
  static async stopAll(): Promise<void> {
    await Promise.allSettled([...LinuxGuest.live].map((g) => g.stop()));
  }

  /** Resolves with the console text from `from` once `pattern` appears in it. */
  async waitFor(pattern: RegExp | string, from = 0): Promise<string> {
    const deadline = Date.now() + HANG_GUARD_MS;
    for (;;) {
      const text = this.out.slice(from);
      if (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`hang guard: no ${pattern} on the console; it shows:\n${this.out.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  type(text: string): void {
    this.machine.sendInput(new TextEncoder().encode(text));
  }

  /** Runs a shell command; resolves with its output (CR removed). */
  async run(command: string): Promise<string> {
    const from = this.out.length;
    // Quotes split the markers so the echoed command line cannot match them.
    this.type(`echo BEG''IN; ${command}; echo EN''D\n`);
    const text = await this.waitFor(/END\r?\n[^]*# $/, from);
    const body = text.replace(/\r/g, "");
    return body.slice(body.indexOf("BEGIN\n") + 6, body.lastIndexOf("END\n"));
  }

  /** Waits for the boot to reach the shell. */
  async booted(readyMarker: string): Promise<void> {
    await this.waitFor(readyMarker);
    await this.waitFor(DEFAULT_PROMPT, this.out.indexOf(readyMarker));
  }
}
