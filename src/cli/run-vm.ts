/**
 * `typevisor run` on a Vm: the VM's console on this terminal (Terminal, with
 * the monitor on Ctrl-A c), its exit code as the process's exit status.
 */
import { GdbListenError, Vm, type VmOptions } from "../vmm/vm.ts";
import type { VmConfig } from "../vmm/config.ts";
import { CliError } from "./cli-error.ts";
import { Monitor } from "./monitor.ts";
import { Terminal } from "./terminal.ts";

/** What to run: a config to boot, or a snapshot file to resume (--restore). */
export type RunSource = { config: VmConfig } | { restore: string };

/** Runs the VM on this terminal until it ends; resolves to the process exit status. */
export async function runOnTerminal(source: RunSource, options: VmOptions = {}): Promise<number> {
  let vm: Vm;
  try {
    // From the command line a damaged snapshot is refused up front, never found half-way through a session.
    vm = "restore" in source ? await Vm.restore(source.restore, { ...options, verify: true }) : await Vm.create(source.config, options);
  } catch (e) {
    if (e instanceof GdbListenError) throw new CliError(`--gdb tcp::${options.gdb?.port}: ${e.message}`);
    if ("restore" in source) throw new CliError(`--restore ${source.restore}: ${(e as Error).message}`);
    throw e;
  }
  const stdin = process.stdin;
  const monitor = new Monitor(vm, (text) => process.stdout.write(text));
  const terminal = new Terminal(
    {
      // A guest that does not read its console holds up the keyboard, not host memory.
      sendInput: (data) => {
        if (!vm.console.write(data)) {
          stdin.pause();
          vm.console.once("drain", () => stdin.resume());
        }
      },
      quit: () => void vm.stop(),
    },
    stdin,
    process.stdout,
    process.stderr,
    monitor,
  );
  terminal.showOutput(vm.console);
  terminal.start();
  try {
    if (vm.state === "created") await vm.start();
    const code = await vm.waitForExit();
    // As QEMU's exit(code): the OS keeps the low 8 bits.
    return code & 0xff;
  } finally {
    terminal.stop();
    await terminal.flush();
  }
}
