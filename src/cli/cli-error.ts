/**
 * A mistake in what the user asked for, or a refusal from the daemon; the CLI
 * prints its message alone and exits with `exitCode` (see docs/cli.md).
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(message: string, readonly exitCode: number = 1) {
    super(message);
  }
}
