/**
 * QEMU spells its long options with one dash (`-kernel Image -snapshot`);
 * Commander would read `-snapshot` as the short flags -s -n -a ... So before
 * parsing, the QEMU spellings `run` accepts become their `--` forms.
 */

/** QEMU options `typevisor run` takes under the same name, with one dash. */
const QEMU_LONG = new Set(["kernel", "initrd", "append", "bios", "drive", "device", "smp", "snapshot", "nographic", "machine", "gdb"]);
/** Options of `run` that take a value: the word after them is never rewritten. */
const TAKES_VALUE = new Set(["--bios", "--kernel", "--initrd", "--append", "-m", "--memory", "--smp", "--dumpdtb", "--drive", "--device", "--icount", "--net", "--gdb", "-M", "--machine"]);

/** `args` (after the program name) with the QEMU spellings of `run`'s options rewritten. */
export function qemuStyleArgs(args: readonly string[]): string[] {
  const run = args.findIndex((a) => !a.startsWith("-"));
  if (args[run] !== "run") return [...args];
  const out = args.slice(0, run + 1);
  for (let i = run + 1; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const option = /^-[a-z]{2,}$/.test(arg) && QEMU_LONG.has(arg.slice(1)) ? `-${arg}` : arg;
    out.push(option);
    if (TAKES_VALUE.has(option) && i + 1 < args.length) out.push(args[++i]);
  }
  return out;
}
