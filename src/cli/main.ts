/**
 * The `typevisor` command line. Each subcommand lives in its own module and
 * registers itself here. Any failure ends in one line on stderr and exit
 * status 1, or the CliError's own status (the stack only with TYPEVISOR_DEBUG=1).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerExecCommand } from "./exec-command.ts";
import { qemuStyleArgs } from "./qemu-args.ts";
import { CliError } from "./cli-error.ts";
import { registerImageCommand } from "./image-command.ts";
import { registerImgCommand } from "./img-command.ts";
import { registerNetCommand } from "./net-command.ts";
import { registerRunCommand } from "./run-command.ts";
import { registerServeCommand } from "./serve-command.ts";
import { registerTokenCommand } from "./token-command.ts";
import { registerVmCommand } from "./vm-command.ts";
import { escapeText } from "../util/escape-text.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("typevisor")
  .description("a type-2 hypervisor for RISC-V virtual machines")
  .version(version, "-V, --version", "print the version")
  .showHelpAfterError(false)
  .exitOverride()
  // One line, with the user's bytes escaped (an option value may hold control characters).
  .configureOutput({
    outputError: (text, write) =>
      write(`typevisor: ${escapeText(text.replace(/^error: /, "").replace(/\n$/, "").replaceAll("\n(", " ("))}\n`),
  });

registerRunCommand(program);
registerExecCommand(program);
registerImgCommand(program);
registerServeCommand(program);
registerVmCommand(program);
registerImageCommand(program);
registerNetCommand(program);
registerTokenCommand(program);

const args = qemuStyleArgs(process.argv.slice(2));
try {
  // Bare `typevisor` is a question, not a mistake: help on stdout, status 0.
  if (args.length === 0) program.outputHelp();
  else await program.parseAsync(args, { from: "user" });
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander has printed its message (or help/version) already.
    process.exitCode = e.exitCode;
  } else {
    const err = e as Error;
    // Messages quote paths, ELF contents and option values: escaped, so they stay one harmless line.
    process.stderr.write(`typevisor: ${escapeText(err?.message ?? String(e))}\n`);
    if (process.env.TYPEVISOR_DEBUG) process.stderr.write(`${err?.stack ?? ""}\n`);
    process.exitCode = e instanceof CliError ? e.exitCode : 1;
  }
}
