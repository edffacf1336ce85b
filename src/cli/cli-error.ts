/** A mistake in what the user asked for; the CLI prints its message alone. */
export class CliError extends Error {
  override name = "CliError";
}
