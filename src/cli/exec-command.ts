/**
 * `typevisor exec [options] PROGRAM [ARGS...]`: runs one riscv64 Linux
 * program on this host with its system calls served by Typevisor (what
 * qemu-riscv64 does). Exits with the program's status (128 + n when a
 * signal ended it).
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import type { Command } from "commander";
import { ExecError } from "../procvm/exec-image.ts";
import { ProcessVm } from "../procvm/kernel.ts";
import { CliError } from "./cli-error.ts";
import { parseSize } from "./size.ts";

/** Debian's libc6-riscv64-cross sysroot, used when -L / TYPEVISOR_LD_PREFIX say nothing. */
export const DEFAULT_LD_PREFIX = "/usr/riscv64-linux-gnu";

export interface ExecFlags {
  ldPrefix?: string;
  env: string[];
  unsetEnv: string[];
  argv0?: string;
  traceSyscalls?: boolean;
  memory: string;
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
    .passThroughOptions()
    .action((prog: string, args: string[], flags: ExecFlags) => {
      process.exitCode = execCommand(prog, args, flags);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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

export function execCommand(prog: string, args: string[], flags: ExecFlags): number {
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
  return vm.run();
}
