/**
 * What every daemon verb (vm, image, net, token) shares: the connection
 * options (--host, --token, --cacert, --data-dir), --output, and usage errors
 * that exit with status 2 rather than commander's 1.
 */
import { Command, CommanderError, Option } from "commander";
import { ApiClient } from "./client/api-client.ts";
import { resolveEndpoint, type ConnectionOptions } from "./client/endpoint.ts";
import { EXIT } from "./client/exit-codes.ts";
import type { OutputFormat } from "./api-output.ts";

export interface VerbOptions extends ConnectionOptions { output: OutputFormat }

/** A verb group (`typevisor vm`); its subcommands inherit the exit status rule. */
export function verbGroup(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .exitOverride((e) => {
      const ok = e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version";
      throw new CommanderError(ok ? EXIT.ok : EXIT.usage, e.code, e.message);
    });
}

/** A leaf verb with the connection and output options. */
export function verb(group: Command, name: string, description: string, opts: { isDefault?: boolean } = {}): Command {
  return group
    .command(name, opts)
    .description(description)
    .option("--host <URL>", "daemon address: https://HOST:PORT or unix:PATH (env TYPEVISOR_HOST; default: <data-dir>/api.sock)")
    .option("--token <TOKEN>", "API token (env TYPEVISOR_TOKEN); not needed on the Unix socket")
    .option("--cacert <FILE>", "CA certificate to trust for https (env TYPEVISOR_CACERT)")
    .option("--data-dir <DIR>", "the daemon's data directory, for its socket (env TYPEVISOR_DATA_DIR)")
    .addOption(new Option("-o, --output <FORMAT>", "table for people, json for scripts").choices(["table", "json"]).default("table"));
}

export function clientFor(o: ConnectionOptions): ApiClient {
  return new ApiClient(resolveEndpoint({ host: o.host, token: o.token, cacert: o.cacert, dataDir: o.dataDir }));
}

/** A name from the user as one URL path segment ("a/b" cannot reach another route). */
export const pathSegment = encodeURIComponent;
