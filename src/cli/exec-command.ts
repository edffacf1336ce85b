/**
 * `typevisor exec [options] PROGRAM [ARGS...]`: runs one riscv64 Linux
 * program on this host with its system calls served by Typevisor (what
 * qemu-riscv64 does). Exits with the program's status (128 + n when a
 * signal ended it; a program ended by SIGINT ends typevisor by SIGINT).
 *
 * When stdin is a terminal, Ctrl-C and Ctrl-\ do not end typevisor: their
 * SIGINT / SIGQUIT go to the guest's foreground process group (also while
 * the guest has the terminal in non-canonical mode, see procvm/terminal.ts),
 * and typevisor exits when the guest does.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import * as tty from "node:tty";
import type { Command } from "commander";
import { GdbStub } from "../debug/gdb-stub.ts";
import { ExecError } from "../procvm/exec-image.ts";
import { ProcessVmTarget } from "../procvm/gdb-target.ts";
import { ProcessVm } from "../procvm/kernel.ts";
import { SIGINT, SIGQUIT } from "../procvm/signals.ts";
import { restoreHostTerminal, setTerminalSignalHandler } from "../procvm/terminal.ts";
import { CliError } from "./cli-error.ts";
import { applyJitFlag, JIT_FLAG, JIT_FLAG_HELP } from "./jit-flag.ts";
import { parseSize } from "./size.ts";
import { collect } from "./repeatable-option.ts";

/** Debian's libc6-riscv64-cross sysroot, used when -L / TYPEVISOR_LD_PREFIX say nothing. */
export const DEFAULT_LD_PREFIX = "/usr/riscv64-linux-gnu";

export interface ExecFlags {
  jit?: string;
  ldPrefix?: string;
  env: string[];
  unsetEnv: string[];
  argv0?: string;
  traceSyscalls?: boolean;
  memory: string;
  gdb?: string;
}

export function registerExecCommand(program: Command): void {
  // Options after PROGRAM belong to the guest program, not to us.
  program.enablePositionalOptions();
  program
    .command("exec")
    .description("run a riscv64 Linux program (static or dynamic) on this host, like qemu-riscv64")
    .argument("<program>", "the riscv64 ELF (or #! script) to run")
    .argument("[args...]", "its arguments")
    .option("-L, --ld-prefix <DIR>", `sysroot for the ELF interpreter and libraries (env TYPEVISOR_LD_PREFIX; default ${DEFAULT_LD_PREFIX} if present, '' for none)`)
    .option("-E, --env <VAR=VALUE>", "set a variable in the program's environment (repeatable)", collect, [])
    .option("-U, --unset-env <VAR>", "remove a variable from the program's environment (repeatable)", collect, [])
    .option("-0, --argv0 <NAME>", "argv[0] for the program (default: PROGRAM as given)")
    .option("--trace-syscalls", "print every system call to stderr (strace-like); unimplemented ones are flagged once")
    .option("-m, --memory <SIZE>", "guest memory pool for all its processes, e.g. 512M or 2G", "1G")
    .option("-g, --gdb <PORT>", "wait for gdb on 127.0.0.1:PORT before the first instruction (env TYPEVISOR_GDB), like qemu-riscv64 -g")
    .option(JIT_FLAG, JIT_FLAG_HELP)
    .passThroughOptions()
    .action(async (prog: string, args: string[], flags: ExecFlags) => {
      const { code, signal } = await execCommand(prog, args, flags);
      // Die of SIGINT, as the program did, so that a calling shell stops its script or loop.
      if (signal === SIGINT) process.kill(process.pid, "SIGINT");
      process.exitCode = code;
    });
}

export function resolveLdPrefix(flag: string | undefined, env = process.env): string | null {
  const chosen = flag ?? env.TYPEVISOR_LD_PREFIX;
  if (chosen !== undefined) {
    if (chosen === "") return null;
    if (!fs.existsSync(chosen)) throw new CliError(`-L ${chosen}: no such directory`);
    return nodePath.resolve(chosen).replace(/\/+$/, "");
  }
  return fs.existsSync(DEFAULT_LD_PREFIX) ? DEFAULT_LD_PREFIX : null;
}

/** PROGRAM as the guest path to load: as given when it has a slash or exists here, else found on PATH. */
export function findProgram(prog: string, env = process.env): string {
  if (prog.includes("/") || fs.existsSync(prog)) return prog;
  for (const dir of (env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = nodePath.join(dir, prog);
    try {
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CliError(`${prog}: not found (give a path, or put it on PATH)`);
}

export function guestEnvironment(flags: Pick<ExecFlags, "env" | "unsetEnv">, env = process.env): string[] {
  const vars = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) if (v !== undefined) vars.set(k, v);
  for (const name of flags.unsetEnv) vars.delete(name);
  for (const assignment of flags.env) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new CliError(`-E ${assignment}: expected VAR=VALUE`);
    vars.set(assignment.slice(0, eq), assignment.slice(eq + 1));
  }
  return [...vars].map(([k, v]) => `${k}=${v}`);
}

/** The terminal signals forwarded to the guest when stdin is a terminal. */
const TERMINAL_SIGNALS: Array<[NodeJS.Signals, number]> = [["SIGINT", SIGINT], ["SIGQUIT", SIGQUIT]];

/** Runs the program; resolves to typevisor's exit code and the signal that ended the program (0 if none). */
export async function execCommand(prog: string, args: string[], flags: ExecFlags): Promise<{ code: number; signal: number }> {
  applyJitFlag(flags.jit);
  const memoryBytes = parseSize(flags.memory);
  if (memoryBytes === null || memoryBytes < 16 << 20 || memoryBytes > 3 * 2 ** 30) {
    throw new CliError(`--memory ${flags.memory}: expected a size from 16M to 3G`);
  }
  const path = findProgram(prog);
  const vm = new ProcessVm({
    memoryBytes,
    ldPrefix: resolveLdPrefix(flags.ldPrefix),
    traceSyscalls: flags.traceSyscalls === true,
  });
  try {
    vm.spawn(path, [flags.argv0 ?? prog, ...args], guestEnvironment(flags));
  } catch (e) {
    if (e instanceof ExecError) throw new CliError(`cannot run ${prog}: ${e.message}`);
    throw e;
  }
  const gdb = await startGdbStub(vm, flags.gdb ?? process.env.TYPEVISOR_GDB);
  const terminal = tty.isatty(0);
  const handlers = terminal ? TERMINAL_SIGNALS.map(([name, sig]) => [name, () => vm.terminalSignal(sig)] as const) : [];
  for (const [name, handler] of handlers) process.on(name, handler);
  if (terminal) setTerminalSignalHandler((sig) => vm.terminalSignal(sig));
  try {
    const code = await vm.run();
    gdb?.target.finish();
    return { code, signal: vm.initialWaitStatus & 0x7f };
  } finally {
    gdb?.stub.close();
    for (const [name, handler] of handlers) process.off(name, handler);
    setTerminalSignalHandler(null);
    restoreHostTerminal();
  }
}

/** With -g PORT: the program waits, before its first instruction, for a debugger on 127.0.0.1:PORT. */
async function startGdbStub(vm: ProcessVm, port: string | undefined): Promise<{ stub: GdbStub; target: ProcessVmTarget } | null> {
  if (port === undefined || port === "") return null;
  const n = /^\d+$/.test(port) ? Number(port) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new CliError(`-g ${port}: expected a TCP port number (1-65535)`);
  const target = new ProcessVmTarget(vm);
  const stub = new GdbStub(target);
  try {
    await stub.listen(n);
  } catch (e) {
    throw new CliError(`-g ${port}: cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`);
  }
  return { stub, target };
}
