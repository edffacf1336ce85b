/**
 * Where the CLI finds the daemon and how it proves who it is. Each setting
 * comes from the first of: a command-line option, an environment variable
 * (TYPEVISOR_HOST, TYPEVISOR_TOKEN, TYPEVISOR_CACERT, TYPEVISOR_DATA_DIR), the
 * config file `$XDG_CONFIG_HOME/typevisor/cli.json` ({host, token, cacert,
 * dataDir}), a default: the Unix socket `<data-dir>/api.sock`.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError } from "../cli-error.ts";

export interface ConnectionOptions { host?: string; token?: string; cacert?: string; dataDir?: string }
export type Endpoint =
  | { kind: "unix"; socketPath: string; token?: string }
  | { kind: "https"; url: URL; token?: string; ca?: Buffer };

const CONFIG_KEYS = ["host", "token", "cacert", "dataDir"] as const;

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "typevisor", "cli.json");
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TYPEVISOR_DATA_DIR || join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "typevisor");
}

export function readConfigFile(path: string): ConnectionOptions {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new CliError(`${path} must hold a JSON object`);
  const out: ConnectionOptions = {};
  for (const [k, v] of Object.entries(data)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(k)) throw new CliError(`${path}: unknown setting "${k}" (known: ${CONFIG_KEYS.join(", ")})`);
    if (typeof v !== "string") throw new CliError(`${path}: "${k}" must be a string`);
    out[k as keyof ConnectionOptions] = v;
  }
  return out;
}

export function resolveEndpoint(flags: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const file = readConfigFile(configFilePath(env));
  const pick = (key: keyof ConnectionOptions, envName: string) => flags[key] ?? (env[envName] || undefined) ?? file[key];
  const host = pick("host", "TYPEVISOR_HOST");
  const token = pick("token", "TYPEVISOR_TOKEN");
  const cacert = pick("cacert", "TYPEVISOR_CACERT");
  const dataDir = pick("dataDir", "TYPEVISOR_DATA_DIR") ?? defaultDataDir(env);
  if (host === undefined) return { kind: "unix", socketPath: join(dataDir, "api.sock"), token };
  if (host.startsWith("unix:")) return { kind: "unix", socketPath: host.slice(5), token };
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new CliError(`--host must be https://HOST:PORT or unix:PATH, not "${host}"`, 2);
  }
  if (url.protocol !== "https:") throw new CliError(`--host must use https:// (the daemon serves TCP only with TLS), not "${host}"`, 2);
  let ca: Buffer | undefined;
  if (cacert !== undefined) {
    try {
      ca = readFileSync(cacert);
    } catch (e) {
      throw new CliError(`cannot read the CA certificate ${cacert}: ${(e as Error).message}`);
    }
  }
  return { kind: "https", url, token, ca };
}
