/**
 * `--jit <off|on|force>` for run and exec: sets TYPEVISOR_JIT for the VM
 * this process starts (its worker inherits the environment). docs/jit.md.
 */
import { parseJitMode } from "../jit/config.ts";
import { CliError } from "./cli-error.ts";

export const JIT_FLAG = "--jit <off|on|force>";
export const JIT_FLAG_HELP = "the JIT from RISC-V to WebAssembly: off (default), on (hot pages), force (every page; for tests) — env TYPEVISOR_JIT";

export function applyJitFlag(value: string | undefined): void {
  if (value === undefined) return;
  try {
    process.env.TYPEVISOR_JIT = parseJitMode(value);
  } catch {
    throw new CliError(`--jit ${value}: expected off, on or force`);
  }
}
