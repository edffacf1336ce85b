// Boots the default guest on the reference machine, QEMU's `virt` board, and
// drives its console: this proves the image that Typevisor itself must boot.
// Builds the guest first when the cache lacks it (several minutes, once).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ensureDefaultGuest,
  readDefaultGuestManifest,
  type DefaultGuest,
  type DefaultGuestManifest,
} from "../../src/guest/default-guest.ts";

const QEMU = "qemu-system-riscv64";
const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
const PROMPT = /typevisor:[^\n]*# $/;
const BOOT_TIMEOUT_MS = 60_000;
const COMMAND_TIMEOUT_MS = 30_000;

const missingQemu = spawnSync(QEMU, ["--version"]).status === 0 ? false : `${QEMU} is not installed`;

/** One QEMU run with the guest's serial console on stdin/stdout. */
class QemuGuest {
  output = "";
  private commands = 0;
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly exit: Promise<number | null>;
  private waiter: (() => void) | undefined;

  constructor(guest: DefaultGuest, manifest: DefaultGuestManifest, extraArgs: string[] = []) {
    const args = ["-M", "virt", "-m", "256M", "-nographic", "-kernel", guest.kernel,
      "-initrd", guest.initrd, "-append", manifest.append, ...extraArgs];
    this.process = spawn(QEMU, args, { stdio: "pipe" });
    this.process.stdout.setEncoding("utf8").on("data", (chunk: string) => this.append(chunk));
    this.process.stderr.setEncoding("utf8").on("data", (chunk: string) => this.append(chunk));
    this.exit = new Promise((resolve) => this.process.on("exit", (code) => {
      this.waiter?.();
      resolve(code);
    }));
  }

  private append(chunk: string): void {
    this.output += chunk.replace(/\r/g, "");
    this.waiter?.();
  }

  /** Waits until the console output, from `from` on, matches `pattern`. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output.slice(from))) {
      if (this.process.exitCode !== null) {
        assert.fail(`QEMU exited before ${pattern} appeared; console:\n${this.output}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${pattern}; console:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits for the shell prompt after the ready marker. */
  async waitForShell(marker: string): Promise<void> {
    await this.waitFor(new RegExp(`${marker}\\n`), 0, BOOT_TIMEOUT_MS);
    await this.waitFor(PROMPT, this.output.indexOf(marker));
  }

  /** Sends raw bytes to the console; returns where the output stood. */
  send(bytes: string): number {
    const from = this.output.length;
    this.process.stdin.write(bytes);
    return from;
  }

  /** Types a line; returns where the output stood. */
  type(line: string): number {
    return this.send(`${line}\n`);
  }

  /**
   * Runs a command and returns what it printed. Its output is framed by
   * marker lines that the echo of the typed line cannot contain (the shell
   * joins `BEGIN''-1` into `BEGIN-1`), so terminal echo, which may come
   * before or after a prompt depending on timing, never leaks in.
   */
  async run(command: string): Promise<string> {
    const id = ++this.commands;
    const from = this.type(`echo TV-BEGIN''-${id}; ${command}; echo TV-END''-${id}`);
    const framed = new RegExp(`TV-BEGIN-${id}\n([^]*?)TV-END-${id}\n`);
    await this.waitFor(framed, from);
    return framed.exec(this.output.slice(from))?.[1] ?? "";
  }

  /** Waits for QEMU to exit on its own and returns its exit status. */
  async exited(timeoutMs = COMMAND_TIMEOUT_MS): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const result = await Promise.race([this.exit, timeout]);
    clearTimeout(timer);
    if (result === "timeout") assert.fail(`QEMU did not exit; console:\n${this.output}`);
    return result;
  }

  kill(): void {
    if (this.process.exitCode === null) this.process.kill("SIGKILL");
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("default guest on QEMU virt", { skip: missingQemu }, () => {
  let guest: DefaultGuest;
  let manifest: DefaultGuestManifest;
  const running: QemuGuest[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "typevisor-qemu-boot-"));

  function boot(extraArgs: string[] = []): QemuGuest {
    const qemu = new QemuGuest(guest, manifest, extraArgs);
    running.push(qemu);
    return qemu;
  }

  before(async () => {
    guest = await ensureDefaultGuest();
    manifest = readDefaultGuestManifest(guest.dir);
  });

  after(() => {
    for (const qemu of running) qemu.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("boots to a shell, answers uname and cpuinfo, and powers off", async () => {
    const qemu = boot();
    await qemu.waitForShell(manifest.readyMarker);
    qemu.type("uname -a; cat /proc/cpuinfo; echo /sys/bus/virtio/drivers/*; cat /sys/class/rtc/rtc0/name; poweroff");
    assert.equal(await qemu.exited(), 0);
    const out = qemu.output;
    assert.match(out, new RegExp(`Linux typevisor ${escape(manifest.kernelRelease)} #1 SMP .* riscv64 GNU/Linux`));
    assert.match(out, /processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc/);
    assert.match(out, /mmu\t\t: sv\d\d/);
    for (const driver of ["virtio_blk", "virtio_console", "virtio_net", "virtio_rng"]) {
      assert.match(out, new RegExp(`\\b${driver}\\b`), `driver ${driver} is registered`);
    }
    assert.match(out, /goldfish_rtc/);
    assert.match(out, /reboot: Power down/);
    assert.doesNotMatch(out, /job control turned off|can't access tty|Kernel panic/);
  });

  test("writes to the ext4 data disk and leaves it clean for the host", async () => {
    const disk = join(scratch, "data.ext4");
    copyFileSync(guest.disk, disk);
    const qemu = boot(["-drive", `file=${disk},format=raw,if=none,id=d0`, "-device", "virtio-blk-device,drive=d0"]);
    await qemu.waitForShell(manifest.readyMarker);
    assert.match(await qemu.run("mount -t ext4 /dev/vda /mnt && echo mounted"), /^mounted$/m);
    const known = await qemu.run(`cat /mnt${manifest.dataDiskFile.path}`);
    assert.ok(known.includes(manifest.dataDiskFile.text), `the disk holds ${manifest.dataDiskFile.path}`);
    await qemu.run("echo written by the guest > /mnt/from-guest.txt && sync");
    // No umount: the guest's shutdown must unmount the disk by itself.
    qemu.type("poweroff");
    assert.equal(await qemu.exited(), 0);

    const written = spawnSync("debugfs", ["-R", "cat /from-guest.txt", disk], { encoding: "utf8" });
    assert.equal(written.stdout, "written by the guest\n", written.stderr);
    const check = spawnSync("e2fsck", ["-fn", disk], { encoding: "utf8" });
    assert.equal(check.status, 0, `e2fsck found problems:\n${check.stdout}${check.stderr}`);
    assert.ok(existsSync(guest.disk), "the pristine disk stays in the cache");
  });

  test("the shell has job control: Ctrl-C stops a foreground command", async () => {
    const qemu = boot();
    await qemu.waitForShell(manifest.readyMarker);
    const command = "echo sleeping; sleep 600";
    const from = qemu.type(command);
    await qemu.waitFor(/\nsleeping\n/, from);
    await new Promise((resolve) => setTimeout(resolve, 500));
    qemu.send("\x03");
    await qemu.waitFor(PROMPT, from + command.length + 1);
    assert.match(await qemu.run("echo still here"), /^still here$/m);
    qemu.type("exit");
    assert.equal(await qemu.exited(), 0, "leaving the console shell powers the machine off");
  });

  test("reboot resets the machine", async () => {
    const qemu = boot(["-no-reboot"]);
    await qemu.waitForShell(manifest.readyMarker);
    qemu.type("reboot");
    assert.equal(await qemu.exited(), 0);
    assert.match(qemu.output, /reboot: Restarting system/);
  });

  test("boots two harts on Debian's OpenSBI fw_dynamic", {
    skip: existsSync(DEBIAN_OPENSBI) ? false : `${DEBIAN_OPENSBI} is missing (package opensbi)`,
  }, async () => {
    const qemu = boot(["-bios", DEBIAN_OPENSBI, "-smp", "2"]);
    await qemu.waitForShell(manifest.readyMarker);
    assert.match(await qemu.run("nproc"), /^2$/m);
    qemu.type("poweroff");
    assert.equal(await qemu.exited(), 0);
    assert.match(qemu.output, /OpenSBI v1\.1/);
  });
});
