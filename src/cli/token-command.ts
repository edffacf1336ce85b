/**
 * `typevisor token VERB`: API tokens. A new token is printed once; the daemon
 * keeps only its hash. A token can never hold more rights than the one that
 * made it (docs/auth.md).
 */
import { Command, Option } from "commander";
import { CliError } from "./cli-error.ts";
import { formatTable, print } from "./api-output.ts";
import { EXIT } from "./client/exit-codes.ts";
import { clientFor, pathSegment, verb, verbGroup, type VerbOptions } from "./daemon-verb.ts";

interface TokenView { id: string; name: string; role: string; scope: "*" | string[]; createdAt: string; expiresAt: string | null; token?: string }

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function registerTokenCommand(program: Command): void {
  const token = verbGroup(program, "token", "manage API tokens");

  verb(token, "list", "list the tokens you may see (an admin sees all)").action(async (o: VerbOptions) => {
    print(o.output, await clientFor(o).get<TokenView[]>("/v1/tokens"), (list) => formatTable(list, [
      { header: "ID", value: (t) => t.id },
      { header: "NAME", value: (t) => t.name },
      { header: "ROLE", value: (t) => t.role },
      { header: "SCOPE", value: (t) => (t.scope === "*" ? "all VMs" : t.scope) },
      { header: "EXPIRES", value: (t) => t.expiresAt ?? "never" },
    ]));
  });

  verb(token, "create", "create a token; its secret is shown once")
    .argument("<name>")
    .addOption(new Option("--role <ROLE>", "what it may do").choices(["admin", "operator", "viewer"]).makeOptionMandatory())
    .option("--scope <VMS>", "comma-separated VM names it applies to (default: all VMs)")
    .option("--expires <DURATION>", "lifetime: seconds, or with s/m/h/d (e.g. 30d)")
    .action(async (name: string, o: VerbOptions & { role: string; scope?: string; expires?: string }) => {
      const scope = o.scope === undefined || o.scope === "*" ? "*" : o.scope.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
      const body = { name, role: o.role, scope, ...(o.expires !== undefined && { expiresInSeconds: parseDuration(o.expires) }) };
      const created = await clientFor(o).post<TokenView>("/v1/tokens", body);
      print(o.output, created, (t) =>
        `${t.token}\n` +
        (process.stdout.isTTY ? `token ${t.id} (${t.role}, ${t.scope === "*" ? "all VMs" : t.scope.join(",")}): copy it now, it is not shown again\n` : ""));
    });

  verb(token, "revoke", "revoke a token and every token made with it").alias("delete").argument("<id>").action(async (id: string, o: VerbOptions) => {
    await clientFor(o).request("DELETE", `/v1/tokens/${pathSegment(id)}`);
    print(o.output, { revoked: id }, () => `token ${id}: revoked\n`);
  });
}

export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text);
  const seconds = m ? Number(m[1]) * DURATION_UNITS[m[2] || "s"] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw new CliError(`--expires is a number of seconds, or with s/m/h/d (30d), not "${text}"`, EXIT.usage);
  return seconds;
}
